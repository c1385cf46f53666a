// The web programs inside Lamina, run as init from the ext2 root of the test image: the status
// program reads the kernel's own /proc, and nginx reads and checks its configuration (it cannot
// listen until the kernel has sockets; the line this test waits for holds before and after).
#include "tests/system/browser.h"
#include "tests/system/fixture.h"
#include "tests/system/http_client.h"
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

// What a user of `ninja run` sees: rcS starts nginx and the status page's httpd at boot (the test
// image leaves them off unless `web=on`), and headless Chromium on the host opens /status/
// through QEMU's forward. A crash of the NIC driver shows on the page as a restart, and the page
// (served over the restarted driver) still loads.
TEST_F(ShellTest, StatusPageInChromiumShowsADriverRestart) {
    int port = free_local_port();
    ASSERT_NE(port, 0);
    Shell& sh = start({.direct = true, .append = "web=on", .host_port = port});
    EXPECT_EQ(sh.poll("ps -o comm | grep -c '^nginx'", "3\n", 60, "0.5"), "3\n") << sh.run("ps");
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/status/";
    const std::string virtio_state =
        "sed -n 's/.*name=virtio_net state=\\([a-z]*\\) restarts=\\([0-9]*\\).*/\\1 \\2/p' /proc/domains";
    EXPECT_EQ(sh.run(virtio_state), "running 0\n");

    RenderedPage page = render_page(url, 5000);
    ASSERT_TRUE(page.ok) << page.error;
    for (const char* name : {"nvme", "fs", "virtio_net", "net"}) {
        auto row = table_row(page.dom, name);
        ASSERT_EQ(row.size(), 9u) << name << " row missing:\n" << page.dom;
        EXPECT_EQ(row[1], "running") << name;
        EXPECT_EQ(row[2], "0") << name << " restarts";
    }
    EXPECT_FALSE(table_row(page.dom, "eth0").empty()) << page.dom;
    EXPECT_NE(page.dom.find("Live: refreshed every 2 s."), std::string::npos) << page.dom;

    sh.run("domctl inject virtio_net");
    EXPECT_EQ(sh.status(), 0);
    EXPECT_EQ(sh.poll(virtio_state, "running 1\n", 100, "0.2"), "running 1\n");
    page = render_page(url, 5000);
    ASSERT_TRUE(page.ok) << page.error;
    auto row = table_row(page.dom, "virtio_net");
    ASSERT_EQ(row.size(), 9u) << page.dom;
    EXPECT_EQ(row[1], "running");
    EXPECT_EQ(row[2], "1") << "restarts";
    // Each render's script fetched the JSON through nginx at least once.
    EXPECT_GE(
        std::atoi(sh.run("grep -c ' \"GET /status/?format=json HTTP/1.1\" 200 ' /var/log/nginx/access.log").c_str()),
        2);
}

// The demo profile's page has a fault button per domain, and a same-origin form POST through
// nginx crashes that domain; a POST from another origin is refused and crashes nothing. The
// test image's page (not demo) refuses every POST.
TEST_F(ShellTest, DemoPageInjectsFaultsOnlyFromItsOwnOrigin) {
    int port = free_local_port();
    ASSERT_NE(port, 0);
    Shell& sh = start({.profile = "demo", .direct = true, .host_port = port});
    EXPECT_EQ(sh.poll("ps -o comm | grep -c '^nginx'", "3\n", 60, "0.5"), "3\n") << sh.run("ps");
    const std::string origin = "http://127.0.0.1:" + std::to_string(port);
    RenderedPage page = render_page(origin + "/status/", 3000);
    ASSERT_TRUE(page.ok) << page.error;
    auto row = table_row(page.dom, "virtio_net");
    ASSERT_EQ(row.size(), 10u) << page.dom;
    EXPECT_EQ(row[9], "Inject fault");
    EXPECT_NE(page.dom.find("<input type=\"hidden\" name=\"domain\" value=\"virtio_net\">"), std::string::npos)
        << page.dom;

    auto post = [&](const std::string& from) {
        Connection c(port, 30);
        return c.request("POST", "/status/",
                         "Host: 127.0.0.1:" + std::to_string(port) + "\r\nOrigin: " + from +
                             "\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n",
                         "domain=virtio_net&kind=panic");
    };
    const std::string restarts =
        "sed -n 's/.*name=virtio_net state=\\([a-z]*\\) restarts=\\([0-9]*\\).*/virtio=\\1,\\2/p' /proc/domains";
    Response refused = post("http://attacker.example");
    EXPECT_EQ(refused.status, 403) << refused.headers;
    EXPECT_NE(sh.run(restarts).find("virtio=running,0\n"), std::string::npos);

    Response injected = post(origin);
    EXPECT_EQ(injected.status, 303) << injected.headers;
    // nginx maps the program's own address back to the page's.
    EXPECT_NE(injected.headers.find("\r\nLocation: /status/\r\n"), std::string::npos) << injected.headers;
    EXPECT_EQ(sh.poll(restarts, "virtio=running,1\n", 100, "0.2"), "virtio=running,1\n");
}

TEST_F(ShellTest, StatusPageRefusesPostsOutsideTheDemoProfile) {
    int port = free_local_port();
    ASSERT_NE(port, 0);
    Shell& sh = start({.direct = true, .append = "web=on", .host_port = port});
    EXPECT_EQ(sh.poll("ps -o comm | grep -c '^nginx'", "3\n", 60, "0.5"), "3\n") << sh.run("ps");
    Connection c(port, 30);
    Response r =
        c.request("POST", "/status/",
                  "Host: 127.0.0.1:" + std::to_string(port) + "\r\nOrigin: http://127.0.0.1:" + std::to_string(port) +
                      "\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n",
                  "domain=virtio_net&kind=panic");
    EXPECT_EQ(r.status, 403) << r.headers;
    EXPECT_EQ(sh.run("grep -c 'name=virtio_net state=running restarts=0 ' /proc/domains"), "1\n");
}

}  // namespace
}  // namespace lamina::test
