// lamina:portable
// printf-style formatting into a sink, without allocation. Shared by the kernel console, the
// panic path (which must not allocate) and domains.
//
// Supported: %d %i %u %x %X %o %p %s %c %% with flags '-', '0', ' ', '+', '#', a width (or '*'),
// a precision for strings ('.N' or '.*') and the length modifiers hh h l ll z t j.
#pragma once

#include <stdarg.h>
#include <stddef.h>

namespace lamina {

class FormatSink {
public:
    virtual void put(const char* s, size_t n) = 0;

protected:
    ~FormatSink() = default;
};

void vformat(FormatSink& sink, const char* fmt, va_list ap);
[[gnu::format(printf, 2, 3)]] void format(FormatSink& sink, const char* fmt, ...);

// Formats into buf (always NUL-terminated when size > 0). Returns the length the full output
// would have, like snprintf.
size_t vsnformat(char* buf, size_t size, const char* fmt, va_list ap);
[[gnu::format(printf, 3, 4)]] size_t snformat(char* buf, size_t size, const char* fmt, ...);

}  // namespace lamina
