// The web programs inside Lamina, run as init from the ext2 root of the test image: the status
// program reads the kernel's own /proc, and nginx reads and checks its configuration (it cannot
// listen until the kernel has sockets; the line this test waits for holds before and after).
#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

TEST_F(SystemTest, LaminaStatusReportsTheKernelsDomainsAsJson) {
    auto& vm = boot({.direct = true, .append = "init=/usr/bin/lamina-status json"});
    std::string out;
    ASSERT_TRUE(vm.wait_for("init exited with status 0", BOOT_TIMEOUT, out)) << vm.output();
    EXPECT_NE(out.find("{\"uptime_seconds\":"), std::string::npos) << out;
    EXPECT_NE(out.find("\"memory\":{\"total_kb\":"), std::string::npos) << out;
    EXPECT_NE(out.find("\"name\":\"nvme\",\"state\":\"running\",\"restarts\":0,\"faults\":0,"), std::string::npos)
        << out;
    EXPECT_NE(out.find("\"name\":\"fs\",\"state\":\"running\","), std::string::npos) << out;
    EXPECT_EQ(out.find(":null"), std::string::npos) << "the kernel leaves a figure out:\n" << out;
}

TEST_F(SystemTest, NginxReadsItsConfigurationOnLamina) {
    auto& vm = boot({.direct = true, .append = "init=/usr/sbin/nginx -t"});
    std::string out;
    ASSERT_TRUE(vm.wait_for("init exited with status ", BOOT_TIMEOUT, out)) << vm.output();
    EXPECT_NE(out.find("nginx: the configuration file /etc/nginx/nginx.conf syntax is ok"), std::string::npos) << out;
}

}  // namespace
}  // namespace lamina::test
