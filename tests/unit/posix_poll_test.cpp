// poll/select bit mapping (kernel/posix/poll/poll_bits.h) against Linux's fs/select.c rules.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/select.h>

#include <cstring>

#include "kernel/posix/poll/poll_bits.h"

namespace lamina::posix {
namespace {

TEST(PosixPollBits, ValuesAreLinuxs) {
    EXPECT_EQ(pollbits::In, unsigned(POLLIN));
    EXPECT_EQ(pollbits::Out, unsigned(POLLOUT));
    EXPECT_EQ(pollbits::Err, unsigned(POLLERR));
    EXPECT_EQ(pollbits::Hup, unsigned(POLLHUP));
    EXPECT_EQ(pollbits::Nval, unsigned(POLLNVAL));
    EXPECT_EQ(pollbits::Pri, unsigned(POLLPRI));
    EXPECT_EQ(sizeof(PollFd), sizeof(struct pollfd));
}

TEST(PosixPollBits, ReventsAreWhatWasAskedPlusErrorsAndHangups) {
    uint32_t ready = pollbits::In | pollbits::RdNorm | pollbits::Out | pollbits::WrNorm;
    EXPECT_EQ(poll_revents(3, POLLIN, ready), POLLIN);
    EXPECT_EQ(poll_revents(3, POLLOUT, ready), POLLOUT);
    EXPECT_EQ(poll_revents(3, POLLIN | POLLOUT, ready), POLLIN | POLLOUT);
    EXPECT_EQ(poll_revents(3, 0, ready), 0);
    // POLLERR and POLLHUP come back even when not asked for.
    EXPECT_EQ(poll_revents(3, 0, pollbits::Hup | pollbits::Out), POLLHUP);
    EXPECT_EQ(poll_revents(3, POLLIN, pollbits::Err | pollbits::Out), POLLERR);
    EXPECT_EQ(poll_revents(3, POLLIN, pollbits::Nval), 0) << "POLLNVAL is the caller's, not filtered in";
    // A negative fd is skipped whatever the object says.
    EXPECT_EQ(poll_revents(-1, POLLIN, ready), 0);
}

TEST(PosixPollBits, SelectSetsMatchTheCLibrary) {
    uint64_t set[fd_set_words(200)] = {};
    fd_set ref;
    FD_ZERO(&ref);
    for (int fd : {0, 1, 63, 64, 65, 127, 199}) {
        fd_set_bit(set, fd);
        FD_SET(fd, &ref);
    }
    ASSERT_EQ(fd_set_words(200), 4u);
    EXPECT_EQ(memcmp(set, &ref, sizeof set), 0);
    for (int fd = 0; fd < 200; fd++) EXPECT_EQ(fd_isset(set, fd), bool(FD_ISSET(fd, &ref))) << fd;
    EXPECT_FALSE(fd_isset(nullptr, 5));
    EXPECT_EQ(fd_set_words(0), 0u);
    EXPECT_EQ(fd_set_words(64), 1u);
    EXPECT_EQ(fd_set_words(65), 2u);
}

TEST(PosixPollBits, SelectCountsEachSetADescriptorIsReadyIn) {
    uint64_t rin[1] = {}, rout[1] = {}, rex[1] = {};
    // A hung-up pipe read end is readable (EOF); an end with an error is readable and writable.
    EXPECT_EQ(select_results(4, pollbits::Hup, true, true, true, rin, rout, rex), 1);
    EXPECT_TRUE(fd_isset(rin, 4));
    EXPECT_FALSE(fd_isset(rout, 4));
    EXPECT_EQ(select_results(5, pollbits::Err, true, true, false, rin, rout, rex), 2);
    EXPECT_TRUE(fd_isset(rin, 5) && fd_isset(rout, 5));
    EXPECT_EQ(select_results(6, pollbits::Pri, true, false, true, rin, rout, rex), 1);
    EXPECT_TRUE(fd_isset(rex, 6));
    // Only the sets the descriptor was in count.
    EXPECT_EQ(select_results(7, pollbits::In | pollbits::Out, false, true, false, rin, rout, rex), 1);
    EXPECT_FALSE(fd_isset(rin, 7));
    EXPECT_EQ(select_interest(true, false, false), pollbits::InSet);
    EXPECT_EQ(select_interest(false, true, true), pollbits::OutSet | pollbits::ExSet);
}

}  // namespace
}  // namespace lamina::posix
