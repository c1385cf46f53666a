#!/bin/sh
# The soak's workload, run inside Lamina as init by tests/soak/run:
#
#   sh /soak.sh SECONDS SEED FAULTS INTERVAL WEB [DOMAINS [KINDS]]
#
# SECONDS bounds the run; FAULTS (0: no limit) ends it earlier, once that many faults were
# injected; INTERVAL is the pause between two faults, MIN-MAX milliseconds; WEB=1 starts nginx
# on port 80 serving files the host fetches and checks (tests/soak/run) during the faults;
# DOMAINS (default nvme,fs,virtio_net,net) are the domains faults go into, KINDS (default
# panic,null,ud,div0,stack,loop) the kinds of fault.
#
# Writes files of random size from /dev/urandom, syncs, renames them into place and syncs
# again, then acknowledges each with its checksum ("soak: ack FILE MD5"); lists and re-reads
# earlier files; runs pipelines and fork/exec. Meanwhile a second loop injects a fault of a
# random kind into a random domain. A command that fails is counted as a visible error
# ("soak: visible ..."), never hidden. Page counters are read before and after with every
# domain freshly restarted and the caches dropped ("settle" below), so that what a domain
# holds does not count; at the end every acknowledged file is read back and compared,
# /proc/domains is printed, and init exits (which ends QEMU).
secs=${1:-60}
RANDOM=${2:-1}
faults=${3:-0}
interval=${4:-1000-4000}
web=${5:-0}
targets=$(echo "${6:-nvme,fs,virtio_net,net}" | tr , ' ')
kinds=$(echo "${7:-panic,null,ud,div0,stack,loop}" | tr , ' ')
crashes=$(echo " $kinds " | sed 's/ loop / /g; s/^ *//; s/ *$//')
case " $kinds " in *" loop "*) hangs=1 ;; *) hangs=0 ;; esac
imin=${interval%-*} imax=${interval#*-}
mkdir -p /soak /var/log/nginx /var/run
rm -f /tmp/soak.*

# Every domain restarted (drop_caches restarts fs cleanly after it writes back; the drivers are
# crashed, as `domctl restart` cannot yet hand a device over to the fresh instance) and the free
# page count once it stopped moving: the same state before and after the faults.
running() {
    tries=0
    while grep -v '^#' /proc/domains | grep -qv 'state=running' && [ "$tries" -lt 60 ]; do
        sleep 0.5
        tries=$((tries + 1))
    done
}
restarts() { sed -n "s/.* name=$1 .* restarts=\([0-9]*\) .*/\1/p" /proc/domains; }
settle() {
    for d in nvme virtio_net; do
        was=$(restarts "$d")
        domctl inject "$d" > /dev/null || echo "soak: could not restart $d"
        tries=0
        while [ "$(restarts "$d")" = "$was" ] && [ "$tries" -lt 60 ]; do sleep 0.2; tries=$((tries + 1)); done
        running
    done
    domctl restart net > /dev/null || echo "soak: could not restart net"
    echo 3 > /proc/sys/vm/drop_caches || echo "soak: could not drop the caches"
    running
    prev=0 now=1 tries=0
    while [ "$now" != "$prev" ] && [ "$tries" -lt 20 ]; do
        sleep 0.5
        prev=$now
        now=$(sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo)
        tries=$((tries + 1))
    done
    echo "$now"
}

# The files the host fetches over HTTP: written once, acknowledged, never changed.
if [ "$web" = 1 ]; then
    mkdir -p /www/soak
    k=0
    while [ "$k" -lt 8 ]; do
        dd if=/dev/urandom of=/www/soak/w$k.bin bs=1024 count=$((1 + RANDOM % 64)) 2>/dev/null
        k=$((k + 1))
    done
    sync
    for f in /www/soak/w*.bin; do echo "soak: ack $f $(md5sum < "$f" | cut -c1-32)"; done
fi

# nginx starts after the count and has stopped before the next one.
echo "soak: pages before $(($(settle) / 4))"
grep -v '^#' /proc/domains | sed 's/^/soak: before /'
if [ "$web" = 1 ]; then
    if nginx; then echo "soak: serving"; else echo "soak: nginx did not start"; fi
fi

# While the fs domain restarts, starting a program can fail (its file cannot be read): the
# loops use the shell's builtins and /proc (which needs no domain) for what must not fail.
now_cs() {
    read -r up _ < /proc/uptime
    echo "${up%.*}${up#*.}"
}
# Sleeps MS milliseconds: sleep(1) when it can be started, else a wait on the uptime.
pause() {
    sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" 2> /dev/null && return
    until_cs=$(($(now_cs) + $1 / 10))
    while [ "$(now_cs)" -lt "$until_cs" ]; do :; done
}

# Each domain's manifest bounds its restarts (fs and net: 20 within 60 s, nvme and virtio_net:
# 100; past that the kernel gives the domain up): a domain takes a fault at most every 4.5 s
# (fs, net) or 0.8 s (the drivers), whatever the interval, and the next fault goes to a domain
# whose turn has come.
inject() {
    n=0 next_nvme=0 next_fs=0 next_virtio_net=0 next_net=0
    while [ "$faults" = 0 ] || [ "$n" -lt "$faults" ]; do
        pause $((imin + RANDOM % (imax - imin + 1)))
        now=$(now_cs)
        set --
        for d in $targets; do
            eval "[ \$next_$d -le $now ]" && set -- "$@" "$d"
        done
        [ $# = 0 ] && continue
        shift $((RANDOM % $#)); d=$1
        case $d in fs | net) eval "next_$d=$((now + 450))" ;; *) eval "next_$d=$((now + 80))" ;; esac
        # A hang (loop) costs the watchdog's timeout: one fault in twelve when it is a kind.
        k=loop
        if [ -n "$crashes" ] && { [ "$hangs" = 0 ] || [ $((RANDOM % 12)) != 0 ]; }; then
            set -- $crashes; shift $((RANDOM % $#)); k=$1
        fi
        [ "$k" = loop ] && [ "$hangs" = 0 ] && continue
        # /proc/domctl refuses a domain that is restarting (domctl's own command, without exec).
        if echo "inject $d $k" 2> /dev/null > /proc/domctl; then
            n=$((n + 1))
            echo "soak: inject $d $k"
        else
            echo "soak: inject $d $k refused"
        fi
    done
    : > /tmp/soak.injected
}
inject &
injector=$!

# The workload runs in a subshell, so that what the shell allocates for it is given back
# before the pages are counted again; it leaves the last acknowledged sums in /tmp.
(
    end=$(($(now_cs) + secs * 100))
    i=0 visible=0
    while [ "$(now_cs)" -lt "$end" ] && [ ! -e /tmp/soak.injected ]; do
        i=$((i + 1))
        n=$((RANDOM % 40))
        f=/soak/f$n
        # Acknowledged only once fsync said the data and then the rename are on the disk. The
        # data is fsync'd through the descriptor that wrote it (dd conv=fsync), as POSIX has it:
        # sync(2) cannot report a failure, and an fsync through a descriptor opened after an fs
        # restart threw unwritten data away reports nothing either (RELIABILITY.md).
        # A rename (or the fsync after it) that failed may still have happened: the file may then
        # hold that content instead of the acknowledged one (logged with the error, allowed).
        sum=
        if dd if=/dev/urandom of="$f.new" bs=4096 count=$((1 + RANDOM % 32)) conv=fsync 2>/dev/null &&
            sum=$(md5sum < "$f.new" | cut -c1-32) && mv "$f.new" "$f" && fsync /soak; then
            eval "sum_$n=$sum try_$n="
            echo "soak: ack $f $sum"
        else
            visible=$((visible + 1))
            echo "soak: visible error writing $f (round $i${sum:+, content $sum})"
            [ -n "$sum" ] && eval "try_$n=\"\${try_$n:-} $sum\""
            rm -f "$f.new"
        fi
        if ! ls -l /soak > /dev/null || ! cat /soak/* 2>/dev/null | wc -c > /dev/null; then
            visible=$((visible + 1))
            echo "soak: visible error listing or reading /soak (round $i)"
        fi
        [ "$(seq 1 200 | sort -rn | head -1)" = 200 ] ||
            { visible=$((visible + 1)); echo "soak: visible error in a pipeline (round $i)"; }
        [ "$(sh -c 'echo $((6 * 7))')" = 42 ] ||
            { visible=$((visible + 1)); echo "soak: visible error running a program (round $i)"; }
    done
    echo "soak: rounds $i, visible errors $visible"
    n=0
    while [ "$n" -lt 40 ]; do
        eval "echo \"sum_$n=\${sum_$n:-}; try_$n='\${try_$n:-}'\""
        n=$((n + 1))
    done > /tmp/soak.sums
)
[ -e /tmp/soak.injected ] || kill "$injector"
wait "$injector" 2>/dev/null
echo "soak: injecting done"
# A restart under way finishes: every domain is running again.
running
grep -v '^#' /proc/domains | sed 's/^/soak: after /'

# The host's load stops and asks for /soak-done when it has seen "injecting done".
if [ "$web" = 1 ]; then
    tries=0
    until grep -q 'GET /soak-done' /var/log/nginx/access.log 2>/dev/null || [ "$tries" -ge 600 ]; do
        sleep 0.5
        tries=$((tries + 1))
    done
    [ "$tries" -ge 600 ] && echo "soak: the host never said it was done"
    nginx -s stop
    tries=0
    while [ -e /var/run/nginx.pid ] && [ "$tries" -lt 60 ]; do sleep 0.5; tries=$((tries + 1)); done
fi

echo "soak: pages after $(($(settle) / 4))"

# The last acknowledgement of each file is what it must hold.
. /tmp/soak.sums
ok=0 bad=0 later=0 n=0
while [ "$n" -lt 40 ]; do
    eval "want=\${sum_$n:-} tried=\${try_$n:-}"
    if [ -n "$want" ]; then
        got=$(md5sum < /soak/f$n | cut -c1-32)
        if [ "$got" = "$want" ]; then
            ok=$((ok + 1))
        else
            case " $tried " in
            *" $got "*) later=$((later + 1)); echo "soak: /soak/f$n holds a later write that failed visibly" ;;
            *) bad=$((bad + 1)); echo "soak: /soak/f$n reads $got, acknowledged $want" ;;
            esac
        fi
    fi
    n=$((n + 1))
done
echo "soak: verified $ok files, $later with a failed later write, $bad mismatched"
echo "soak: done"
