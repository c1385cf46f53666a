// domctl inside Lamina (started as init from /bin, where the test image puts it): it lists the
// domains the kernel describes in /proc/domains and injects faults through /proc/domctl, which
// the kernel runs in the domain's own code.
#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

TEST_F(SystemTest, DomctlListsTheNvmeDomainRunning) {
    auto& vm = boot({.direct = true, .append = "init=domctl list"});
    std::string out;
    ASSERT_TRUE(vm.wait_for("init exited with status ", BOOT_TIMEOUT, out));
    ASSERT_TRUE(vm.wait_for("\n", 5s));
    EXPECT_NE(out.find("ID  NAME"), std::string::npos) << out;
    // Columns are as wide as the longest name (virtio_net's): look at the nvme line whole.
    size_t at = out.find("  nvme ");
    ASSERT_NE(at, std::string::npos) << out;
    std::string line = out.substr(at, out.find('\n', at) - at);
    EXPECT_NE(line.find(" running "), std::string::npos) << out;
    EXPECT_EQ(vm.output().find("init exited with status 0") != std::string::npos, true);
}

TEST_F(SystemTest, DomctlInjectRunsTheFaultInTheDomain) {
    auto& vm = boot({.direct = true, .append = "init=domctl inject nvme null"});
    ASSERT_TRUE(vm.wait_for("domain nvme (id 1): #PF page fault (vector 14)", BOOT_TIMEOUT));
    // The backtrace names the domain's own code, symbolized with its symbols.
    ASSERT_TRUE(vm.wait_for("[nvme] ", 10s));
    ASSERT_TRUE(vm.wait_for("domctl: injected a null fault into nvme", 20s));
    ASSERT_TRUE(vm.wait_for("init exited with status 0", 20s));
}

// A panic's backtrace goes through libdomain's noreturn panic(): its return address lies past
// the call, and is still named by the function that made the call.
TEST_F(SystemTest, DomctlInjectedPanicIsSymbolizedThroughNoreturnCalls) {
    auto& vm = boot({.direct = true, .append = "init=domctl inject nvme panic"});
    ASSERT_TRUE(vm.wait_for("domain nvme (id 1): panic: fault injected by the kernel", BOOT_TIMEOUT));
    std::string trace;
    ASSERT_TRUE(vm.wait_for("domain nvme: failed", 20s, trace));
    EXPECT_NE(trace.find("[nvme] _ZN6lamina9domain_rt5panicEPKcz+"), std::string::npos) << trace;
    EXPECT_NE(trace.find("[nvme] _ZN6lamina9domain_rt12_GLOBAL__N_16injectEm+"), std::string::npos) << trace;
    EXPECT_EQ(trace.find("  ?"), std::string::npos) << trace;
}

TEST_F(SystemTest, DomctlNamesAnUnknownDomain) {
    auto& vm = boot({.direct = true, .append = "init=domctl inject ghost"});
    ASSERT_TRUE(vm.wait_for("domctl: no domain named 'ghost'", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("init exited with status 1", 20s));
}

}  // namespace
}  // namespace lamina::test
