#include <lamina/string_view.h>

#include <gtest/gtest.h>

namespace lamina {
namespace {

static_assert(StringView("abc").length() == 3);
static_assert(StringView("key=value").find('=') == 3u);
static_assert(StringView("0x1f").to_uint() == 31u);

TEST(StringView, LengthsAndComparison) {
    StringView empty;
    EXPECT_TRUE(empty.is_empty());
    EXPECT_EQ(StringView(nullptr), empty);
    StringView s("hello world");
    EXPECT_EQ(s.length(), 11u);
    EXPECT_EQ(s, "hello world");
    EXPECT_NE(s, "hello");
    EXPECT_EQ(StringView("hello world", 5), "hello");
    EXPECT_TRUE(s.starts_with("hello"));
    EXPECT_FALSE(s.starts_with("world"));
    EXPECT_TRUE(s.ends_with("world"));
    EXPECT_TRUE(s.ends_with(""));
    EXPECT_FALSE(StringView("ld").ends_with("world"));
}

TEST(StringView, Substrings) {
    StringView s("abcdef");
    EXPECT_EQ(s.substring(2), "cdef");
    EXPECT_EQ(s.substring(2, 3), "cde");
    EXPECT_EQ(s.substring(6), "");
    EXPECT_EQ(s[5], 'f');
}

TEST(StringView, Searching) {
    StringView s("a/b/c");
    EXPECT_EQ(s.find('/'), 1u);
    EXPECT_EQ(s.find('/', 2), 3u);
    EXPECT_EQ(s.find_last('/'), 3u);
    EXPECT_FALSE(s.find('x'));
    EXPECT_FALSE(s.find_last('x'));
    EXPECT_EQ(s.find("b/c"), 2u);
    EXPECT_FALSE(s.find("c/"));
    EXPECT_FALSE(StringView("ab").find("abc"));
    EXPECT_TRUE(s.contains('c'));
    EXPECT_TRUE(s.contains("/b"));
}

TEST(StringView, TrimmedAndSplit) {
    EXPECT_EQ(StringView(" \t x y \r\n").trimmed(), "x y");
    EXPECT_EQ(StringView("   ").trimmed(), "");
    StringView rest("one,two,,three");
    EXPECT_EQ(rest.split_first(','), "one");
    EXPECT_EQ(rest.split_first(','), "two");
    EXPECT_EQ(rest.split_first(','), "");
    EXPECT_EQ(rest.split_first(','), "three");
    EXPECT_TRUE(rest.is_empty());
}

TEST(StringView, Numbers) {
    EXPECT_EQ(StringView("0").to_uint(), 0u);
    EXPECT_EQ(StringView("4096").to_uint(), 4096u);
    EXPECT_EQ(StringView("0xFFff").to_uint(), 0xffffu);
    EXPECT_EQ(StringView("18446744073709551615").to_uint(), UINT64_MAX);
    EXPECT_FALSE(StringView("18446744073709551616").to_uint());  // overflows
    EXPECT_FALSE(StringView("").to_uint());
    EXPECT_FALSE(StringView("0x").to_uint());
    EXPECT_FALSE(StringView("12a").to_uint());
    EXPECT_FALSE(StringView("-1").to_uint());
}

TEST(StringViewDeathTest, OutOfRangeAsserts) {
    StringView s("abc");
    EXPECT_DEATH((void)s[3], "assertion failed");
    EXPECT_DEATH((void)s.substring(4), "assertion failed");
    EXPECT_DEATH((void)s.substring(1, 3), "assertion failed");
}

}  // namespace
}  // namespace lamina
