#!/bin/sh
# The soak's workload, run inside Lamina as init by tests/soak/run: `sh /soak.sh SECONDS SEED`.
#
# For SECONDS: writes files of random size from /dev/urandom, syncs, renames them into place and
# syncs again, then acknowledges each with its checksum ("soak: ack FILE MD5"); lists and
# re-reads earlier files; runs pipelines. Meanwhile a second loop injects a fault of a random
# kind into a random domain every 1-4 s. A command that fails is counted as a visible error
# ("soak: visible ..."), never hidden. At the end: every acknowledged file is read back and
# compared, /proc/domains is printed, and init exits (which ends QEMU).
secs=${1:-60}
RANDOM=${2:-1}
mkdir -p /soak
echo "soak: memfree before $(grep MemFree /proc/meminfo | awk '{print $2}') kB"

inject() {
    domains="nvme fs virtio_net net"
    kinds="panic null ud div0 stack"
    while :; do
        sleep $((1 + RANDOM % 4))
        set -- $domains; shift $((RANDOM % 4)); d=$1
        set -- $kinds; shift $((RANDOM % 5)); k=$1
        if domctl inject "$d" "$k" >/dev/null 2>&1; then
            echo "soak: inject $d $k"
        else
            echo "soak: inject $d $k refused"
        fi
    done
}
inject &
injector=$!

end=$(($(date +%s) + secs))
i=0 visible=0
while [ "$(date +%s)" -lt "$end" ]; do
    i=$((i + 1))
    n=$((RANDOM % 40))
    f=/soak/f$n
    if dd if=/dev/urandom of="$f.new" bs=4096 count=$((1 + RANDOM % 32)) 2>/dev/null &&
        sum=$(md5sum < "$f.new" | cut -c1-32) && sync && mv "$f.new" "$f" && sync; then
        eval "sum_$n=$sum"
        echo "soak: ack $f $sum"
    else
        visible=$((visible + 1))
        echo "soak: visible error writing $f (round $i)"
        rm -f "$f.new"
    fi
    if ! ls -l /soak > /dev/null || ! cat /soak/* 2>/dev/null | wc -c > /dev/null; then
        visible=$((visible + 1))
        echo "soak: visible error listing or reading /soak (round $i)"
    fi
    [ "$(seq 1 200 | sort -rn | head -1)" = 200 ] || { visible=$((visible + 1)); echo "soak: visible error in a pipeline"; }
done
kill "$injector"
wait "$injector" 2>/dev/null
sleep 3  # a restart under way finishes
echo "soak: rounds $i, visible errors $visible"

# The last acknowledgement of each file is what it must hold.
ok=0 bad=0 n=0
while [ "$n" -lt 40 ]; do
    eval "want=\${sum_$n:-}"
    if [ -n "$want" ]; then
        got=$(md5sum < /soak/f$n | cut -c1-32)
        if [ "$got" = "$want" ]; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "soak: /soak/f$n reads $got, acknowledged $want"; fi
    fi
    n=$((n + 1))
done
echo "soak: verified $ok files, $bad mismatched"
echo "soak: memfree after $(grep MemFree /proc/meminfo | awk '{print $2}') kB"
grep -v '^#' /proc/domains | sed 's/^/soak: domain /'
echo "soak: done"
