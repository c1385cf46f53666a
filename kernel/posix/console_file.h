// The serial console as a file object (/dev/console, /dev/tty, and fds 0-2 of init): a
// minimal stand-in until the tty layer's line discipline takes over. Reads poll the UART,
// echo, and return at the end of a line or when the buffer is full; writes go straight out;
// TIOCGWINSZ answers 0 rows x 0 columns as Linux's serial console does (which tells musl
// this is a terminal); other ioctls are ENOTTY.
#pragma once

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/vfs/mount.h"

namespace lamina::posix {

Result<RefPtr<FileObject>> open_console(uint32_t rdev, const Location& loc, uint32_t oflags);

}  // namespace lamina::posix
