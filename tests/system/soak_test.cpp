// The short fault-injection soak of `ninja check` (issue 17): tests/soak/run with 200 faults,
// one every 0.3-0.5 s, into nvme, fs, virtio_net and net, while the guest writes, fsyncs and
// checks files and the host fetches files from nginx in the guest. The script's oracles decide
// (acknowledged data intact inside and on the disk, every HTTP body exact, the kernel alive,
// every domain running again, the free page count back where it was, e2fsck clean); its
// summary table is printed. LAMINA_SOAK_SEED=N repeats a run's choices (17 by default).
#include <cstdio>
#include <cstdlib>

#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"

namespace lamina::test {
namespace {

// Disabled in check until the kernel hang it finds is fixed (RELIABILITY.md, "What the soak
// found": twice the guest stopped dead while driver domains restarted, once in 4 runs with loop
// faults and once after 817 faults of a long run); it passed 8 of 8 runs without loop faults.
// Run it with --gtest_also_run_disabled_tests, or `ninja soak`.
TEST(SoakTest, DISABLED_TwoHundredFaultsLoseNoAcknowledgedDataAndLeakNoPages) {
    const char* seed = std::getenv("LAMINA_SOAK_SEED");
    std::string log = build_dir() + "/tests/logs/SoakTest.console.log";
    auto run = run_command(
        "SOAK_FAULTS=200 SOAK_INTERVAL=300-500 SOAK_SECONDS=300 SOAK_WEB=1 SOAK_KINDS=panic,null,ud,div0,stack "
        "SOAK_SEED=" +
        std::string(seed ? seed : "17") + " SOAK_LOG='" + log + "' tests/soak/run '" + build_dir() + "' 2>&1");
    std::printf("%s", run.output.c_str());
    EXPECT_EQ(run.status, 0) << "the soak failed; the console is in " << log;
    EXPECT_NE(run.output.find("soak: | 200 | 200 |"), std::string::npos) << "not 200 faults, all contained";
    if (run.status == 0) std::remove(log.c_str());
}

}  // namespace
}  // namespace lamina::test
