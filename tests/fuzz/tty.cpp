// The tty line discipline (kernel/posix/tty) driven by a hostile script: bytes from the serial
// port (what anyone at the console types), reads, writes, termios settings and ioctls, in any
// order. Reads never hand out more than asked or than readable_bytes() promised.
#include "tests/fuzz/fuzz.h"

#include "kernel/posix/tty/line_discipline.h"

using namespace lamina;
using namespace lamina::posix;

namespace {

struct Sink final : TtySink {
    size_t bytes = 0;
    void tty_output(const uint8_t* data, size_t n) override {
        FUZZ_CHECK(data != nullptr || n == 0, "output without bytes");
        // Touch every byte so ASan sees an output buffer read out of bounds.
        for (size_t i = 0; i < n; i++) bytes += data[i] == 0xff;
    }
};

struct Signals final : TtySignals {
    void signal_pgrp(int pgrp, int sig) override {
        FUZZ_CHECK(pgrp > 0 && sig > 0 && sig < 65, "signal %d to group %d", sig, pgrp);
    }
};

const uint32_t IOCTLS[] = {tc::TcGets,    tc::TcSets,     tc::TcSetsW,    tc::TcSetsF,  tc::TiocGPgrp,
                           tc::TiocSPgrp, tc::TiocGWinSz, tc::TiocSWinSz, tc::TiocGSid, tc::FionRead};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in(data, size);
    Sink sink;
    Signals signals;
    LineDiscipline ld(sink, signals);
    uint8_t buf[8192];
    while (!in.empty()) {
        uint8_t op = in.take<uint8_t>();
        uint8_t len = in.take<uint8_t>();
        size_t got;
        const uint8_t* bytes = in.bytes(op & 0x80 ? len * 32u : len, &got);  // sometimes long runs
        switch (op % 6) {
            case 0:
                ld.input(bytes, got);
                break;
            case 1: {
                size_t want = len == 0 ? 0 : (size_t{len} * 37) % sizeof buf;
                size_t ready = ld.readable_bytes();
                Result<TtyRead> r = ld.read(buf, want, op & 0x40, op & 0x20);
                if (r.is_ok() && r.value().status == TtyReadStatus::Done) {
                    FUZZ_CHECK(r.value().bytes <= want, "read %zu of %zu bytes", r.value().bytes, want);
                    FUZZ_CHECK(r.value().bytes <= ready, "read %zu, but only %zu were readable", r.value().bytes,
                               ready);
                }
                break;
            }
            case 2:
                FUZZ_CHECK(ld.write(bytes, got) == got, "a short write");
                break;
            case 3: {
                KernelTermios t{};
                memcpy(&t, bytes, got < sizeof t ? got : sizeof t);
                ld.set_termios(t);
                break;
            }
            case 4: {
                // The syscall layer hands a kernel copy as large as the command's argument.
                alignas(8) uint8_t arg[64] = {};
                memcpy(arg, bytes, got < sizeof arg ? got : sizeof arg);
                uint32_t cmd = len < 200 ? IOCTLS[len % (sizeof IOCTLS / sizeof IOCTLS[0])] : 0x5400u + len;
                (void)ld.ioctl(cmd, arg);
                break;
            }
            case 5:
                if (len & 1)
                    ld.flush_input();
                else
                    ld.set_session(len);
                break;
        }
        // What poll() reports against what read() would find.
        const KernelTermios& t = ld.termios();
        if (t.c_lflag & tc::ICanon)
            FUZZ_CHECK(ld.readable_bytes() == 0 || ld.read_ready(), "a whole line that poll does not see");
        else
            FUZZ_CHECK(
                ld.read_ready() == (ld.readable_bytes() > 0 || (t.c_cc[tc::VMin] == 0 && t.c_cc[tc::VTime] == 0)),
                "read_ready disagrees with the read queue");
    }
    return 0;
}
