// The web programs inside Lamina, run as init from the ext2 root of the test image: the status
// program reads the kernel's own /proc, and nginx reads and checks its configuration (it cannot
// listen until the kernel has sockets; the line this test waits for holds before and after).
#include "tests/system/fixture.h"
#include "tests/system/shell.h"

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

// nginx's process model without the network: a listener on an AF_UNIX socket, the master and
// its two workers (fork, socketpair channels with FIOASYNC and F_SETOWN, shared anonymous
// memory, prctl, sched_getaffinity, setuid to nobody), then a graceful stop by `nginx -s quit`
// (SIGQUIT through the pid file). Nothing the kernel lacks may be logged on the way.
TEST_F(ShellTest, NginxMasterAndWorkersStartAndQuitOnLamina) {
    Shell& sh = start();
    sh.run(
        "printf '%s\\n' 'worker_processes 2; pid /tmp/nginx.pid; error_log /tmp/error.log notice;' "
        "'events { use epoll; worker_connections 64; }' "
        "'http { access_log off; server { listen unix:/tmp/nginx.sock; root /www; } }' > /tmp/unix.conf");
    EXPECT_EQ(sh.run("nginx -c /tmp/unix.conf"), "");
    EXPECT_EQ(sh.status(), 0);
    // The master writes its pid file before forking the workers; each worker logs nothing until
    // it runs, so wait for the processes themselves.
    EXPECT_EQ(sh.poll("ps -o comm | grep -c '^nginx'", "3\n", 60, "0.5"), "3\n") << sh.run("ps; cat /tmp/error.log");
    EXPECT_EQ(sh.run("[ -S /tmp/nginx.sock ] && echo socket"), "socket\n");
    EXPECT_EQ(sh.run("nginx -c /tmp/unix.conf -s quit"), "");
    EXPECT_EQ(sh.poll("ps -o comm | grep -c '^nginx'", "0\n", 60, "0.5"), "0\n");
    std::string log = sh.run("cat /tmp/error.log");
    EXPECT_NE(log.find("start worker processes"), std::string::npos) << log;
    EXPECT_NE(log.find("#0: exit\n"), std::string::npos) << log;
    for (const char* bad : {"[alert]", "[emerg]", "[crit]", "failed"})
        EXPECT_EQ(log.find(bad), std::string::npos) << bad << " in\n" << log;
    EXPECT_EQ(sh.run("dmesg | grep -c 'not implemented'"), "0\n") << sh.run("dmesg | grep 'not implemented'");
}

}  // namespace
}  // namespace lamina::test
