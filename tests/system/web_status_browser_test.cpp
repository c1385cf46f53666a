// The status page as a user sees it, on the host: busybox httpd (the images' static binary) runs
// the images' lamina-status as its CGI program against fake /proc trees, and headless Chromium
// renders the page. The page's first HTML and its JSON come from different trees, so the
// figures in the rendered DOM tell whether the page's script ran and rebuilt the tables.
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/system/browser.h"
#include "tests/system/host_tools.h"
#include "tests/system/qemu.h"

namespace lamina::test {
namespace {

using namespace std::chrono_literals;

// /proc/domains as the kernel writes it; `restarts` is the figure the tests follow.
std::string domains(int restarts) {
    std::string r = std::to_string(restarts);
    return "id=1 name=nvme state=running restarts=0 faults=0 calls_in=812 calls_out=40 heap_pages=64 "
           "exchange_objects=3 threads=1\n"
           "id=2 name=fs state=running restarts=0 faults=0 calls_in=9000 calls_out=812 heap_pages=1040 "
           "exchange_objects=15 threads=0\n"
           "id=3 name=virtio_net state=running restarts=" +
           r + " faults=" + r +
           " calls_in=300 calls_out=20 heap_pages=80 exchange_objects=2 threads=1\n"
           "id=4 name=net state=running restarts=0 faults=0 calls_in=500 calls_out=300 heap_pages=512 "
           "exchange_objects=12 threads=1\n";
}

class StatusPageInBrowser : public ::testing::Test {
protected:
    void SetUp() override {
        busybox_ = build_dir() + "/ports/busybox/root/bin/busybox";
        std::string status = build_dir() + "/userland/lamina-status";
        ASSERT_EQ(access(busybox_.c_str(), X_OK), 0) << busybox_ << " is not built";
        ASSERT_EQ(access(status.c_str(), X_OK), 0) << status << " is not built";
        // httpd runs the CGI program in its own folder.
        char* absolute = realpath(status.c_str(), nullptr);
        ASSERT_NE(absolute, nullptr);
        status = absolute;
        free(absolute);
        char tmpl[] = "/tmp/lamina-web-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        // The page from proc-page (no restarts), its JSON from proc-live (virtio_net restarted 3 times).
        make_proc("proc-page", 0, "93784.25 0.00\n");
        make_proc("proc-live", 3, "93790.50 0.00\n");
        ASSERT_EQ(mkdir((dir_ + "/www").c_str(), 0755), 0);
        ASSERT_EQ(mkdir((dir_ + "/www/cgi-bin").c_str(), 0755), 0);
        std::string cgi = dir_ + "/www/cgi-bin/status";
        write_text(cgi,
                   "#!/bin/sh\ncase \"$QUERY_STRING\" in *format=json*) p=proc-live ;; *) p=proc-page ;; esac\n"
                   "LAMINA_STATUS_PROC='" +
                       dir_ + "/'$p exec '" + status + "'\n");
        ASSERT_EQ(chmod(cgi.c_str(), 0755), 0);
        port_ = free_local_port();
        ASSERT_NE(port_, 0);
        std::string log = dir_ + "/httpd.log";
        httpd_ = spawn_program(
            {busybox_, "httpd", "-f", "-vv", "-p", "127.0.0.1:" + std::to_string(port_), "-h", dir_ + "/www"},
            {"PATH=/usr/bin:/bin"}, "", log, log);
        ASSERT_GT(httpd_, 0);
        ASSERT_TRUE(wait_for_listener(port_, 20s)) << "httpd does not listen:\n" << read_text(log);
    }
    void TearDown() override {
        if (httpd_ > 0 && kill(httpd_, SIGKILL) == 0) waitpid(httpd_, nullptr, 0);
        // The fake /proc trees, the site and httpd's log go with the folder.
        if (dir_.empty()) return;
        EXPECT_EQ(run_command("rm -rf '" + dir_ + "'").output, "");
    }

