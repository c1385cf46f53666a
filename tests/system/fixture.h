// The GoogleTest fixture for system tests: boot() starts a machine whose serial log goes to
// BUILD/tests/logs/SUITE.TEST.log. A failing test keeps that log and prints its path; a passing
// one removes it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "tests/system/qemu.h"

namespace lamina::test {

using namespace std::chrono_literals;

// Generous: TCG on a loaded 2-core machine boots OVMF + GRUB in 3-15 s.
constexpr auto BOOT_TIMEOUT = 120s;

class SystemTest : public ::testing::Test {
protected:
    Qemu& boot(const BootOptions& options) {
        auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = std::string(info->test_suite_name()) + "." + info->name();
        for (char& c : name)
            if (c == '/') c = '_';  // parameterized names carry slashes
        std::string log = build_dir() + "/tests/logs/" + name + ".log";
        machines_.push_back(std::make_unique<Qemu>(options, log));
        return *machines_.back();
    }

    void TearDown() override {
        bool failed = HasFailure();
        for (auto& m : machines_) {
            std::string path = m->log_path();
            m.reset();
            if (failed)
                std::fprintf(stderr, "serial log kept: %s\n", path.c_str());
            else
                std::remove(path.c_str());
        }
        machines_.clear();
    }

private:
    std::vector<std::unique_ptr<Qemu>> machines_;
};

// QEMU's exit status for a value written to isa-debug-exit.
constexpr int debug_exit_status(int code) { return (code << 1) | 1; }
constexpr int EXIT_KTEST_PASSED = debug_exit_status(0);
constexpr int EXIT_KTEST_FAILED = debug_exit_status(1);
constexpr int EXIT_PANIC = debug_exit_status(2);

}  // namespace lamina::test
