// pipe(2) and pipe2(2): two new descriptors, the read end first. When the second descriptor
// cannot be installed the first is closed again (EMFILE leaves nothing behind); a fault writing
// the pair back closes both, as Linux does.
#include "kernel/posix/pipe/pipe_syscalls.h"

#include "kernel/posix/fd/open_flags.h"
#include "kernel/posix/pipe/pipe_file.h"
#include "kernel/posix/process_hooks.h"
#include "kernel/posix/user_access.h"

namespace lamina::posix {

int64_t sys_pipe2(uint64_t ufds, uint64_t flags, uint64_t, uint64_t, uint64_t, uint64_t) {
    auto err = [](const Error& e) { return -int64_t(e.code()); };
    if (flags > 0xffffffffu) return -int64_t(Errno::Inval);
    auto pair = make_pipe(uint32_t(flags));
    if (pair.is_error()) return err(pair.error());
    bool cloexec = flags & oflag::CloExec;
    auto rfd = fd_install(pair.value().read_end, cloexec);
    if (rfd.is_error()) return err(rfd.error());
    auto wfd = fd_install(pair.value().write_end, cloexec);
    if (wfd.is_error()) {
        (void)fd_close(rfd.value());
        return err(wfd.error());
    }
    int32_t fds[2] = {rfd.value(), wfd.value()};
    if (copy_to_user(ufds, fds, sizeof fds).is_error()) {
        (void)fd_close(fds[0]);
        (void)fd_close(fds[1]);
        return -int64_t(Errno::Fault);
    }
    return 0;
}

int64_t sys_pipe(uint64_t ufds, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
    return sys_pipe2(ufds, 0, 0, 0, 0, 0);
}

}  // namespace lamina::posix