    void make_proc(const std::string& name, int restarts, const std::string& uptime) {
        std::string p = dir_ + "/" + name;
        ASSERT_EQ(mkdir(p.c_str(), 0755), 0);
        ASSERT_EQ(mkdir((p + "/net").c_str(), 0755), 0);
        write_text(p + "/domains", domains(restarts));
        write_text(p + "/meminfo",
                   "MemTotal:         524288 kB\nMemFree:          409600 kB\n"
                   "MemAvailable:     400000 kB\n");
        write_text(p + "/uptime", uptime);
        write_text(p + "/net/dev",
                   "Inter-|   Receive                                                |  Transmit\n"
                   " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop "
                   "fifo colls carrier compressed\n"
                   "  eth0: 9876543    7000    1    2    0     0          0         0   123456     900    3    4    "
                   "0     0       0          0\n");
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/cgi-bin/status"; }

    std::string busybox_, dir_;
    int port_ = 0;
    pid_t httpd_ = -1;
};

TEST_F(StatusPageInBrowser, ScriptRebuildsTheTablesFromTheJson) {
    RenderedPage page = render_page(url());
    ASSERT_TRUE(page.ok) << page.error;
    EXPECT_NE(page.dom.find("<title>Lamina status</title>"), std::string::npos) << page.dom;
    for (const char* name : {"nvme", "fs", "virtio_net", "net"}) {
        auto row = table_row(page.dom, name);
        ASSERT_EQ(row.size(), 9u) << name << " row missing or malformed:\n" << page.dom;
        EXPECT_EQ(row[1], "running") << name;
    }
    // Name, state, restarts, faults, calls in, calls out, heap pages, exchange objects, threads:
    // the live figures, not the page's first ones.
    EXPECT_EQ(table_row(page.dom, "virtio_net"),
              (std::vector<std::string>{"virtio_net", "running", "3", "3", "300", "20", "80", "2", "1"}));
    EXPECT_EQ(table_row(page.dom, "eth0"),
              (std::vector<std::string>{"eth0", "9876543", "7000", "1", "2", "123456", "900", "3", "4"}));
    EXPECT_NE(page.dom.find("<dd id=\"uptime\">1 d 2 h 3 min 10 s</dd>"), std::string::npos) << page.dom;
    EXPECT_NE(page.dom.find("<dd id=\"memory\">390 MiB available of 512 MiB</dd>"), std::string::npos) << page.dom;
    EXPECT_NE(page.dom.find("Live: refreshed every 2 s."), std::string::npos) << page.dom;
}

// Without JavaScript the browser shows the page as served: the same page with its script element
// removed, rendered from a file.
TEST_F(StatusPageInBrowser, TablesRenderWithoutTheScript) {
    auto got = run_command("'" + busybox_ + "' wget -q -O - '" + url() + "'");
    ASSERT_EQ(got.status, 0) << got.output << read_text(dir_ + "/httpd.log");
    std::string html = got.output;
    size_t script = html.find("<script>"), script_end = html.find("</script>");
    ASSERT_NE(script, std::string::npos) << html;
    ASSERT_NE(script_end, std::string::npos) << html;
    html.erase(script, script_end + 9 - script);
    write_text(dir_ + "/no-script.html", html);
    RenderedPage page = render_page("file://" + dir_ + "/no-script.html", 1000);
    ASSERT_TRUE(page.ok) << page.error;
    EXPECT_EQ(page.dom.find("<script"), std::string::npos);
    EXPECT_EQ(table_row(page.dom, "virtio_net"),
              (std::vector<std::string>{"virtio_net", "running", "0", "0", "300", "20", "80", "2", "1"}))
        << page.dom;
    for (const char* name : {"nvme", "fs", "net", "eth0"}) EXPECT_FALSE(table_row(page.dom, name).empty()) << name;
    EXPECT_NE(page.dom.find("<dd id=\"uptime\">1 d 2 h 3 min 4 s</dd>"), std::string::npos) << page.dom;
    EXPECT_NE(page.dom.find("A snapshot; with JavaScript on, the page refreshes itself."), std::string::npos)
        << page.dom;
}

}  // namespace
}  // namespace lamina::test
