// domctl, the static musl binary that goes into the images, run on the host: Lamina runs static
// Linux binaries unchanged, so the host runs the very same file. DOMCTL_PROC points it at a fake
// /proc holding a `domains` listing and a `domctl` control file; a seccomp filter in the child
// makes writes to the control file fail with the errors the kernel returns (ENOENT for an
// unknown domain, EBUSY, EINVAL).
#include <gtest/gtest.h>

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/system/host_tools.h"
#include "tests/system/qemu.h"

namespace lamina::test {
namespace {

class Domctl : public ::testing::Test {
protected:
    void SetUp() override {
        binary_ = build_dir() + "/userland/domctl";
        ASSERT_EQ(access(binary_.c_str(), X_OK), 0) << binary_ << " is not built";
        char tmpl[] = "/tmp/lamina-domctl-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        proc_ = dir_ + "/proc";
        ASSERT_EQ(mkdir(proc_.c_str(), 0755), 0);
        write_text(proc_ + "/domctl", "");
    }
    void TearDown() override {
        if (!dir_.empty()) {
            std::string cmd = "rm -rf '" + dir_ + "'";
            EXPECT_EQ(std::system(cmd.c_str()), 0);
        }
    }

    // Runs domctl with args; with write_errno, every write(2) to a descriptor above 2 (the
    // control file; stdout and stderr are 1 and 2) fails with that errno.
    ProgramResult run(const std::vector<std::string>& args, int write_errno = 0) {
        std::vector<sock_filter> filter = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 4),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 2),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
            BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 2, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(write_errno) & 0xffff)),
        };
        sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};

        std::vector<std::string> argv = {binary_};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_program(argv, {"DOMCTL_PROC=" + proc_}, dir_, "", write_errno ? &prog : nullptr);
    }

    std::string control() const { return read_text(proc_ + "/domctl"); }

    std::string binary_, dir_, proc_;
};

TEST_F(Domctl, IsAStaticBinary) { EXPECT_EQ(static_binary_problem(binary_), ""); }

