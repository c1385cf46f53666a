// Shared by the fuzz harnesses (tests/fuzz/NAME.cpp, one libFuzzer target each).
//
// A harness feeds its bytes to the code under test and checks what the code promises about bad
// input beyond "no crash" (ASan and UBSan catch the crashes): a refusal comes with a reason, an
// accepted input satisfies the guarantees the header documents. A broken promise aborts with
// FUZZ_CHECK's message, which libFuzzer reports like a crash (the input is kept).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                          \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: broken promise: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
            abort();                                                                   \
        }                                                                              \
    } while (0)

namespace fuzz {

// Consumes the input from the front: fixed-size values, then the rest as one buffer. Past the
// end every value is zero, so any input is a valid script for the harness.
class Input {
public:
    Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
    size_t left() const { return static_cast<size_t>(end_ - p_); }
    bool empty() const { return p_ == end_; }
    template <typename T>
    T take() {
        T v{};
        size_t n = left() < sizeof(T) ? left() : sizeof(T);
        memcpy(&v, p_, n);
        p_ += n;
        return v;
    }
    // Up to n bytes (fewer at the end).
    const uint8_t* bytes(size_t n, size_t* got) {
        *got = left() < n ? left() : n;
        const uint8_t* b = p_;
        p_ += *got;
        return b;
    }
    const uint8_t* rest(size_t* got) { return bytes(left(), got); }
    // The next n bytes (fewer at the end) as an input of their own: a second stream, so that
    // what one consumer takes does not shift what the other sees.
    Input split(size_t n) {
        size_t got;
        const uint8_t* b = bytes(n, &got);
        return Input(b, got);
    }

private:
    const uint8_t* p_;
    const uint8_t* end_;
};

// A hostile device's DMA write: `unit` bytes (4 or 16: one field or one descriptor) from the
// input, at a unit-aligned offset inside the first `window` bytes of a region of `size`.
inline void scribble(void* base, size_t size, size_t window, size_t unit, Input& in) {
    if (size < unit) return;
    size_t at = in.take<uint16_t>() % (window < size ? window : size) & ~(unit - 1);
    if (at + unit > size) at = size - unit;
    size_t n;
    const uint8_t* v = in.bytes(unit, &n);
    memcpy(static_cast<uint8_t*>(base) + at, v, n);
}

}  // namespace fuzz
