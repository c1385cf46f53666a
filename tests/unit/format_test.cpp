#include <lamina/format.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace {

template <typename... Args>
std::string fmt(const char* f, Args... args) {
    char buf[256];
    lamina::snformat(buf, sizeof(buf), f, args...);
    return buf;
}

// Compares against the host's printf for the same format: our formatter follows C semantics.
template <typename... Args>
void expect_like_printf(const char* f, Args... args) {
    char want[256];
    std::snprintf(want, sizeof(want), f, args...);
    EXPECT_EQ(fmt(f, args...), want) << "format: " << f;
}

TEST(Format, Integers) {
    expect_like_printf("%d %i %u", -42, 7, 42u);
    expect_like_printf("%ld %lu %lld %llu", -1l, ~0ul, -9223372036854775807ll - 1, ~0ull);
    expect_like_printf("%x %X %#x %#X %o %#o", 255u, 255u, 255u, 255u, 8u, 8u);
    expect_like_printf("%hhd %hd %hhu %hu", 300, 70000, 300, 70000);
    expect_like_printf("%zu %zx", size_t(12345), size_t(0xabc));
    expect_like_printf("%#x", 0u);
}

TEST(Format, WidthPrecisionFlags) {
    expect_like_printf("[%5d] [%-5d] [%05d] [%+d] [% d]", 42, 42, 42, 42, 42);
    expect_like_printf("[%016lx] [%-8s] [%8s] [%.3s] [%*d] [%-*d]", 0xdeadbeeful, "ab", "ab", "abcdef", 6, 1, 6, 1);
    expect_like_printf("[%05d]", -42);
    expect_like_printf("[%c] [%3c] [%%]", 'x', 'y');
    expect_like_printf("[%.*s]", 2, "hello");
}

TEST(Format, NullStringAndPointer) {
    const char* volatile null_string = nullptr;  // volatile: keep the compiler from judging it
    EXPECT_EQ(fmt("%s", null_string), "(null)");
    EXPECT_EQ(fmt("%p", reinterpret_cast<void*>(0x1234)), "0x1234");
}

TEST(Format, TruncatesAndReportsFullLength) {
    char buf[8];
    size_t n = lamina::snformat(buf, sizeof(buf), "%s-%d", "abcdef", 12345);
    EXPECT_EQ(n, 12u);
    EXPECT_STREQ(buf, "abcdef-");
    EXPECT_EQ(lamina::snformat(nullptr, 0, "%d", 1234), 4u);
}

TEST(Format, UnknownConversionIsVisible) { EXPECT_EQ(fmt("a%qb"), "a%qb"); }

}  // namespace
