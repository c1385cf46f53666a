// pipe(2) and pipe2(2): two new descriptors, the read end first. When the second descriptor
// cannot be installed the first is closed again (EMFILE leaves nothing behind); a fault writing
// the pair back closes both, as Linux does.
#include "kernel/posix/syscall_handlers.h"

#include "kernel/posix/fd/open_flags.h"
#include "kernel/posix/pipe/pipe_file.h"
#include "kernel/posix/process_hooks.h"
#include "kernel/posix/user_access.h"

namespace lamina::posix {

Result<void> sys_pipe2(uint64_t ufds, uint64_t flags) {
    if (flags > 0xffffffffu) return Errno::Inval;
    auto pair = TRY(make_pipe(uint32_t(flags)));
    bool cloexec = flags & oflag::CloExec;
    auto rfd = TRY(fd_install(pair.read_end, cloexec));
    auto wfd = fd_install(pair.write_end, cloexec);
    if (wfd.is_error()) {
        (void)fd_close(rfd);
        return wfd.error();
    }
    int32_t fds[2] = {rfd, wfd.value()};
    if (copy_to_user(ufds, fds, sizeof fds).is_error()) {
        (void)fd_close(fds[0]);
        (void)fd_close(fds[1]);
        return Errno::Fault;
    }
    return {};
}

Result<void> sys_pipe(uint64_t ufds) { return sys_pipe2(ufds, 0); }

}  // namespace lamina::posix
