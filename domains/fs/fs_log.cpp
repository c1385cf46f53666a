// lamina:portable
#include "domains/fs/fs_log.h"

#include <lamina/format.h>

namespace lamina::fs {

void log_line(FsLog* log, const char* fmt, ...) {
    if (!log) return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log->line(buf);
}

}  // namespace lamina::fs
