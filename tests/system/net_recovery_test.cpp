// The netstack's recovery time as a server sees it: tests/programs/inet_recovery crashes the net
// domain (the kernel's `inject net panic`, as `domctl inject net` does) while a server waits in
// accept on 127.0.0.1, and connects until the fresh stack's replayed listener gives the server
// a connection that answers. Three rounds; each must get its connection (the program gives up
// after 60 s), and the figures are printed (bench/README.md records them). No tighter bound is
// asserted: under TCG on a loaded machine a restart takes 1-4 s, most of it outside the stack.
#include <iostream>

#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

TEST_F(SystemTest, NetStackCrashToTheNextAcceptedConnection) {
    auto& vm = boot({.direct = true, .append = "init=inet_recovery 3"});
    ASSERT_TRUE(vm.wait_for("init: starting inet_recovery", BOOT_TIMEOUT));
    std::string output;
    ASSERT_TRUE(vm.wait_for("\ninit exited with status ", 240s, output));
    std::string status;
    ASSERT_TRUE(vm.wait_for("\n", 10s, status));
    EXPECT_EQ(status.substr(0, 1), "0") << output;
    const std::string figure = "net fault to next accepted connection: ";
    int rounds = 0;
    for (size_t at = output.find(figure); at != std::string::npos; at = output.find(figure, at + 1))
        std::cout << "round " << ++rounds << ": " << output.substr(at, output.find('\n', at) - at) << "\n";
    EXPECT_EQ(rounds, 3) << output;
    // Every crash was recovered by a restart, with the listener replayed.
    int replays = 0;
    for (size_t at = output.find("1 socket(s) replayed, 0 lost"); at != std::string::npos;
         at = output.find("1 socket(s) replayed, 0 lost", at + 1))
        replays++;
    EXPECT_EQ(replays, 3) << output;
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

}  // namespace
}  // namespace lamina::test
