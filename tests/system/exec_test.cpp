// exec of a program larger than any block of kernel memory: the loader streams it from its
// file (tests/programs/exec_big: 16 MiB of initialized data, marks on the copy chunks' edges);
// and dropping the caches the cold-read benchmarks need.
#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

// From the ext2 root through the fs domain, by execve from a shell (the bench's path).
TEST_F(SystemTest, SixteenMebibyteProgramExecsFromTheDisk) {
    auto& vm = boot({.direct = true, .append = "init=/bin/sh -c /usr/libexec/lamina/exec_big"});
    ASSERT_TRUE(vm.wait_for("exec_big: ", BOOT_TIMEOUT)) << vm.output();
    std::string verdict;
    ASSERT_TRUE(vm.wait_for("\n", 30s, verdict));
    EXPECT_EQ(verdict.substr(0, 2), "ok") << verdict;
    EXPECT_EQ(vm.wait_exit(60s), EXIT_KTEST_PASSED) << vm.output();
}

// The program page cache never runs stale code: a program patched in place or replaced runs as
// the file now is (tests/programs/exec_cache).
TEST_F(SystemTest, ProgramPageCacheFollowsTheFile) {
    auto& vm = boot({.direct = true, .append = "init=/usr/libexec/lamina/exec_cache"});
    EXPECT_EQ(vm.wait_exit(BOOT_TIMEOUT), EXIT_KTEST_PASSED) << vm.output();
    EXPECT_NE(vm.output().find("ok: the patched program runs, not the cached one"), std::string::npos) << vm.output();
    EXPECT_EQ(vm.output().find("FAILED"), std::string::npos) << vm.output();
}

// /proc/sys/vm/drop_caches restarts the fs domain cleanly; data survives (tests/programs/drop_caches).
TEST_F(SystemTest, DropCachesRestartsTheFsDomainAndKeepsData) {
    auto& vm = boot({.direct = true, .append = "init=/usr/libexec/lamina/drop_caches"});
    EXPECT_EQ(vm.wait_exit(BOOT_TIMEOUT), EXIT_KTEST_PASSED) << vm.output();
    EXPECT_NE(vm.output().find("ok: the fs domain was restarted once"), std::string::npos) << vm.output();
    EXPECT_EQ(vm.output().find("FAILED"), std::string::npos) << vm.output();
}

}  // namespace
}  // namespace lamina::test
