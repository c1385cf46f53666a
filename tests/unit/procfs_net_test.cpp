// /proc/net/dev's text (posix::format_net_dev): Linux's layout, which busybox ifconfig and
// netstat parse: two header lines naming the columns, then "NAME: 16 numbers" per interface.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "kernel/posix/fs/procfs.h"

using namespace lamina;

namespace {

std::string text_of(const posix::NetDevRow* rows, size_t n) {
    posix::ProcText out;
    posix::format_net_dev(out, rows, n);
    EXPECT_FALSE(out.failed());
    return std::string(out.data() ? out.data() : "", out.size());
}

TEST(ProcNetDev, HeaderNamesTheColumnsReadersLookFor) {
    std::string t = text_of(nullptr, 0);
    size_t eol = t.find('\n');
    ASSERT_NE(eol, std::string::npos);
    std::string second = t.substr(eol + 1);
    // busybox tells the column set by these words in the second line.
    EXPECT_NE(second.find("compressed"), std::string::npos);
    EXPECT_NE(second.find("bytes"), std::string::npos);
    EXPECT_NE(second.find("multicast|"), std::string::npos);
    EXPECT_EQ(std::count(t.begin(), t.end(), '\n'), 2);
}

TEST(ProcNetDev, EachInterfaceParsesBackToItsCounters) {
    posix::NetDevRow rows[2] = {};
    std::strcpy(rows[0].name, "lo");
    std::strcpy(rows[1].name, "eth0");
    rows[1] = {"eth0", 123456789012ull, 1000, 3, 4, 98765, 2000, 5, 6};
    std::string t = text_of(rows, 2);
    // Skip the header as readers do, then scan each line the way busybox's ifconfig does.
    size_t at = t.find('\n', t.find('\n') + 1) + 1;
    unsigned long long v[16];
    char name[16];
    int got = std::sscanf(t.c_str() + at,
                          " %15[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                          name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11],
                          &v[12], &v[13], &v[14], &v[15]);
    ASSERT_EQ(got, 17);
    EXPECT_STREQ(name, "lo");
    for (unsigned long long x : v) EXPECT_EQ(x, 0u);
    at = t.find('\n', at) + 1;
    got = std::sscanf(t.c_str() + at,
                      " %15[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", name,
                      &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12],
                      &v[13], &v[14], &v[15]);
    ASSERT_EQ(got, 17);
    EXPECT_STREQ(name, "eth0");
    EXPECT_EQ(v[0], 123456789012ull);  // rx bytes
    EXPECT_EQ(v[1], 1000u);            // rx packets
    EXPECT_EQ(v[2], 3u);               // rx errs
    EXPECT_EQ(v[3], 4u);               // rx drop
    EXPECT_EQ(v[8], 98765u);           // tx bytes
    EXPECT_EQ(v[9], 2000u);            // tx packets
    EXPECT_EQ(v[10], 5u);              // tx errs
    EXPECT_EQ(v[11], 6u);              // tx drop
    EXPECT_EQ(t.find('\n', at) + 1, t.size());
}

}  // namespace
