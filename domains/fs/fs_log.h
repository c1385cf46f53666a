// lamina:portable
// Where the file-system code reports why it refused something (a corrupt structure, an
// unsupported feature, a forced read-only mount). The fs domain will send the lines to the
// kernel log; host tests collect them. A null FsLog drops them.
#pragma once

#include <stdarg.h>

namespace lamina::fs {

class FsLog {
public:
    virtual void line(const char* text) = 0;

protected:
    ~FsLog() = default;
};

// Formats one line (truncated at 255 characters) and hands it to log, if any.
[[gnu::format(printf, 2, 3)]] void log_line(FsLog* log, const char* fmt, ...);

}  // namespace lamina::fs
