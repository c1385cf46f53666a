// The sampling profiler end to end: tests/programs/profile_spin profiles a known busy loop
// through /proc/profile and prints the samples; tools/profile symbolizes them on the host
// against the program's ELF file and lamina.elf, and the loop must top the flat profile.
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"

namespace lamina::test {
namespace {

// The flat profile's rows: `samples percent where function`.
struct Row {
    long samples;
    std::string where, function;
};

std::vector<Row> flat_rows(const std::string& text) {
    std::vector<Row> rows;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream l(line);
        Row r;
        double percent;
        if (l >> r.samples >> percent >> r.where >> r.function) rows.push_back(r);
    }
    return rows;
}

TEST_F(SystemTest, ProfilerFindsTheBusyLoop) {
    auto& vm = boot({.direct = true, .append = "init=profile_spin"});
    ASSERT_TRUE(vm.wait_for("=== profile begin", BOOT_TIMEOUT));
    std::string profile;
    ASSERT_TRUE(vm.wait_for("=== profile end", 120s, profile));
    EXPECT_EQ(vm.wait_exit(60s), EXIT_KTEST_PASSED) << vm.output();
    EXPECT_EQ(vm.output().find("FAILED"), std::string::npos) << vm.output();
    profile.erase(std::remove(profile.begin(), profile.end(), '\r'), profile.end());
    profile.erase(0, profile.find('\n') + 1);  // the rest of the marker's line

    char path[] = "/tmp/lamina-profile-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << profile;
    CommandResult flat = run_command("tools/profile --build " + build_dir() + " --top 0 " + path);
    CommandResult folded = run_command("tools/profile --build " + build_dir() + " --folded " + path);
    std::remove(path);
    ASSERT_EQ(flat.status, 0) << flat.output;
    ASSERT_EQ(folded.status, 0) << folded.output;

    std::vector<Row> rows = flat_rows(flat.output);
    ASSERT_FALSE(rows.empty()) << flat.output;
    // The loop ran until the profile held 400 samples, on one CPU of two: apart from the other CPU's idle loop it tops
    // the profile, with far more samples than anything else the program did (GCC may name the
    // function's clone spin_in_user.constprop.0 and such).
    size_t top = rows[0].function.find("idle_loop") != std::string::npos && rows.size() > 1 ? 1 : 0;
    EXPECT_EQ(rows[top].where, "profile_spin") << flat.output;
    EXPECT_EQ(rows[top].function.rfind("spin_in_user", 0), 0u) << flat.output;
    EXPECT_GT(rows[top].samples, 100) << flat.output;
    // Kernel addresses are symbolized against lamina.elf (the idle CPU's samples at least).
    bool kernel_symbol = false;
    for (const Row& r : rows)
        if (r.where == "kernel" && r.function.rfind("?", 0) != 0) kernel_symbol = true;
    EXPECT_TRUE(kernel_symbol) << flat.output;
    EXPECT_NE(folded.output.find("profile_spin;profile_spin:spin_in_user"), std::string::npos) << folded.output;
}

}  // namespace
}  // namespace lamina::test
