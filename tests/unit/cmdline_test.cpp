#include "kernel/boot/cmdline.h"

#include <gtest/gtest.h>

#include <string>

using lamina::boot::CommandLine;

TEST(CommandLine, FlagsAndValues) {
    CommandLine c;
    c.parse("  console=ttyS0 ktest  loglevel=7 verbose ");
    EXPECT_EQ(c.count(), 4u);
    EXPECT_TRUE(c.has("ktest"));
    EXPECT_TRUE(c.has("console"));
    EXPECT_FALSE(c.has("kt"));
    EXPECT_STREQ(c.get("console"), "ttyS0");
    EXPECT_EQ(c.get("ktest"), nullptr);
    EXPECT_EQ(c.get_number("loglevel", 3), 7u);
    EXPECT_EQ(c.get_number("missing", 3), 3u);
    EXPECT_STREQ(c.get_or("root", "nvme0p2"), "nvme0p2");
}

TEST(CommandLine, LastValueWinsAndQuotes) {
    CommandLine c;
    c.parse("init=/sbin/init init=\"/bin/sh -l\" empty=");
    EXPECT_STREQ(c.get("init"), "/bin/sh -l");
    EXPECT_STREQ(c.get("empty"), "");
    EXPECT_EQ(c.get_number("empty", 9), 9u);
}

TEST(CommandLine, Numbers) {
    CommandLine c;
    c.parse("a=0x1F b=12x c=18446744073709551616 d=0x");
    EXPECT_EQ(c.get_number("a", 0), 31u);
    EXPECT_EQ(c.get_number("b", 5), 5u);  // malformed
    EXPECT_EQ(c.get_number("c", 5), 5u);  // overflow
    EXPECT_EQ(c.get_number("d", 5), 5u);
}

TEST(CommandLine, TooManyWordsAreCountedNotStored) {
    std::string text;
    for (int i = 0; i < 70; i++) text += "w" + std::to_string(i) + " ";
    CommandLine c;
    c.parse(text.c_str());
    EXPECT_EQ(c.count(), CommandLine::MAX_ARGS);
    EXPECT_EQ(c.dropped(), 70 - CommandLine::MAX_ARGS);
}

TEST(CommandLine, OverlongTextIsCut) {
    std::string text(5000, 'x');
    CommandLine c;
    c.parse(text.c_str());
    EXPECT_EQ(c.count(), 1u);
    EXPECT_EQ(std::string(c.key(0)).size(), CommandLine::MAX_TEXT - 1);
}
