// The gdb workflow of `ninja debug`: QEMU waits for gdb (--gdb), gdb loads the kernel's symbols,
// stops at kernel_main with a source location, and sees the backtrace into the boot code.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/system/host_tools.h"
#include "tests/system/qemu.h"

namespace lamina::test {
namespace {

TEST(Debug, GdbStopsAtKernelMainWithSymbols) {
    std::string dir = build_dir();
    int port = free_local_port();
    ASSERT_NE(port, 0);
    // The logs directory exists only while some test keeps a log: this test may run first.
    std::filesystem::create_directories(dir + "/tests/logs");
    std::string script = dir + "/tests/logs/debug-test.gdb";
    std::ofstream(script) << "set architecture i386:x86-64\n"
                          << "file " << dir << "/kernel/lamina.elf\n"
                          << "target remote 127.0.0.1:" << port << "\n"
                          << "hbreak kernel_main\n"
                          << "continue\n"
                          << "bt\n"
                          << "kill\n";
    // QEMU waits for gdb on a free port; the trap ends it whatever gdb does (a QEMU left
    // waiting would otherwise live on after the test).
    std::string cmd = "sh -c 'images/run --build-dir=" + dir + " --gdb=" + std::to_string(port) +
                      " --direct --snapshot --port=0 --serial=null " + dir +
                      "/images/test.img >/dev/null 2>&1 & q=$!; trap \"kill $q 2>/dev/null\" EXIT; "
                      "sleep 1; timeout 60 gdb -q -batch -x " +
                      script + "'";
    std::string out = run_command(cmd).output;
    EXPECT_NE(out.find("kernel_main (magic="), std::string::npos) << out;
    EXPECT_NE(out.find("kernel/main.cpp:"), std::string::npos) << out;
    EXPECT_NE(out.find("higher_half_entry"), std::string::npos) << out;
}

}  // namespace
}  // namespace lamina::test