TEST_F(Domctl, ListPrintsAnAlignedTable) {
    write_text(proc_ + "/domains",
               "# a comment\n"
               "id=1 name=fs state=running restarts=0 faults=0 calls_in=812 calls_out=40 "
               "heap_pages=64 exchange_objects=3 threads=1 version=1.1 updates=1\n"
               "\n"
               "id=2\tname=net  state=running restarts=2 faults=2 calls_in=100000 calls_out=7 "
               "heap_pages=512 exchange_objects=12 threads=2 added_later=9\n"
               "id=13 name=nvme state=restarting restarts=1\n");
    auto r = run({"list"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out,
              "ID  NAME  STATE       RESTARTS  FAULTS  CALLS_IN  CALLS_OUT  HEAP_PAGES  EXCHANGE_OBJS  THREADS  "
              "VERSION  UPDATES\n"
              " 1  fs    running            0       0       812         40          64              3        1  "
              "1.1            1\n"
              " 2  net   running            2       2    100000          7         512             12        2  "
              "-              -\n"
              "13  nvme  restarting         1       -         -          -           -              -        -  "
              "-              -\n");
}

TEST_F(Domctl, ListOfNoDomainsIsJustTheHeader) {
    write_text(proc_ + "/domains", "");
    auto r = run({"list"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.rfind("ID  NAME  STATE  RESTARTS", 0), 0u) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

TEST_F(Domctl, ListReadsPastAnyBufferSize) {
    std::string text;
    for (int i = 1; i <= 300; i++) {
        text += "id=" + std::to_string(i) + " name=d" + std::to_string(i) +
                " state=running restarts=0 faults=0 calls_in=1 calls_out=1 heap_pages=1 "
                "exchange_objects=0 threads=1\n";
    }
    write_text(proc_ + "/domains", text);
    auto r = run({"list"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 301);
    EXPECT_NE(r.out.find("\n300  d300  "), std::string::npos);
}

TEST_F(Domctl, ListSkipsMalformedLinesWithAnError) {
    write_text(proc_ + "/domains",
               "id=1 name=fs state=running\n"
               "id=2 name=net garbage\n"
               "state=running\n"
               "id=4 name=x id=5\n"
               "id=6 name=ok state=stopped\n");
    auto r = run({"list"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find(" 1  fs    running"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" 6  ok    stopped"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("net"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("line 2 skipped: a field is not key=value"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("line 3 skipped: no id= or no name="), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("line 4 skipped: a key appears twice"), std::string::npos) << r.err;
}

TEST_F(Domctl, ListWithoutProcDomainsFails) {
    auto r = run({"list"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("domctl: cannot read " + proc_ + "/domains: No such file or directory"), std::string::npos)
        << r.err;
    EXPECT_EQ(r.out, "");
}

TEST_F(Domctl, InjectWritesOneCommandLine) {
    auto r = run({"inject", "fs", "ud"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(control(), "inject fs ud\n");
    EXPECT_EQ(r.out, "domctl: injected a ud fault into fs\n");
    for (const char* kind : {"panic", "null", "div0", "loop"}) {
        write_text(proc_ + "/domctl", "");
        auto k = run({"inject", "net", kind});
        EXPECT_EQ(k.status, 0) << kind << ": " << k.err;
        EXPECT_EQ(control(), std::string("inject net ") + kind + "\n");
    }
}

TEST_F(Domctl, InjectDefaultsToPanic) {
    auto r = run({"inject", "nvme"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(control(), "inject nvme panic\n");
}

TEST_F(Domctl, RestartWritesOneCommandLine) {
    auto r = run({"restart", "net"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(control(), "restart net\n");
    EXPECT_EQ(r.out, "domctl: restarting net\n");
}

TEST_F(Domctl, UpdateWritesOneCommandLine) {
    auto r = run({"update", "fs"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(control(), "update fs\n");
    EXPECT_EQ(r.out, "domctl: updated fs\n");
    write_text(proc_ + "/domctl", "");
    auto p = run({"update", "fs", "/lib/lamina/domains/fs-next.dom"});
    EXPECT_EQ(p.status, 0) << p.err;
    EXPECT_EQ(control(), "update fs /lib/lamina/domains/fs-next.dom\n");
}

TEST_F(Domctl, UpdateRefusedByTheKernelIsAnError) {
    auto r = run({"update", "fs", "other"}, EINVAL);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "domctl: the kernel refused 'update fs other': Invalid argument\n");
    auto u = run({"update", "fs", "a", "b"});
    EXPECT_EQ(u.status, 2);
    EXPECT_NE(u.err.find("update takes NAME and an optional PACKAGE"), std::string::npos) << u.err;
}

TEST_F(Domctl, UnknownDomainIsAnError) {
    auto r = run({"inject", "ghost", "null"}, ENOENT);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "domctl: no domain named 'ghost' (see 'domctl list')\n");
    EXPECT_EQ(r.out, "");
    auto s = run({"restart", "ghost"}, ENOENT);
    EXPECT_EQ(s.status, 1);
    EXPECT_EQ(s.err, "domctl: no domain named 'ghost' (see 'domctl list')\n");
}

TEST_F(Domctl, KernelRefusalsAreReported) {
    auto busy = run({"restart", "fs"}, EBUSY);
    EXPECT_EQ(busy.status, 1);
    EXPECT_EQ(busy.err, "domctl: domain 'fs' cannot take 'restart fs' now: Resource busy\n");
    auto inval = run({"inject", "fs", "loop"}, EINVAL);
    EXPECT_EQ(inval.status, 1);
    EXPECT_EQ(inval.err, "domctl: the kernel refused 'inject fs loop': Invalid argument\n");
}

TEST_F(Domctl, MissingControlFileIsAnError) {
    ASSERT_EQ(unlink((proc_ + "/domctl").c_str()), 0);
    auto r = run({"restart", "fs"});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("cannot open " + proc_ + "/domctl: No such file or directory"), std::string::npos) << r.err;
}

TEST_F(Domctl, UsageErrorsExitWithTwoAndWriteNothing) {
    const std::vector<std::vector<std::string>> bad = {
        {},
        {"frobnicate"},
        {"list", "extra"},
        {"inject"},
        {"inject", "fs", "segv"},
        {"inject", "fs", "ud", "more"},
        {"inject", "two words"},
        {"inject", ""},
        {"inject", "fs\nrestart"},
        {"restart"},
        {"restart", "fs", "net"},
    };
    for (const auto& args : bad) {
        std::string shown;
        for (const auto& a : args) shown += "[" + a + "] ";
        auto r = run(args);
        EXPECT_EQ(r.status, 2) << shown;
        EXPECT_NE(r.err.find("usage: domctl list"), std::string::npos) << shown << r.err;
        EXPECT_EQ(r.out, "") << shown;
        EXPECT_EQ(control(), "") << shown;
    }
    auto kind = run({"inject", "fs", "segv"});
    EXPECT_EQ(kind.err.rfind("domctl: unknown fault kind 'segv'\n", 0), 0u) << kind.err;
    auto cmd = run({"frobnicate"});
    EXPECT_EQ(cmd.err.rfind("domctl: unknown command 'frobnicate'\n", 0), 0u) << cmd.err;
}

TEST_F(Domctl, HelpGoesToStdout) {
    auto r = run({"--help"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out.rfind("usage: domctl list\n", 0), 0u) << r.out;
    EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace lamina::test
