#include "tests/system/browser.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "tests/system/host_tools.h"

namespace lamina::test {

namespace {

constexpr const char* CHROMIUM = "/usr/bin/chromium";

std::string strip_tags(const std::string& html) {
    std::string out;
    bool in_tag = false;
    for (char c : html) {
        if (c == '<')
            in_tag = true;
        else if (c == '>')
            in_tag = false;
        else if (!in_tag)
            out += c;
    }
    return out;
}

}  // namespace

RenderedPage render_page(const std::string& url, int budget_ms) {
    RenderedPage page;
    if (access(CHROMIUM, X_OK) != 0) {
        page.error = std::string(CHROMIUM) + " is missing: apt-get install chromium (.ci/run does)";
        return page;
    }
    char tmpl[] = "/tmp/lamina-chromium-XXXXXX";
    if (!mkdtemp(tmpl)) {
        page.error = "mkdtemp failed";
        return page;
    }
    std::string dir = tmpl;
    // The flags keep Chromium off the network beyond the page (this machine's network is closed
    // and its background requests would be refused, slowly) and out of the machine's setup:
    // root needs --no-sandbox, there is no GPU, and the profile is new and thrown away.
    std::vector<std::string> argv = {"/usr/bin/timeout",
                                     "120",
                                     CHROMIUM,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-quic",
                                     "--no-first-run",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--disable-dev-shm-usage",
                                     "--user-data-dir=" + dir + "/profile",
                                     "--virtual-time-budget=" + std::to_string(budget_ms),
                                     "--dump-dom"};
    argv.push_back(url);
    auto r = run_program(argv, {"HOME=" + dir, "PATH=/usr/bin:/bin"}, dir);
    page.dom = r.out;
    page.ok = r.status == 0 && r.out.find("</html>") != std::string::npos;
    if (!page.ok)
        page.error = "chromium exit status " + std::to_string(r.status) + "\n" + r.out + "\n" + r.err.substr(0, 4000);
    run_command("rm -rf '" + dir + "'");
    return page;
}

std::vector<std::string> table_row(const std::string& dom, const std::string& first_cell) {
    std::vector<std::string> cells;
    for (size_t at = dom.find("<tr>"); at != std::string::npos; at = dom.find("<tr>", at + 1)) {
        size_t end = dom.find("</tr>", at);
        if (end == std::string::npos) break;
        std::string row = dom.substr(at, end - at);
        cells.clear();
        for (size_t td = row.find("<td"); td != std::string::npos; td = row.find("<td", td + 1)) {
            size_t open_end = row.find('>', td);
            size_t close = row.find("</td>", open_end);
            if (open_end == std::string::npos || close == std::string::npos) break;
            cells.push_back(strip_tags(row.substr(open_end + 1, close - open_end - 1)));
        }
        if (!cells.empty() && cells[0] == first_cell) return cells;
    }
    return {};
}

bool wait_for_listener(int port, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(uint16_t(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool up = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        if (fd >= 0) close(fd);
        if (up) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
}

}  // namespace lamina::test
