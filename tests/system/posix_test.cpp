// User programs: each test program (tests/programs, static musl) runs in Lamina as init (direct
// boot, `init=NAME args`) and natively on the host Linux, the same binary; the outputs must be
// the same and the exit statuses must agree.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"

namespace lamina::test {
namespace {

struct Program {
    const char* name;
    std::vector<std::string> args;
    int exit_status;  // expected, when signal is 0
    int signal;       // expected fatal signal, or 0
    // Where the test image installs it, to run it from the read-write ext3 root (init=/PATH)
    // rather than as a boot module on the kernel's tmpfs root with the ext3 one read-only.
    const char* path = nullptr;
    // How long it may run. threads_stress gets more: its phase of forks beside two spinning
    // writer threads takes about 2 s, but in some full checks 12-34 s, under load 100-130 s,
    // and once it did not end within 240 s. That is a kernel problem not found yet (a
    // scheduling or shoot-down stall, the session 5 note), which the longer wait does not hide.
    int timeout_s = 60;
};

struct HostRun {
    std::string output;
    int status;
};

HostRun run_on_host(const Program& p) {
    std::string path = build_dir() + "/tests/programs/" + p.name;
    int fds[2];
    if (pipe(fds) != 0) return {"", -1};
    pid_t pid = fork();
    if (pid == 0) {
        default_signals();  // as init starts in Lamina, whatever this test program inherited
        dup2(fds[1], 1);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 2);
        // Only 0-2 stay open, as in Lamina: programs that check descriptor numbers (the
        // lowest free one) must see the same table on both sides.
        for (int fd = 3; fd < 1024; fd++) close(fd);
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(p.name));
        for (auto& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(path.c_str(), argv.data());
        _exit(127);
    }
    close(fds[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    close(fds[0]);
    int status = -1;
    waitpid(pid, &status, 0);
    return {out, status};
}

// Drops carriage returns and the kernel's own lines ("pid N (name): ...").
std::string normalise(const std::string& s) {
    std::istringstream in(s);
    std::string line, out;
    auto kernel_line = [](const std::string& l) {
        if (l.rfind("pid ", 0) != 0) return false;
        size_t i = 4;
        while (i < l.size() && isdigit(static_cast<unsigned char>(l[i]))) i++;
        return i > 4 && l.compare(i, 2, " (") == 0 && l.find("): ", i) != std::string::npos;
    };
    while (std::getline(in, line)) {
        line.erase(std::remove(line.begin(), line.end(), '\r'), line.end());
        if (kernel_line(line)) continue;
        out += line + "\n";
    }
    return out;
}

class Posix : public SystemTest, public ::testing::WithParamInterface<Program> {};

TEST_P(Posix, SameOutputAsLinux) {
    const Program& p = GetParam();
    HostRun host = run_on_host(p);
    if (p.signal) {
        ASSERT_TRUE(WIFSIGNALED(host.status)) << "host status " << host.status;
        EXPECT_EQ(WTERMSIG(host.status), p.signal);
    } else {
        ASSERT_TRUE(WIFEXITED(host.status)) << "host status " << host.status;
        EXPECT_EQ(WEXITSTATUS(host.status), p.exit_status);
    }

    std::string init = p.path ? p.path : p.name;
    std::string cmd = "init=" + init;
    for (auto& a : p.args) cmd += " " + a;
    auto& vm = boot({.direct = true, .append = cmd});
    ASSERT_TRUE(vm.wait_for("init: starting " + init, BOOT_TIMEOUT));
    std::string output;
    ASSERT_TRUE(vm.wait_for("\ninit ", std::chrono::seconds(p.timeout_s), output));
    output.erase(0, output.find('\n') + 1);  // the rest of the "starting" line
    std::string end;
    ASSERT_TRUE(vm.wait_for("\n", 5s, end));
    end.erase(std::remove(end.begin(), end.end(), '\r'), end.end());
    if (p.signal) {
        // "killed by signal N", then the signal's name in parentheses when the kernel knows it.
        std::string expect = "killed by signal " + std::to_string(p.signal);
        EXPECT_TRUE(end == expect || end.rfind(expect + " (", 0) == 0) << end;
        if (p.signal == 11) {
            EXPECT_EQ(end, expect + " (SIGSEGV)");
        }
    } else {
        EXPECT_EQ(end, "exited with status " + std::to_string(p.exit_status));
    }
    EXPECT_EQ(normalise(output + "\n"), normalise(host.output));
    bool success = !p.signal && p.exit_status == 0;
    EXPECT_EQ(vm.wait_exit(30s), success ? EXIT_KTEST_PASSED : EXIT_KTEST_FAILED);
}

INSTANTIATE_TEST_SUITE_P(
    Programs, Posix,
    ::testing::Values(Program{"hello", {}, 3, 0}, Program{"args", {"one", "two-words", "3"}, 0, 0},
                      Program{"malloc", {}, 0, 0}, Program{"mmap", {}, 0, 0}, Program{"mremap", {}, 0, 0},
                      Program{"errno", {}, 0, 0}, Program{"segv", {}, 0, 11}, Program{"clock", {}, 0, 0},
                      Program{"float", {}, 0, 0}, Program{"sigwait", {}, 0, 0}, Program{"hello_pie", {}, 3, 0},
                      Program{"files", {}, 0, 0}, Program{"pipe", {}, 0, 0}, Program{"poll", {}, 0, 0},
                      Program{"sigpipe", {}, 0, 13},
                      // Processes and signals.
                      Program{"fork_wait", {}, 0, 0}, Program{"fork_cow", {}, 0, 0}, Program{"fork_many", {}, 0, 0},
                      Program{"exec", {}, 0, 0}, Program{"argmax", {}, 0, 0}, Program{"signals", {}, 0, 0},
                      Program{"sigchld_eintr", {}, 0, 0}, Program{"pgroups", {}, 0, 0}, Program{"deaths", {}, 0, 0},
                      Program{"segv_handler", {}, 0, 0}, Program{"procmisc", {}, 0, 0}, Program{"mmap_file", {}, 0, 0},
                      Program{"timers", {}, 0, 0}, Program{"posix_timers", {}, 0, 0}, Program{"file_locks", {}, 0, 0},
                      Program{"sched_prio", {}, 0, 0}, Program{"fallocate", {}, 0, 0},
                      Program{"orphans", {}, 0, 0, "/usr/libexec/lamina/orphans"},
                      // Threads.
                      Program{"threads", {}, 0, 0}, Program{"threads_stress", {}, 0, 0, nullptr, 240},
                      Program{"memsched", {}, 0, 0},
                      // Users and permissions (run as root on the host too).
                      Program{"perms", {}, 0, 0},
                      // Sockets.
                      Program{"unix", {}, 0, 0}, Program{"epoll", {}, 0, 0}, Program{"inet", {}, 0, 0}),
    [](const auto& info) { return std::string(info.param.name); });

// The kernel's side of a killed process: one log line naming the process, the signal and the
// address, and the kernel goes on. The line is on the console only at loglevel=7 and above.
TEST_F(SystemTest, NullDereferenceIsReportedAndKernelContinues) {
    auto& vm = boot({.direct = true, .append = "loglevel=7 init=segv"});
    ASSERT_TRUE(vm.wait_for("pid 1 (segv): SIGSEGV at 0x0: no mapping, write", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("init killed by signal 11", 10s));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_FAILED);
}

TEST_F(SystemTest, UserFaultLinesStayOffTheConsoleByDefault) {
    auto& vm = boot({.direct = true, .append = "init=segv"});
    std::string console;
    ASSERT_TRUE(vm.wait_for("init killed by signal 11", BOOT_TIMEOUT, console));
    EXPECT_EQ(console.find("SIGSEGV at"), std::string::npos) << console;
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_FAILED);
}

// #! scripts (boot modules for now): the interpreter runs with the line's argument and the
// script's path, through two levels here, as Linux builds argv.
TEST_F(SystemTest, ScriptsRunTheirInterpreter) {
    auto& vm = boot({.direct = true, .append = "init=script_nested extra"});
    ASSERT_TRUE(vm.wait_for("argc=5", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("argv[1]=one arg", 10s));
    ASSERT_TRUE(vm.wait_for("argv[2]=/bin/script_args", 10s));
    ASSERT_TRUE(vm.wait_for("argv[3]=script_nested", 10s));
    ASSERT_TRUE(vm.wait_for("argv[4]=extra", 10s));
    ASSERT_TRUE(vm.wait_for("init exited with status 0", 10s));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

TEST_F(SystemTest, UnknownProgramIsAnError) {
    auto& vm = boot({.direct = true, .append = "init=no-such-program"});
    ASSERT_TRUE(vm.wait_for("init: cannot start no-such-program: ", BOOT_TIMEOUT));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_FAILED);
}

// Console input: read(0) blocks until a line arrives, echoing it.
TEST_F(SystemTest, ReadsConsoleLines) {
    auto& vm = boot({.direct = true, .append = "init=readline"});
    ASSERT_TRUE(vm.wait_for("ready", BOOT_TIMEOUT));
    vm.send("hello world\r");
    ASSERT_TRUE(vm.wait_for("got: [hello world] (12 bytes)", 20s));
    vm.send("second\r");
    ASSERT_TRUE(vm.wait_for("got: [second] (7 bytes)", 20s));
    vm.send("quit\r");
    ASSERT_TRUE(vm.wait_for("init exited with status 0", 20s));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

TEST_F(SystemTest, UnknownSystemCallIsLoggedOnceByNumber) {
    auto& vm = boot({.direct = true, .append = "loglevel=7 init=errno"});
    ASSERT_TRUE(vm.wait_for("pid 1 (errno): system call 1000 (unknown) is not implemented: ENOSYS", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("init exited with status 0", 20s));
}

// uname/sethostname, sysinfo, syslog and reboot's checks, then reboot(RB_POWER_OFF) ends the
// machine through ACPI: QEMU exits with status 0, not through the test exit device.
TEST_F(SystemTest, SystemCallsAndPowerOff) {
    auto& vm = boot({.direct = true, .append = "init=sysctl poweroff"});
    ASSERT_TRUE(vm.wait_for("0 failures", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("lamina: powering off", 10s));
    EXPECT_EQ(vm.wait_exit(30s), 0);
}

// Programs also start through UEFI + GRUB (module2 lines from the profile's `module` keys).
TEST_F(SystemTest, ProgramStartsThroughGrub) {
    auto& vm = boot({.direct = false, .append = "init=hello"});
    ASSERT_TRUE(vm.wait_for("hello from user space", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("init exited with status 3", 10s));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_FAILED);
}

}  // namespace
}  // namespace lamina::test
