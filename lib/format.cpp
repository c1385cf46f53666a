// lamina:portable
#include <lamina/format.h>

#include <stdint.h>

namespace lamina {

namespace {

struct Spec {
    bool left = false, zero = false, plus = false, space = false, alt = false;
    int width = 0;
    int precision = -1;
};

void pad(FormatSink& sink, char c, int n) {
    char buf[16];
    for (auto& b : buf) b = c;
    while (n > 0) {
        int k = n < 16 ? n : 16;
        sink.put(buf, size_t(k));
        n -= k;
    }
}

void emit_padded(FormatSink& sink, const Spec& spec, const char* prefix, size_t prefix_len, const char* body,
                 size_t body_len) {
    int total = int(prefix_len + body_len);
    int fill = spec.width > total ? spec.width - total : 0;
    if (!spec.left && !spec.zero) pad(sink, ' ', fill);
    if (prefix_len) sink.put(prefix, prefix_len);
    if (!spec.left && spec.zero) pad(sink, '0', fill);
    sink.put(body, body_len);
    if (spec.left) pad(sink, ' ', fill);
}

void emit_number(FormatSink& sink, Spec spec, uint64_t value, bool negative, unsigned base, bool upper,
                 const char* alt_prefix) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char body[32];
    size_t len = 0;
    char tmp[32];
    do {
        tmp[len++] = digits[value % base];
        value /= base;
    } while (value);
    for (size_t i = 0; i < len; i++) body[i] = tmp[len - 1 - i];
    char prefix[4];
    size_t plen = 0;
    if (negative)
        prefix[plen++] = '-';
    else if (spec.plus)
        prefix[plen++] = '+';
    else if (spec.space)
        prefix[plen++] = ' ';
    if (alt_prefix)
        while (*alt_prefix) prefix[plen++] = *alt_prefix++;
    emit_padded(sink, spec, prefix, plen, body, len);
}

}  // namespace

void vformat(FormatSink& sink, const char* fmt, va_list ap) {
    while (*fmt) {
        const char* start = fmt;
        while (*fmt && *fmt != '%') fmt++;
        if (fmt != start) sink.put(start, size_t(fmt - start));
        if (!*fmt) break;
        fmt++;  // '%'
        Spec spec;
        for (;; fmt++) {
            if (*fmt == '-')
                spec.left = true;
            else if (*fmt == '0')
                spec.zero = true;
            else if (*fmt == '+')
                spec.plus = true;
            else if (*fmt == ' ')
                spec.space = true;
            else if (*fmt == '#')
                spec.alt = true;
            else
                break;
        }
        if (*fmt == '*') {
            spec.width = va_arg(ap, int);
            if (spec.width < 0) spec.left = true, spec.width = -spec.width;
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9') spec.width = spec.width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            spec.precision = 0;
            if (*fmt == '*') {
                spec.precision = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9') spec.precision = spec.precision * 10 + (*fmt++ - '0');
            }
        }
        int length = 0;  // 0 int, 1 long, 2 long long, -1 short, -2 char
        for (;; fmt++) {
            if (*fmt == 'l')
                length++;
            else if (*fmt == 'h')
                length--;
            else if (*fmt == 'z' || *fmt == 't' || *fmt == 'j')
                length = 2;
            else
                break;
        }
        if (spec.left) spec.zero = false;
        char conv = *fmt;
        if (!conv) break;
        fmt++;
        auto get_signed = [&]() -> int64_t {
            if (length >= 2) return va_arg(ap, long long);
            if (length == 1) return va_arg(ap, long);
            int v = va_arg(ap, int);
            if (length == -1) return short(v);
            if (length <= -2) return static_cast<signed char>(v);
            return v;
        };
        auto get_unsigned = [&]() -> uint64_t {
            if (length >= 2) return va_arg(ap, unsigned long long);
            if (length == 1) return va_arg(ap, unsigned long);
            unsigned v = va_arg(ap, unsigned);
            if (length == -1) return static_cast<unsigned short>(v);
            if (length <= -2) return static_cast<unsigned char>(v);
            return v;
        };
        switch (conv) {
            case 'd':
            case 'i': {
                int64_t v = get_signed();
                uint64_t mag = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
                emit_number(sink, spec, mag, v < 0, 10, false, nullptr);
                break;
            }
            case 'u':
                emit_number(sink, spec, get_unsigned(), false, 10, false, nullptr);
                break;
            case 'x':
            case 'X': {
                uint64_t v = get_unsigned();
                emit_number(sink, spec, v, false, 16, conv == 'X',
                            spec.alt && v ? (conv == 'X' ? "0X" : "0x") : nullptr);
                break;
            }
            case 'o':
                emit_number(sink, spec, get_unsigned(), false, 8, false, spec.alt ? "0" : nullptr);
                break;
            case 'p': {
                auto v = reinterpret_cast<uintptr_t>(va_arg(ap, void*));
                emit_number(sink, spec, v, false, 16, false, "0x");
                break;
            }
            case 'c': {
                char c = char(va_arg(ap, int));
                spec.zero = false;
                emit_padded(sink, spec, nullptr, 0, &c, 1);
                break;
            }
            case 's': {
                const char* s = va_arg(ap, const char*);
                if (!s) s = "(null)";
                size_t n = 0;
                // With a precision the argument need not be NUL-terminated (C17 7.21.6.1): the
                // bound is checked before the byte is read.
                while ((spec.precision < 0 || n < size_t(spec.precision)) && s[n]) n++;
                spec.zero = false;
                emit_padded(sink, spec, nullptr, 0, s, n);
                break;
            }
            case '%':
                sink.put("%", 1);
                break;
            default: {
                // Unknown conversion: print it verbatim so the mistake is visible.
                char bad[2] = {'%', conv};
                sink.put(bad, 2);
                break;
            }
        }
    }
}

void format(FormatSink& sink, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vformat(sink, fmt, ap);
    va_end(ap);
}

namespace {
class BufferSink final : public FormatSink {
public:
    BufferSink(char* buf, size_t size) : buf_(buf), size_(size) {}
    void put(const char* s, size_t n) override {
        for (size_t i = 0; i < n; i++, len_++)
            if (len_ + 1 < size_) buf_[len_] = s[i];
    }
    size_t finish() {
        if (size_) buf_[len_ < size_ ? len_ : size_ - 1] = 0;
        return len_;
    }

private:
    char* buf_;
    size_t size_;
    size_t len_ = 0;
};
}  // namespace

size_t vsnformat(char* buf, size_t size, const char* fmt, va_list ap) {
    BufferSink sink(buf, size);
    vformat(sink, fmt, ap);
    return sink.finish();
}

size_t snformat(char* buf, size_t size, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = vsnformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

}  // namespace lamina
