// struct sockaddr_un parsing and formatting (kernel/posix/net/unix_address.h) against what
// Linux's af_unix accepts and reports, checked with the host's own struct sockaddr_un.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include "kernel/posix/net/unix_address.h"

namespace lamina::posix::net {
namespace {

socklen_t path_addr(sockaddr_un& a, const char* path) {
    std::memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path, sizeof a.sun_path);
    return socklen_t(offsetof(sockaddr_un, sun_path) + std::strlen(path) + 1);
}

const uint8_t* bytes(const sockaddr_un& a) { return reinterpret_cast<const uint8_t*>(&a); }

TEST(UnixAddress, LayoutIsLinuxs) {
    EXPECT_EQ(SUN_PATH_OFFSET, offsetof(sockaddr_un, sun_path));
    EXPECT_EQ(SOCKADDR_UN_SIZE, sizeof(sockaddr_un));
}

TEST(UnixAddress, PathIsCutAtItsNul) {
    sockaddr_un a;
    socklen_t len = path_addr(a, "/tmp/s");
    auto r = parse_unix_address(bytes(a), len);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().kind, UnixAddress::Path);
    EXPECT_STREQ(r.value().name, "/tmp/s");
    // A length past the NUL (sizeof the whole struct, as many programs pass) is the same path.
    auto whole = parse_unix_address(bytes(a), sizeof a);
    ASSERT_TRUE(whole.is_ok());
    EXPECT_EQ(whole.value().len, 6u);
}

TEST(UnixAddress, PathWithoutNulEndsAtTheLength) {
    sockaddr_un a;
    std::memset(&a, 'x', sizeof a);
    a.sun_family = AF_UNIX;
    auto r = parse_unix_address(bytes(a), sizeof a);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().len, SUN_PATH_MAX);
    EXPECT_EQ(r.value().name[SUN_PATH_MAX], 0);
    uint8_t out[SOCKADDR_UN_SIZE];
    EXPECT_EQ(format_unix_address(r.value(), out), SOCKADDR_UN_SIZE);
}

TEST(UnixAddress, AbstractNamesKeepEveryByte) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, "\0ab\0c", 5);
    socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + 5);
    auto r = parse_unix_address(bytes(a), len);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().kind, UnixAddress::Abstract);
    EXPECT_EQ(r.value().len, 4u);
    EXPECT_EQ(std::memcmp(r.value().name, "ab\0c", 4), 0);
    uint8_t out[SOCKADDR_UN_SIZE];
    ASSERT_EQ(format_unix_address(r.value(), out), len);
    EXPECT_EQ(std::memcmp(out, &a, len), 0);

    UnixAddress shorter = r.value();
    shorter.len = 3;
    EXPECT_TRUE(r.value().same_abstract(r.value()));
    EXPECT_FALSE(r.value().same_abstract(shorter));
}

TEST(UnixAddress, FamilyAloneIsUnnamed) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    auto r = parse_unix_address(bytes(a), sizeof(sa_family_t));
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().kind, UnixAddress::Unnamed);
    uint8_t out[SOCKADDR_UN_SIZE];
    EXPECT_EQ(format_unix_address(r.value(), out), sizeof(sa_family_t));
}

TEST(UnixAddress, FormattedPathCarriesItsNul) {
    sockaddr_un a;
    socklen_t len = path_addr(a, "/run/log");
    auto r = parse_unix_address(bytes(a), len);
    ASSERT_TRUE(r.is_ok());
    uint8_t out[SOCKADDR_UN_SIZE];
    ASSERT_EQ(format_unix_address(r.value(), out), len);
    EXPECT_EQ(std::memcmp(out, &a, len), 0);
}

TEST(UnixAddress, BadLengthsAndFamiliesAreEinval) {
    sockaddr_un a;
    path_addr(a, "/x");
    EXPECT_EQ(parse_unix_address(bytes(a), 1).error().code(), Errno::Inval);
    EXPECT_EQ(parse_unix_address(bytes(a), 0).error().code(), Errno::Inval);
    uint8_t big[SOCKADDR_UN_SIZE + 1] = {AF_UNIX, 0, '/'};
    EXPECT_EQ(parse_unix_address(big, sizeof big).error().code(), Errno::Inval);
    a.sun_family = AF_INET;
    EXPECT_EQ(parse_unix_address(bytes(a), sizeof a).error().code(), Errno::Inval);
}

}  // namespace
}  // namespace lamina::posix::net
