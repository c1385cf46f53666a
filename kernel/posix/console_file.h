// The serial console as a file object (/dev/console, /dev/tty, and fds 0-2 of init): each open
// is a small object that remembers the name it was opened by (for fstat, fchmod...) and passes
// everything else to the console tty (kernel/posix/tty/console.h). NoDev before the tty exists.
#pragma once

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/vfs/mount.h"

namespace lamina::posix {

Result<RefPtr<FileObject>> open_console(uint32_t rdev, const Location& loc, uint32_t oflags);

}  // namespace lamina::posix
