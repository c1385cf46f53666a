// lamina-status, the status page's program (userland/lamina-status), run on the host: the very
// static binary the images carry, pointed at a fake /proc (LAMINA_STATUS_PROC) holding fixture
// files, as a command and as a CGI program (the environment a web server sets).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/system/host_tools.h"
#include "tests/system/qemu.h"

namespace lamina::test {
namespace {

const char DOMAINS[] =
    "# a comment, then an empty line\n"
    "\n"
    "id=1 name=nvme state=running restarts=0 faults=0 calls_in=812 calls_out=40 heap_pages=64 "
    "exchange_objects=3 threads=1 threads_inside=0 image_pages=20\n"
    "id=2\tname=fs  state=restarting restarts=2\n"
    "id=x name=broken state=running\n"
    "id=4 name=<script> state=running\n"
    "id=5 state=running\n"
    "id=6 name=net state=running restarts=1 faults=1 calls_in=100000 calls_out=7 heap_pages=512 "
    "exchange_objects=12 threads=2\n";

const char MEMINFO[] =
    "MemTotal:         524288 kB\nMemFree:          409600 kB\nMemAvailable:     400000 kB\n"
    "Buffers:               0 kB\n";

const char NET_DEV[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls "
    "carrier compressed\n"
    "    lo:    1200      12    0    0    0     0          0         0     1200      12    0    0    0     0 "
    "      0          0\n"
    "  eth0: 9876543    7000    1    2    0     0          0         0   123456     900    3    4    0     0 "
    "      0          0\n";

const char JSON[] =
    "{\"uptime_seconds\":93784.25,"
    "\"memory\":{\"total_kb\":524288,\"free_kb\":409600,\"available_kb\":400000},"
    "\"domains\":["
    "{\"id\":1,\"name\":\"nvme\",\"state\":\"running\",\"restarts\":0,\"faults\":0,\"calls_in\":812,"
    "\"calls_out\":40,\"heap_pages\":64,\"exchange_objects\":3,\"threads\":1},"
    "{\"id\":2,\"name\":\"fs\",\"state\":\"restarting\",\"restarts\":2,\"faults\":null,\"calls_in\":null,"
    "\"calls_out\":null,\"heap_pages\":null,\"exchange_objects\":null,\"threads\":null},"
    "{\"id\":6,\"name\":\"net\",\"state\":\"running\",\"restarts\":1,\"faults\":1,\"calls_in\":100000,"
    "\"calls_out\":7,\"heap_pages\":512,\"exchange_objects\":12,\"threads\":2}],"
    "\"interfaces\":["
    "{\"name\":\"lo\",\"rx_bytes\":1200,\"rx_packets\":12,\"rx_errors\":0,\"rx_dropped\":0,\"tx_bytes\":1200,"
    "\"tx_packets\":12,\"tx_errors\":0,\"tx_dropped\":0},"
    "{\"name\":\"eth0\",\"rx_bytes\":9876543,\"rx_packets\":7000,\"rx_errors\":1,\"rx_dropped\":2,"
    "\"tx_bytes\":123456,\"tx_packets\":900,\"tx_errors\":3,\"tx_dropped\":4}],"
    "\"demo\":false}\n";

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
    return n;
}

class LaminaStatus : public ::testing::Test {
protected:
    void SetUp() override {
        binary_ = build_dir() + "/userland/lamina-status";
        ASSERT_EQ(access(binary_.c_str(), X_OK), 0) << binary_ << " is not built";
        char tmpl[] = "/tmp/lamina-status-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        proc_ = dir_ + "/proc";
        ASSERT_EQ(mkdir(proc_.c_str(), 0755), 0);
        ASSERT_EQ(mkdir((proc_ + "/net").c_str(), 0755), 0);
        write_text(proc_ + "/domains", DOMAINS);
        write_text(proc_ + "/meminfo", MEMINFO);
        write_text(proc_ + "/uptime", "93784.25 0.00\n");
        write_text(proc_ + "/net/dev", NET_DEV);
        write_text(proc_ + "/domctl", "");
    }
    void TearDown() override {
        if (!dir_.empty()) {
            EXPECT_EQ(run_command("rm -rf '" + dir_ + "'").status, 0);
        }
    }

    ProgramResult run(const std::vector<std::string>& args) {
        std::vector<std::string> argv = {binary_};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_program(argv, {"LAMINA_STATUS_PROC=" + proc_}, dir_);
    }

    // A CGI request as a web server makes it: the CGI/1.1 variables, the body on stdin.
    ProgramResult cgi(const std::string& method, const std::vector<std::string>& vars, const std::string& body = "",
                      bool demo = false) {
        std::vector<std::string> env = {"LAMINA_STATUS_PROC=" + proc_, "GATEWAY_INTERFACE=CGI/1.1",
                                        "REQUEST_METHOD=" + method, "SCRIPT_NAME=/status/", "HTTP_HOST=127.0.0.1:8080"};
        env.insert(env.end(), vars.begin(), vars.end());
        if (!body.empty()) env.push_back("CONTENT_LENGTH=" + std::to_string(body.size()));
        std::vector<std::string> argv = {binary_};
        if (demo) argv.push_back("--demo");
        return run_program(argv, env, dir_, body);
    }

