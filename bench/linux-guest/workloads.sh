#!/bin/sh
# The workloads of the Linux-guest baseline, run by the same busybox in the Linux guest and in
# Lamina (bench/linux-guest/run types `sh /bench/workloads.sh KEY...` on the serial console).
# Each KEY runs in its own shell under `timeout`: its untimed set-up, then the workload timed
# inside the guest with `bench_ops now` (CLOCK_MONOTONIC), and one line
#   BENCH KEY ok MICROSECONDS | BENCH KEY fail REASON | BENCH KEY na REASON
# The timing includes the two `bench_ops now` forks; the `overhead` workload measures just that.
# Inputs are under /bench (written by the image builder); scratch files go to /bench-work on
# the same ext2 disk.
W=/bench-work
LIMIT=600

wl_overhead() { :; }
wl_ash_loop() {
    i=0
    while [ $i -lt 2000 ]; do i=$((i + 1)); done
}
wl_fork_exec() {
    i=0
    while [ $i -lt 200 ]; do /bin/true; i=$((i + 1)); done
}
wl_exec_big() {
    i=0
    while [ $i -lt 20 ]; do /bench/bin/bigexec || return; i=$((i + 1)); done
}
wl_files() { /bench/bin/bench_ops files $W 10000; }
set_dd() { rm -f $W/big; }
wl_dd() { dd if=/dev/zero of=$W/big bs=1M count=64 conv=fsync; }
set_md5_cold() {
    [ -f $W/big ] || dd if=/dev/zero of=$W/big bs=1M count=64 conv=fsync 2>/dev/null
    sync
    # Both guests have drop_caches (Lamina's restarts the fs domain, whose caches they are); a
    # kernel without one gets "n/a" in the table rather than a warm read timed as a cold one.
    echo 3 2>/dev/null >/proc/sys/vm/drop_caches || { echo "na n/a (no drop_caches)"; return 1; }
}
wl_md5_cold() { md5sum $W/big; }
set_md5_warm() {
    [ -f $W/big ] || dd if=/dev/zero of=$W/big bs=1M count=64 conv=fsync 2>/dev/null
    md5sum $W/big >/dev/null
}
wl_md5_warm() { md5sum $W/big; }
wl_pipe() { dd if=/dev/zero bs=64k count=2048 | cat >/dev/null; }
set_tar_x() { rm -rf $W/src && mkdir $W/src; }
wl_tar_x() { tar xzf /bench/busybox.tar.gz -C $W/src; }
set_tree() { [ -d $W/src/busybox ] || tar xzf /bench/busybox.tar.gz -C $W/src; }
set_tar_c() { rm -f $W/src.tar.gz; set_tree; }
wl_tar_c() { tar czf $W/src.tar.gz -C $W/src busybox; }
set_find() { set_tree; }
wl_find() { find $W/src -name '*.c'; }
set_grep() { set_tree; }
wl_grep() { grep -r bb_error_msg_and_die $W/src; }
set_sort() { rm -f $W/sorted; }
wl_sort() { sort /bench/sort-input -o $W/sorted; }
wl_pingpong() { /bench/bin/bench_ops pingpong 2000; }
# The ports (ports/zstd, ports/sqlite): zstd's threads on 64 MiB, and sqlite's own benchmark.
set_zstd() {
    rm -f $W/zin.zst
    [ -f $W/zin ] || seq 1 9000000 | head -c 67108864 > $W/zin
}
wl_zstd() { zstd -T2 -q -c $W/zin > $W/zin.zst && zstd -d -q -c $W/zin.zst > /dev/null; }
set_speedtest1() { rm -f $W/st1.db $W/st1.db-journal; }
wl_speedtest1() { speedtest1 --size 10 $W/st1.db; }

# One workload, in a shell of its own (so that `timeout` can stop it).
one() {
    key=$1
    if type "set_$key" >/dev/null 2>&1; then
        sync
        if ! note=$("set_$key" 2>&1); then
            case $note in
                na\ *) echo "BENCH $key na ${note#na }" ;;
                *) echo "BENCH $key fail set-up: $(echo "$note" | head -n 1)" ;;
            esac
            return
        fi
    fi
    # PROFILE=1 (bench/linux-guest/profile, Lamina only): the workload alone under the profiler.
    [ "${PROFILE:-0}" = 1 ] && echo start 1000 > /proc/profile
    t0=$(/bench/bin/bench_ops now)
    "wl_$key" >/dev/null 2>$W/.err
    status=$?
    t1=$(/bench/bin/bench_ops now)
    [ "${PROFILE:-0}" = 1 ] && echo stop > /proc/profile
    case $t0$t1 in
        ''|*[!0-9]*) echo "BENCH $key fail the clock said '$t0' and '$t1'"; return ;;
    esac
    if [ $status -ne 0 ]; then
        echo "BENCH $key fail exit status $status: $(head -n 1 $W/.err)"
    else
        echo "BENCH $key ok $(((t1 - t0) / 1000))"
    fi
}

if [ "${1:-}" = one ]; then
    one "$2"
    exit 0
fi
mkdir -p $W/src
for key in "$@"; do
    if ! type "wl_$key" >/dev/null 2>&1; then
        echo "BENCH $key fail no such workload"
        continue
    fi
    timeout $LIMIT sh "$0" one "$key"
    status=$?
    [ $status -eq 0 ] || echo "BENCH $key fail stopped (status $status; $LIMIT s limit)"
done
rm -rf $W
echo "BENCH-END"
