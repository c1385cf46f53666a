// The busybox shell on a test machine's serial console, driven command by command: run() sends
// a command line followed by a marker echo and returns what the command printed (shell_test.cpp,
// the network and web tests use it).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>

#include "tests/system/fixture.h"

namespace lamina::test {

inline constexpr auto CMD_TIMEOUT = 60s;

// Drives the shell: run() sends a command line followed by a marker echo, and returns what the
// command printed (the echoed command line removed, carriage returns dropped).
class Shell {
public:
    explicit Shell(Qemu& vm) : vm_(vm) {}

    bool wait_prompt(std::chrono::milliseconds timeout = BOOT_TIMEOUT) {
        // The profile's PS1 is '\u@\h:\w\$ ': root@lamina:/# at first.
        return vm_.wait_for("# ", timeout);
    }

    // Output of `line`, or "<timeout>" when the marker did not come back.
    std::string run(const std::string& line, std::chrono::milliseconds timeout = CMD_TIMEOUT) {
        start(line);
        return finish(timeout);
    }

    // run() in two steps, for a command that waits for what the test does meanwhile.
    void start(const std::string& line) {
        // The marker is split in the echoed command line, so only the real output matches it.
        vm_.send(line + "; echo '@@'" + std::to_string(++n_) + "'@@' $?\r");
    }
    std::string finish(std::chrono::milliseconds timeout = CMD_TIMEOUT) {
        std::string marker = "@@" + std::to_string(n_) + "@@";
        std::string out;
        if (!vm_.wait_for(marker, timeout, out)) return "<timeout>";
        std::string status;
        vm_.wait_for("\n", 5s, status);
        last_status_ = std::atoi(status.c_str());
        out.erase(std::remove(out.begin(), out.end(), '\r'), out.end());
        // Echo is off (start() turns it off), so what precedes the output is the prompt (and
        // blank lines and prompts the shell printed after Ctrl-C or a job notice).
        while (out.rfind("# ", 0) == 0 || out.rfind("\n", 0) == 0) out.erase(0, out[0] == '\n' ? 1 : 2);
        return out;
    }
    int status() const { return last_status_; }

    // Runs `line` until it prints `want` (at most `tries` times, `pause` seconds of sleep in
    // the guest between them); returns the last output, `want` on success.
    std::string poll(const std::string& line, const std::string& want, int tries = 50, const char* pause = "0.2") {
        std::string got;
        for (int i = 0; i < tries; i++) {
            got = run(line);
            if (got == want) break;
            run(std::string("sleep ") + pause);
        }
        return got;
    }

private:
    Qemu& vm_;
    int n_ = 0;
    int last_status_ = -1;
};

// A system test on a console shell (the test image's unless options say otherwise), with echo
// off and the prompt '# '.
class ShellTest : public SystemTest {
protected:
    Shell& start(const BootOptions& options = {.direct = true}) {
        vm_ = &boot(options);
        shell_ = std::make_unique<Shell>(*vm_);
        EXPECT_TRUE(shell_->wait_prompt()) << "no shell prompt";
        // Quieter, predictable output for the checks.
        shell_->run("stty -echo 2>/dev/null; export PS1='# '");
        return *shell_;
    }
    Qemu* vm_ = nullptr;
    std::unique_ptr<Shell> shell_;
};

}  // namespace lamina::test
