// The distribution as a user meets it: boot the image, get busybox's shell on the serial
// console, and use it (issue 7's list). Every command's output is read back through the console
// and checked; a marker echoed after each command tells where its output ends.
#include <algorithm>
#include <cstdlib>
#include <thread>

#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"
#include "tests/system/shell.h"

namespace lamina::test {
namespace {

// e2fsck -fn finds the image's ext2 root clean.
void expect_root_clean(const std::string& image) {
    std::string part = root_partition(image);
    ASSERT_FALSE(part.empty());
    auto fsck = run_command("e2fsck -fn '" + part + "'");
    EXPECT_EQ(fsck.status, 0) << fsck.output;
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

TEST_F(ShellTest, CoreUtilitiesAndPipelines) {
    Shell& sh = start();
    int bins = std::atoi(sh.run("ls -l /bin | wc -l").c_str());
    EXPECT_GT(bins, 50);
    EXPECT_EQ(sh.run("echo hi > /tmp/x && cat /tmp/x"), "hi\n");
    sh.run("sh -c 'exit 3'");
    EXPECT_EQ(sh.status(), 3);
    EXPECT_EQ(sh.run("find / -xdev -name passwd | sort"), "/etc/passwd\n/usr/bin/passwd\n");
    EXPECT_EQ(sh.run("printf 'b\\na\\nc\\na\\n' | sort | uniq -c | sed 's/^ *//' | awk '{print $2 \"=\" $1}'"),
              "a=2\nb=1\nc=1\n");
    EXPECT_EQ(sh.run("grep -c root /etc/passwd"), "1\n");
    // One execve of ~9 KiB of arguments, and xargs splitting 20000 into several.
    EXPECT_EQ(sh.run("seq 1 2000 | xargs echo | wc -w"), "2000\n");
    EXPECT_EQ(sh.run("seq 1 20000 | xargs echo | wc -w"), "20000\n");
}

// syslogd and logger talk over the AF_UNIX datagram socket /dev/log (issue 13).
TEST_F(ShellTest, SyslogdReceivesLoggerMessages) {
    Shell& sh = start();
    sh.run("syslogd -O /tmp/messages -S");
    EXPECT_EQ(sh.status(), 0);
    EXPECT_EQ(sh.run("ls -l /dev/log | cut -c1"), "s\n");
    sh.run("logger -t lamina-test 'hello from logger' && logger -p user.err second-message");
    EXPECT_EQ(sh.status(), 0);
    // syslogd writes asynchronously: poll the file for both lines.
    EXPECT_EQ(sh.poll("grep -c -e 'lamina-test: hello from logger' -e 'second-message' /tmp/messages", "2\n"), "2\n");
    sh.run("killall syslogd");
}

TEST_F(ShellTest, TarGzipRoundTripAndChecksums) {
    Shell& sh = start();
    sh.run("mkdir -p /tmp/src/sub && echo one > /tmp/src/a && seq 1 5000 > /tmp/src/sub/b && ln -s a /tmp/src/l");
    EXPECT_EQ(sh.status(), 0);
    sh.run(
        "cd /tmp && tar czf src.tgz src && mkdir out && cd out && tar xzf ../src.tgz && diff -r /tmp/src /tmp/out/src");
    EXPECT_EQ(sh.status(), 0);
    std::string sum = sh.run("dd if=/dev/zero bs=1024 count=4096 2>/dev/null | md5sum");
    EXPECT_EQ(sum, "b5cfa9d6c8febd618f91ac2843d50a1c  -\n");  // md5 of 4 MiB of zeros
}

TEST_F(ShellTest, JobsSignalsAndProcesses) {
    Shell& sh = start();
    // The shell's "[1]+ Done" notice may come before or after "done".
    std::string jobs = sh.run("sleep 1 & jobs | grep -c sleep; wait; echo done");
    EXPECT_NE(jobs.find("1\n"), std::string::npos) << jobs;
    EXPECT_NE(jobs.find("done\n"), std::string::npos) << jobs;
    // Ctrl-C interrupts a foreground cat and the shell carries on.
    vm_->send("cat\r");
    std::this_thread::sleep_for(2s);
    vm_->send("\x03");
    EXPECT_TRUE(sh.wait_prompt(CMD_TIMEOUT));
    EXPECT_EQ(sh.run("echo after"), "after\n");
    EXPECT_NE(sh.run("ps").find("/bin/sh"), std::string::npos);
    // Ctrl-Z stops the foreground job, fg continues it, Ctrl-C ends it.
    vm_->send("sleep 30\r");
    std::this_thread::sleep_for(2s);
    vm_->send("\x1a");
    EXPECT_TRUE(vm_->wait_for("Stopped", CMD_TIMEOUT));
    EXPECT_TRUE(sh.wait_prompt(CMD_TIMEOUT));
    EXPECT_NE(sh.run("jobs").find("Stopped                    sleep 30"), std::string::npos);
    vm_->send("fg\r");
    EXPECT_TRUE(vm_->wait_for("sleep 30", CMD_TIMEOUT));  // fg names the job it continues
    std::this_thread::sleep_for(1s);
    vm_->send("\x03");
    EXPECT_TRUE(sh.wait_prompt(CMD_TIMEOUT));
    EXPECT_EQ(sh.run("jobs; echo back"), "back\n");
    // Killed at once: the interactive shell ignores SIGTERM and its child ignores it too until
    // it resets its signals, which fork's head start lets it do before the kill lands.
    for (int i = 0; i < 5; i++) {
        auto start = std::chrono::steady_clock::now();
        // Before it: the shell's notices of the job's end ("[1]+  Terminated ...").
        std::string out = sh.run("sleep 100 & kill $!; wait $!; echo st=$?");
        EXPECT_TRUE(ends_with(out, "st=143\n")) << "try " << i << ": " << out;
        EXPECT_LT(std::chrono::steady_clock::now() - start, 30s) << "try " << i;
    }
}

TEST_F(ShellTest, DomctlListsDomains) {
    Shell& sh = start();
    std::string list = sh.run("domctl list");
    EXPECT_NE(list.find("NAME"), std::string::npos) << list;
    EXPECT_NE(list.find("nvme"), std::string::npos) << list;
    EXPECT_NE(list.find("fs"), std::string::npos) << list;
    EXPECT_NE(list.find("virtio_net"), std::string::npos) << list;
}

// The NIC driver domain's card is eth0 in /proc/net/dev, whose layout ifconfig and netstat read;
// its counters do not go back to zero when the driver is crashed.
TEST_F(ShellTest, NetDevShowsTheCardAcrossADriverCrash) {
    Shell& sh = start();
    std::string dev = sh.run("cat /proc/net/dev");
    EXPECT_NE(dev.find("face |bytes    packets errs drop"), std::string::npos) << dev;
    EXPECT_NE(dev.find("eth0:"), std::string::npos) << dev;
    EXPECT_NE(sh.run("ls /proc/net").find("dev"), std::string::npos);
    sh.run("domctl inject virtio_net");
    // The next use of the card (here: reading its counters) goes through the shadow, which
    // restarts the driver.
    dev = sh.run("cat /proc/net/dev");
    EXPECT_NE(dev.find("eth0:"), std::string::npos) << dev;
    std::string list = sh.run("domctl list | grep virtio_net");
    EXPECT_NE(list.find("running"), std::string::npos) << list;
}

// The NVMe driver crashes while md5sum reads a large file; its shadow restarts it and the sum
// is the same as before.
TEST_F(ShellTest, NvmeCrashDuringReadIsInvisible) {
    Shell& sh = start();
    sh.run("dd if=/dev/urandom of=/root/big bs=1048576 count=32 2>/dev/null && sync");
    ASSERT_EQ(sh.status(), 0);
    // Restarting the fs domain (its cache written back first) makes md5sum read the disk.
    std::string before = sh.run("domctl restart fs && md5sum /root/big");
    std::string during = sh.run("domctl restart fs; (sleep 0.1; domctl inject nvme) & md5sum /root/big; wait");
    // The kernel's log lines share the console: the crash and the restart happened while
    // md5sum ran, before its sum.
    size_t restart = during.find("domain nvme: restarted after");
    EXPECT_NE(restart, std::string::npos) << during;
    size_t sum = during.find("  /root/big");
    ASSERT_NE(sum, std::string::npos) << during;
    EXPECT_LT(restart, sum) << during;
    EXPECT_EQ(during.substr(sum - 32, 32), trim(before).substr(trim(before).size() - 32 - 11, 32)) << during << before;
    std::string list = sh.run("domctl list | grep nvme");
    EXPECT_NE(list.find("running"), std::string::npos) << list;
}

// Files written in the OS survive a reboot, and after poweroff the root file system is clean.
TEST_F(ShellTest, FilesSurviveRebootAndPoweroffLeavesCleanFs) {
    ImageCopy copy;
    ASSERT_TRUE(copy.ok());
    const std::string& image = copy.path();
    {
        Shell& sh = start({.direct = true, .image = image, .snapshot = false});
        sh.run("echo persistent > /root/keep && sync");
        EXPECT_EQ(sh.status(), 0);
        vm_->send("reboot\r");
        EXPECT_TRUE(vm_->wait_for("lamina: rebooting", CMD_TIMEOUT));
        EXPECT_EQ(vm_->wait_exit(30s), 0);  // images/run passes -no-reboot
    }
    {
        Shell& sh = start({.direct = true, .image = image, .snapshot = false});
        EXPECT_EQ(sh.run("cat /root/keep"), "persistent\n");
        vm_->send("poweroff\r");
        EXPECT_TRUE(vm_->wait_for("lamina: powering off", CMD_TIMEOUT));
        EXPECT_EQ(vm_->wait_exit(30s), 0);
    }
    expect_root_clean(image);
}

// vi edits a file through the terminal (raw mode, escape sequences) and writes it.
TEST_F(ShellTest, ViEditsAFile) {
    Shell& sh = start();
    sh.run("echo first > /tmp/v");
    vm_->send("vi /tmp/v\r");
    ASSERT_TRUE(vm_->wait_for("/tmp/v 1/1", CMD_TIMEOUT));  // vi's status line
    vm_->send("Osecond\x1b");                               // open a line above, type, leave insert mode
    ASSERT_TRUE(vm_->wait_for("[Modified]", CMD_TIMEOUT));
    std::this_thread::sleep_for(1s);  // the escape on its own, not the start of a sequence
    vm_->send(":wq\r");
    // vi leaves the alternate screen when it exits; input sent before that would be its own.
    ASSERT_TRUE(vm_->wait_for("\x1b[?1049l", CMD_TIMEOUT));
    EXPECT_EQ(sh.run("cat /tmp/v"), "second\nfirst\n");
}

// The fs domain crashes: the shell and its files carry on; what was synced is intact.
TEST_F(ShellTest, FsCrashIsContained) {
    Shell& sh = start();
    sh.run("echo kept > /root/f && sync");
    ASSERT_EQ(sh.status(), 0);
    sh.run("domctl inject fs");
    EXPECT_EQ(sh.status(), 0);
    // The first access meets the failed domain: the shadow restarts it (its log lines share
    // the console) and the read succeeds.
    std::string first = sh.run("cat /root/f");
    EXPECT_EQ(first.substr(first.size() < 5 ? 0 : first.size() - 5), "kept\n") << first;
    EXPECT_NE(first.find("domain fs: restarted after"), std::string::npos) << first;
    EXPECT_EQ(sh.run("echo more >> /root/f && cat /root/f"), "kept\nmore\n");
    EXPECT_NE(sh.run("domctl list | grep ' fs '").find("running"), std::string::npos);
}

// What a user does first: the default image, through UEFI and GRUB, to a shell prompt.
// The value of key=value in such a line.
std::string field(const std::string& line, const std::string& key) {
    std::string text = " " + line + " ";
    size_t at = text.find(" " + key + "=");
    if (at == std::string::npos) return "<no " + key + ">";
    size_t from = at + key.size() + 2;
    return text.substr(from, text.find(' ', from) - from);
}

// A domain's /proc/domains line: "id=N ... version=X.Y updates=N" (a job notice the shell
// printed before it dropped).
std::string domain_line(Shell& sh, const std::string& name) {
    std::string out = trim(sh.run("grep ' name=" + name + " ' /proc/domains"));
    size_t at = out.rfind("id=");
    return at == std::string::npos ? out : out.substr(at);
}
std::string fs_line(Shell& sh) { return domain_line(sh, "fs"); }

// The live-update tests' start: 32 MiB of random bytes in /root/big, synced; dd's status, the
// md5sum line of the file, and the updated domain's /proc/domains line before any update.
struct BigFile {
    int status;
    std::string md5, domain_line;
};
BigFile write_big_file(Shell& sh, const std::string& domain) {
    sh.run("dd if=/dev/urandom of=/root/big bs=1048576 count=32 2>/dev/null && sync");
    int status = sh.status();
    return {status, trim(sh.run("md5sum /root/big")), domain_line(sh, domain)};
}

// The N of "md5=0 updates=N" that an update loop prints; -1 when md5sum failed.
int updates_made(const std::string& out) {
    size_t at = out.find("md5=0 updates=");
    return at == std::string::npos ? -1 : std::atoi(out.c_str() + at + 14);
}

// What identifies the instance serving and its package.
std::string instance_of(const std::string& line) {
    return field(line, "id") + " " + field(line, "state") + " " + field(line, "version") + " " + field(line, "updates");
}

// Live update of the fs domain (kernel/domain/update.h) from packages in /lib/lamina/domains
// (the build makes them from the fs domain's ELF: fs-next with version 1.1, fs-otherif
// exporting another interface, fs-faulty whose entry faults). While md5sum reads a large file
// and a writer appends lines to another, the domain is replaced: the sum is right, every line
// is there, and neither program sees an error; the version and the update count change. An
// update to a package with another interface is refused, and one that faults on start rolled
// back, with the running instance untouched. Ten more updates leave the free memory where it
// was; a restart afterwards starts the new version again.
TEST_F(ShellTest, FsLiveUpdateWhileReading) {
    Shell& sh = start();
    BigFile big = write_big_file(sh, "fs");
    ASSERT_EQ(big.status, 0);
    const std::string& want = big.md5;
    ASSERT_EQ(want.size(), 32u + 11u) << want;
    const std::string& old_line = big.domain_line;
    EXPECT_EQ(field(old_line, "version"), "1.0") << old_line;
    EXPECT_EQ(field(old_line, "updates"), "0") << old_line;

    // Updates one after the other for as long as md5sum runs, five times over the file so that
    // several updates land in the reads (the fresh instances start with an empty cache, so it
    // reads the disk through each of them).
    std::string during = sh.run(
        "(for i in 1 2 3 4 5; do md5sum /root/big; done) >/tmp/sum 2>/tmp/err & p=$!; "
        "(i=0; while [ $i -lt 100 ]; do echo line$i >>/root/log || echo WFAIL; i=$((i+1)); done) & w=$!; n=0; "
        "while kill -0 $p 2>/dev/null || kill -0 $w 2>/dev/null; do "
        "domctl update fs fs-next >/dev/null || echo FAIL; n=$((n+1)); done; "
        "wait $p; echo \"md5=$? updates=$n\"; cat /tmp/sum /tmp/err; wc -l </root/log; tail -n 1 /root/log",
        300s);
    int updates = updates_made(during);
    ASSERT_GE(updates, 2) << during;  // so at least one began during the read
    EXPECT_NE(during.find(want + "\n"), std::string::npos) << during;
    EXPECT_NE(during.find("\n100\nline99"), std::string::npos) << during;  // every appended line
    EXPECT_EQ(during.find("FAIL"), std::string::npos) << during;
    EXPECT_EQ(during.find("md5sum:"), std::string::npos) << during;
    EXPECT_NE(during.find("domain fs: updated to version 1.1"), std::string::npos) << during;
    std::string new_line = fs_line(sh);
    EXPECT_EQ(field(new_line, "version"), "1.1") << new_line;
    EXPECT_EQ(field(new_line, "updates"), std::to_string(updates)) << new_line;
    EXPECT_EQ(field(new_line, "state"), "running") << new_line;
    EXPECT_NE(field(new_line, "id"), field(old_line, "id")) << old_line << "\n" << new_line;
    EXPECT_NE(sh.run("domctl list | grep ' fs '").find(" 1.1 "), std::string::npos);

    std::string refused = sh.run("domctl update fs fs-otherif; echo rc=$?");
    EXPECT_NE(refused.find("exports other interfaces"), std::string::npos) << refused;
    EXPECT_NE(refused.find("rc=1"), std::string::npos) << refused;
    EXPECT_EQ(instance_of(fs_line(sh)), instance_of(new_line));  // the same instance, version and count
    // The same export names, but "fs" published as another interface: refused by its type id.
    std::string impostor = sh.run("domctl update fs fs-impostor; echo rc=$?");
    EXPECT_NE(impostor.find("the new instance publishes 'fs' as interface type"), std::string::npos) << impostor;
    EXPECT_NE(impostor.find("rc=1"), std::string::npos) << impostor;
    EXPECT_EQ(instance_of(fs_line(sh)), instance_of(new_line));
    EXPECT_EQ(trim(sh.run("md5sum /root/big")), want);
    // A new version that faults while it starts: rolled back, the old instance keeps serving.
    std::string faulty = sh.run("domctl update fs fs-faulty; echo rc=$?");
    EXPECT_NE(faulty.find("domain fs: the new version did not start"), std::string::npos) << faulty;
    EXPECT_NE(faulty.find("rc=1"), std::string::npos) << faulty;
    EXPECT_EQ(instance_of(fs_line(sh)), instance_of(new_line));
    EXPECT_EQ(trim(sh.run("md5sum /root/big")), want);

    // Memory: measured after an update (the first ones fill the kernel's allocator caches),
    // then after ten more. A leaked instance costs its image (over 200 pages) and its heap.
    sh.run("domctl update fs fs-next >/dev/null");
    int64_t base = std::atoll(sh.run("awk '/^MemFree/ { print $2 }' /proc/meminfo").c_str());
    std::string loop =
        sh.run("for i in 1 2 3 4 5 6 7 8 9 10; do domctl update fs fs-next >/dev/null || echo FAIL; done", 300s);
    EXPECT_EQ(loop.find("FAIL"), std::string::npos) << loop;
    int64_t after = std::atoll(sh.run("awk '/^MemFree/ { print $2 }' /proc/meminfo").c_str());
    EXPECT_GT(base, 0);
    EXPECT_LE(base - after, 256) << "kB lost over ten updates: " << base << " -> " << after;
    EXPECT_EQ(field(fs_line(sh), "updates"), std::to_string(updates + 11));
    EXPECT_EQ(trim(sh.run("md5sum /root/big")), want);
    // A restart re-creates the updated domain from the package it was updated to.
    sh.run("domctl restart fs");
    EXPECT_EQ(sh.status(), 0);
    std::string restarted = fs_line(sh);
    EXPECT_EQ(field(restarted, "version"), "1.1") << restarted;
    EXPECT_EQ(field(restarted, "restarts"), "1") << restarted;
    EXPECT_EQ(trim(sh.run("md5sum /root/big")), want);
}

// Live update of the NVMe driver (kernel/domain/recovery.h): the block service calls it from
// several threads without a lock, so the old instance drains (new calls wait for the new one)
// and the new instance takes the controller over from it. While md5sum reads a large file and
// a writer appends lines with a sync after each, the driver is updated again and again: the
// sum is right, every line is there, no error reaches either program. A new version that takes
// the controller and then fails leaves the old version serving as a fresh instance. 100 updates
// in a row leave the free memory where it was; an operator's restart of the driver works.
TEST_F(ShellTest, NvmeLiveUpdateWhileReadingAndWriting) {
    Shell& sh = start();
    BigFile big = write_big_file(sh, "nvme");
    ASSERT_EQ(big.status, 0);
    const std::string& want = big.md5;
    ASSERT_EQ(want.size(), 32u + 11u) << want;
    const std::string& old_line = big.domain_line;
    EXPECT_EQ(field(old_line, "version"), "1.0") << old_line;
    EXPECT_EQ(field(old_line, "updates"), "0") << old_line;

    std::string during = sh.run(
        "echo 3 >/proc/sys/vm/drop_caches; md5sum /root/big >/tmp/sum 2>/tmp/err & p=$!; "
        "(i=0; while [ $i -lt 100 ]; do echo line$i >>/root/log || echo WFAIL; sync; i=$((i+1)); done) & w=$!; "
        "n=0; while kill -0 $p 2>/dev/null || kill -0 $w 2>/dev/null; do "
        "domctl update nvme nvme-next >/dev/null || echo FAIL; n=$((n+1)); done; "
        "wait $p; echo \"md5=$? updates=$n\"; cat /tmp/sum /tmp/err; wc -l </root/log; tail -n 1 /root/log",
        300s);
    int updates = updates_made(during);
    ASSERT_GE(updates, 2) << during;
    EXPECT_NE(during.find(want + "\n"), std::string::npos) << during;
    EXPECT_NE(during.find("\n100\nline99"), std::string::npos) << during;
    EXPECT_EQ(during.find("FAIL"), std::string::npos) << during;
    EXPECT_EQ(during.find("md5sum:"), std::string::npos) << during;
    EXPECT_NE(during.find("domain nvme: updated to version 1.1"), std::string::npos) << during;
    std::string new_line = domain_line(sh, "nvme");
    EXPECT_EQ(field(new_line, "version"), "1.1") << new_line;
    EXPECT_EQ(field(new_line, "updates"), std::to_string(updates)) << new_line;
    EXPECT_EQ(field(new_line, "state"), "running") << new_line;
    EXPECT_NE(field(new_line, "id"), field(old_line, "id")) << old_line << "\n" << new_line;

    // The claim test domain under nvme's manifest takes the controller, then exports nothing.
    std::string failed = sh.run("domctl update nvme nvme-claims; echo rc=$?");
    EXPECT_NE(failed.find("the replacement failed after taking its device over: restarting 1.1"), std::string::npos)
        << failed;
    EXPECT_NE(failed.find("rc=1"), std::string::npos) << failed;
    std::string back = domain_line(sh, "nvme");
    EXPECT_EQ(field(back, "version"), "1.1") << back;
    EXPECT_EQ(field(back, "state"), "running") << back;
    EXPECT_EQ(field(back, "restarts"), "1") << back;
    EXPECT_EQ(trim(sh.run("md5sum /root/big")), want);

    // Memory: measured after an update (the first ones fill the kernel's allocator caches),
    // then after 100 more.
    sh.run("domctl update nvme nvme-next >/dev/null");
    int64_t base = std::atoll(sh.run("awk '/^MemFree/ { print $2 }' /proc/meminfo").c_str());
    std::string loop = sh.run(
        "i=0; while [ $i -lt 100 ]; do domctl update nvme nvme-next >/dev/null || echo FAIL; i=$((i+1)); done", 600s);
    EXPECT_EQ(loop.find("FAIL"), std::string::npos) << loop;
    int64_t after = std::atoll(sh.run("awk '/^MemFree/ { print $2 }' /proc/meminfo").c_str());
    EXPECT_GT(base, 0);
    EXPECT_LE(base - after, 256) << "kB lost over 100 updates: " << base << " -> " << after;
    EXPECT_EQ(field(domain_line(sh, "nvme"), "updates"), std::to_string(updates + 101));
    sh.run("domctl restart nvme");
    EXPECT_EQ(sh.status(), 0);
    EXPECT_EQ(field(domain_line(sh, "nvme"), "restarts"), "2");
    EXPECT_EQ(trim(sh.run("md5sum /root/big")), want);
}

TEST_F(SystemTest, DefaultImageBootsToAShellThroughUefi) {
    auto& vm = boot({.profile = "default", .direct = false});
    ASSERT_TRUE(vm.wait_for("Welcome to Lamina.", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("root@lamina:~# ", 60s));
    vm.send("uname -sm; echo done\r");
    ASSERT_TRUE(vm.wait_for("Lamina x86_64", 30s));
    vm.send("poweroff\r");
    ASSERT_TRUE(vm.wait_for("lamina: powering off", 60s));
    EXPECT_EQ(vm.wait_exit(30s), 0);
}

// An ext2 root with damaged metadata (issue 17): a file whose block pointer lies past the end of
// the disk, a directory whose block is garbage, an entry naming a cleared inode. ls, cat and find
// over them end with errors (the fs domain logs what is corrupt); the kernel keeps running and the rest of the file
// system still serves (the fs domain may fault and restart on the way).
TEST_F(ShellTest, DamagedExt2MetadataGivesErrorsAndTheSystemKeepsRunning) {
    ImageCopy copy;
    ASSERT_TRUE(copy.ok());
    std::string part = root_partition(copy.path());
    ASSERT_FALSE(part.empty());
    std::string dir = copy.path() + ".d";
    auto made = run_command("mkdir -p '" + dir + "' && seq 1 5000 > '" + dir + "/data' && printf '" +
                            "mkdir /damaged\nmkdir /damaged/dir\nwrite " + dir + "/data /damaged/file\n" + "write " +
                            dir + "/data /damaged/dir/a\nwrite " + dir + "/data /damaged/dir/b\n" + "write " + dir +
                            "/data /damaged/cleared\nwrite " + dir + "/data /damaged/intact\n" +
                            "sif /damaged/file block[0] 4000000000\nzap_block -f /damaged/dir -p 0xa5 0\n" +
                            "clri /damaged/cleared\n' > '" + dir + "/cmds' && debugfs -w -f '" + dir + "/cmds' '" +
                            part + "' 2>&1; rm -rf '" + dir + "'");
    ASSERT_EQ(made.status, 0) << made.output;
    Shell& sh = start({.direct = true, .image = copy.path()});
    for (const char* line : {"cat /damaged/file > /dev/null", "ls -l /damaged/dir", "cat /damaged/cleared > /dev/null",
                             "find /damaged > /dev/null", "ls -lR /damaged > /dev/null"}) {
        std::string out = sh.run(line);
        EXPECT_NE(out, "<timeout>") << line;
        EXPECT_EQ(out.find("KERNEL PANIC"), std::string::npos) << line << ": " << out;
    }
    sh.run("cat /damaged/file > /dev/null");
    EXPECT_NE(sh.status(), 0) << "a block past the end of the disk read as data";
    // The garbage directory block names nothing (busybox ls does not check readdir's error, so
    // its status says nothing; the fs domain's log line can land inside any command's output).
    sh.run("cat /damaged/dir/a > /dev/null");
    EXPECT_NE(sh.status(), 0) << "a file found through a garbage directory block";
    // What is intact still reads, and the shell (on the same root) still runs programs.
    EXPECT_EQ(sh.run("md5sum < /damaged/intact | cut -c1-32"), run_command("seq 1 5000 | md5sum | cut -c1-32").output);
    EXPECT_EQ(sh.run("grep -c root /etc/passwd"), "1\n");
    EXPECT_EQ(sh.run("echo alive"), "alive\n");
}

// Random system calls with random arguments from the ext2 root (issue 6): the kernel answers
// them all and keeps running, and the file system is clean afterwards.
TEST_F(SystemTest, RandomSystemCallsLeaveTheKernelAndTheFileSystemIntact) {
    ImageCopy copy;
    ASSERT_TRUE(copy.ok());
    const std::string& image = copy.path();
    auto& vm =
        boot({.direct = true, .append = "init=/usr/libexec/lamina/stress 12 3000", .image = image, .snapshot = false});
    ASSERT_TRUE(vm.wait_for("stress: 12 rounds of 3000 calls: ", BOOT_TIMEOUT));
    ASSERT_TRUE(vm.wait_for("stress: the kernel is still running", 10s));
    ASSERT_TRUE(vm.wait_for("init exited with status 0", 30s));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
    expect_root_clean(image);
}

}  // namespace
}  // namespace lamina::test