    ProgramResult inject(const std::string& body, const std::vector<std::string>& vars) {
        std::vector<std::string> v = {"CONTENT_TYPE=application/x-www-form-urlencoded"};
        v.insert(v.end(), vars.begin(), vars.end());
        return cgi("POST", v, body, true);
    }

    std::string control() const { return read_text(proc_ + "/domctl"); }

    std::string binary_, dir_, proc_;
};

TEST_F(LaminaStatus, IsAStaticBinary) { EXPECT_EQ(static_binary_problem(binary_), ""); }

TEST_F(LaminaStatus, JsonHasEveryWellFormedDomainInterfaceAndFigure) {
    auto r = run({"json"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out, JSON);
}

TEST_F(LaminaStatus, JsonOfAnEmptyProcIsNullsAndEmptyLists) {
    ASSERT_EQ(run_command("rm -rf '" + proc_ + "'/*").status, 0);
    auto r = run({"json"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "{\"uptime_seconds\":null,\"memory\":{\"total_kb\":null,\"free_kb\":null,\"available_kb\":null},"
              "\"domains\":[],\"interfaces\":[],\"demo\":false}\n");
}

TEST_F(LaminaStatus, HtmlIsACompletePageWhoseTablesNeedNoScript) {
    auto r = run({});
    EXPECT_EQ(r.status, 0) << r.err;
    const std::string& page = r.out;
    EXPECT_EQ(page.rfind("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">", 0), 0u) << page;
    EXPECT_NE(page.find("<title>Lamina status</title>"), std::string::npos);
    EXPECT_EQ(page.substr(page.size() - 16), "</body>\n</html>\n");
    // The rows are in the markup, so the tables render with JavaScript off.
    EXPECT_NE(page.find("<tr><td>nvme</td><td><span class=\"state state-running\">running</span></td>"
                        "<td>0</td><td>0</td><td>812</td><td>40</td><td>64</td><td>3</td><td>1</td></tr>"),
              std::string::npos)
        << page;
    EXPECT_NE(page.find("<tr><td>fs</td><td><span class=\"state state-restarting\">restarting</span></td>"
                        "<td>2</td><td>&#8212;</td>"),
              std::string::npos)
        << page;
    EXPECT_NE(page.find("<tr><td>net</td>"), std::string::npos);
    EXPECT_NE(page.find("<tr><td>eth0</td><td>9876543</td><td>7000</td><td>1</td><td>2</td><td>123456</td>"
                        "<td>900</td><td>3</td><td>4</td></tr>"),
              std::string::npos)
        << page;
    EXPECT_NE(page.find("<dd id=\"uptime\">1 d 2 h 3 min 4 s</dd>"), std::string::npos) << page;
    EXPECT_NE(page.find("<dd id=\"memory\">390 MiB available of 512 MiB</dd>"), std::string::npos) << page;
    // Malformed lines are left out; nothing from /proc reaches the page as markup.
    EXPECT_EQ(page.find("broken"), std::string::npos);
    EXPECT_EQ(page.find("<script>\n(function"), page.find("<script>"));
    EXPECT_EQ(count(page, "<script"), 1u);
    EXPECT_EQ(count(page, "<tr>"), count(page, "</tr>"));
    EXPECT_EQ(count(page, "<table"), 2u);
    EXPECT_EQ(count(page, "<table"), count(page, "</table>"));
    // No external assets, and no fault buttons without --demo.
    EXPECT_EQ(page.find("src="), std::string::npos);
    EXPECT_EQ(page.find("href="), std::string::npos);
    EXPECT_EQ(page.find("http://"), std::string::npos);
    EXPECT_EQ(page.find("<form"), std::string::npos);
    EXPECT_NE(page.find("<body>\n"), std::string::npos);
    // The script refreshes from the JSON endpoint.
    EXPECT_NE(page.find("fetch('?format=json'"), std::string::npos);
}

TEST_F(LaminaStatus, HtmlOfAnEmptyProcSaysSo) {
    ASSERT_EQ(run_command("rm -rf '" + proc_ + "'/*").status, 0);
    auto r = run({"html"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("<td class=\"empty\" colspan=\"9\">No domains.</td>"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("<td class=\"empty\" colspan=\"9\">No network interfaces.</td>"), std::string::npos);
    EXPECT_NE(r.out.find("<dd id=\"uptime\">&#8212;</dd>"), std::string::npos);
}

TEST_F(LaminaStatus, DemoPageHasOneFaultButtonPerDomain) {
    auto r = run({"--demo"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("<body data-demo>"), std::string::npos);
    EXPECT_EQ(count(r.out, "<form method=\"post\">"), 3u);
    EXPECT_NE(r.out.find("<input type=\"hidden\" name=\"domain\" value=\"fs\"><button name=\"kind\" "
                         "value=\"panic\">Inject fault</button></form>"),
              std::string::npos)
        << r.out;
    auto j = run({"--demo", "json"});
    EXPECT_NE(j.out.find(",\"demo\":true}\n"), std::string::npos) << j.out;
}

TEST_F(LaminaStatus, BadArgumentsAreAUsageError) {
    auto r = run({"xml"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("usage: lamina-status"), std::string::npos) << r.err;
}

TEST_F(LaminaStatus, CgiGetServesThePageOrTheJson) {
    auto page = cgi("GET", {"QUERY_STRING="});
    EXPECT_EQ(page.status, 0) << page.err;
    EXPECT_EQ(
        page.out.rfind("Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n\r\n<!DOCTYPE html>", 0),
        0u)
        << page.out;
    auto json = cgi("GET", {"QUERY_STRING=format=json"});
    EXPECT_EQ(json.out, std::string("Content-Type: application/json\r\nCache-Control: no-store\r\n\r\n") + JSON);
    auto head = cgi("HEAD", {"QUERY_STRING=format=json"});
    EXPECT_EQ(head.out, "Content-Type: application/json\r\nCache-Control: no-store\r\n\r\n");
}

TEST_F(LaminaStatus, CgiRefusesOtherMethods) {
    auto r = cgi("PUT", {});
    EXPECT_EQ(r.out.rfind("Status: 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n", 0), 0u) << r.out;
    auto d = cgi("DELETE", {}, "", true);
    EXPECT_EQ(d.out.rfind("Status: 405 Method Not Allowed\r\nAllow: GET, HEAD, POST\r\n", 0), 0u) << d.out;
}

TEST_F(LaminaStatus, PostWithoutDemoInjectsNothing) {
    auto r = cgi("POST", {"CONTENT_TYPE=application/x-www-form-urlencoded", "HTTP_ORIGIN=http://127.0.0.1:8080"},
                 "domain=fs&kind=panic");
    EXPECT_EQ(r.out.rfind("Status: 403 Forbidden\r\n", 0), 0u) << r.out;
    EXPECT_EQ(control(), "");
}

TEST_F(LaminaStatus, DemoPostFromThePageInjectsAndRedirectsBack) {
    auto r = inject("domain=fs&kind=panic", {"HTTP_ORIGIN=http://127.0.0.1:8080"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "Status: 303 See Other\r\nLocation: /status/\r\nCache-Control: no-store\r\n\r\n");
    EXPECT_EQ(control(), "inject fs panic\n");
    // Without Origin (older browsers), the Referer must be the page's; the kind defaults to panic.
    write_text(proc_ + "/domctl", "");
    auto k = inject("domain=net", {"HTTP_REFERER=http://127.0.0.1:8080/status/"});
    EXPECT_EQ(k.out.rfind("Status: 303 See Other\r\n", 0), 0u) << k.out;
    EXPECT_EQ(control(), "inject net panic\n");
}

TEST_F(LaminaStatus, DemoPostFromElsewhereOrMalformedInjectsNothing) {
    struct Case {
        std::string body;
        std::vector<std::string> vars;
        std::string status;
    };
    const Case cases[] = {
        {"domain=fs", {"HTTP_ORIGIN=http://evil.example"}, "403 Forbidden"},
        {"domain=fs", {"HTTP_ORIGIN=http://127.0.0.1:8080.evil.example"}, "403 Forbidden"},
        {"domain=fs", {"HTTP_REFERER=http://127.0.0.1:8080.evil.example/status/"}, "403 Forbidden"},
        {"domain=fs", {}, "403 Forbidden"},
        {"domain=ghost", {"HTTP_ORIGIN=http://127.0.0.1:8080"}, "404 Not Found"},
        {"domain=fs&kind=meltdown", {"HTTP_ORIGIN=http://127.0.0.1:8080"}, "400 Bad Request"},
        {"domain=fs%0Arestart+nvme", {"HTTP_ORIGIN=http://127.0.0.1:8080"}, "400 Bad Request"},
        {"kind=panic", {"HTTP_ORIGIN=http://127.0.0.1:8080"}, "400 Bad Request"},
    };
    for (const Case& c : cases) {
        auto r = inject(c.body, c.vars);
        EXPECT_EQ(r.out.rfind("Status: " + c.status + "\r\n", 0), 0u) << c.body << ": " << r.out;
    }
    auto json = cgi("POST", {"CONTENT_TYPE=application/json", "HTTP_ORIGIN=http://127.0.0.1:8080"},
                    "{\"domain\":\"fs\"}", true);
    EXPECT_EQ(json.out.rfind("Status: 415 Unsupported Media Type\r\n", 0), 0u) << json.out;
    EXPECT_EQ(control(), "");
}

TEST_F(LaminaStatus, DemoPostReportsTheKernelsRefusal) {
    // A directory where the control file should be: the open fails.
    ASSERT_EQ(unlink((proc_ + "/domctl").c_str()), 0);
    ASSERT_EQ(mkdir((proc_ + "/domctl").c_str(), 0755), 0);
    auto r = inject("domain=fs", {"HTTP_ORIGIN=http://127.0.0.1:8080"});
    EXPECT_EQ(r.out.rfind("Status: 500 Internal Server Error\r\n", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("The kernel refused the fault: Is a directory."), std::string::npos) << r.out;
}

}  // namespace
}  // namespace lamina::test
