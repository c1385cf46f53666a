# Sourced by bench/linux-guest/run and profile: the guests' common QEMU command line, Lamina's
# domain modules, and waiting on a serial log. Needs builddir, accel and here set; web_port,
# when set, is forwarded from 127.0.0.1 to the guest's port 80; tap_if, when set, replaces the
# user network with that tap device (bench/linux-guest/tap_http, inside a private namespace).
. images/profile.sh
qemu_common() {
    if [ -n "${tap_if:-}" ]; then netdev="tap,id=n0,ifname=$tap_if,script=no,downscript=no"
    else netdev="user,id=n0,restrict=on${web_port:+,hostfwd=tcp:127.0.0.1:$web_port-:80}"; fi
    set -- qemu-system-x86_64 -machine q35 -m 1G -smp 2 -nodefaults -display none -no-reboot \
        -serial stdio -bios /usr/share/qemu/qboot.rom \
        -drive "file=$1,if=none,id=nvm,format=raw,snapshot=on" -device nvme,serial=bench,drive=nvm \
        -netdev "$netdev" \
        -device virtio-net-pci,netdev=n0,disable-legacy=on,romfile=
    if [ "$accel" = kvm ]; then set -- "$@" -accel kvm -cpu host,-arch-capabilities
    else set -- "$@" -accel tcg -cpu max; fi
    echo "$@"
}
lamina_modules=
for pkg in $(profile_values images/profiles/default package); do
    lamina_modules="${lamina_modules:+$lamina_modules,}$builddir/packages/$pkg.dom $pkg"
done
for f in "$builddir/kernel/lamina.elf" "$builddir/packages/nvme.dom" "$builddir/packages/fs.dom"; do
    [ -f "$f" ] || { echo "linux-guest/run: $f is not built" >&2; exit 1; }
done

now_ns() { date +%s%N; }
# wait_for LOG TEXT SECONDS: until LOG holds TEXT; fails if QEMU ends or time runs out.
wait_for() {
    deadline=$(($(now_ns) + $3 * 1000000000))
    while ! tr -d '\r' < "$1" | grep -qF -- "$2"; do
        kill -0 "$qpid" 2>/dev/null || return 1
        [ "$(now_ns)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}
# boot_lamina LOG FIFO: starts Lamina as the baseline does (KERNEL=PATH: another kernel ELF), its
# console on FIFO (opened as fd 3) and LOG; returns once the shell prompts.
boot_lamina() {
    rm -f "$2"
    mkfifo "$2"
    exec 3<>"$2"
    : > "$1"
    $(qemu_common "$out/lamina.img") -kernel "${KERNEL:-$builddir/kernel/lamina.elf}" -initrd "$lamina_modules" \
        -append "$(profile_value images/profiles/default cmdline "console=ttyS0 init=/sbin/init")" \
        < "$2" >> "$1" 2>&1 &
    qpid=$!
    wait_for "$1" ':~# ' 600
}
# poweroff_lamina: powers the guest off and waits up to 30 s for QEMU to end.
poweroff_lamina() {
    printf 'poweroff\r' >&3
    i=0
    while kill -0 "$qpid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
}
stop_qemu() {
    [ -n "$qpid" ] || return 0
    kill "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
    qpid=
}
