// Headless Chromium for the web tests (Debian's chromium package, which .ci/run installs): a
// page is loaded, its scripts run, and the DOM as the user would see it comes back as text.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace lamina::test {

struct RenderedPage {
    bool ok = false;    // Chromium ran and printed a document
    std::string dom;    // the serialized DOM after the scripts ran (--dump-dom)
    std::string error;  // when !ok: why (Chromium missing, its exit status and output)
};

// Loads url in a fresh headless Chromium profile and serializes the DOM once the page's scripts
// had budget_ms of virtual time (Chromium's virtual clock waits for pending network requests,
// so the page's own fetches finish within the budget however slow the server is). (Chromium
// serializes the DOM with script, so a page cannot be dumped with scripts switched off: to see
// a page as without JavaScript, render a copy without its script elements.)
RenderedPage render_page(const std::string& url, int budget_ms = 3000);

// The text of each cell of the first table row whose first cell is exactly first_cell (markup
// inside cells removed), or an empty vector when there is none.
std::vector<std::string> table_row(const std::string& dom, const std::string& first_cell);

// Waits until 127.0.0.1:port accepts a TCP connection; false after timeout.
bool wait_for_listener(int port, std::chrono::milliseconds timeout);

}  // namespace lamina::test
