// Users and logging in (issue 20), as an administrator and a new user meet them on the console:
// root adds a user with adduser and gives it a password, the user gets a shell through su and
// through login, cannot read /etc/shadow or crash a domain, changes its own password, and
// reaches root again only with root's password; deluser removes it. Every step waits for a marker the shell computes
// ($((...))), so the echoed command line never matches it.
#include <algorithm>

#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

constexpr auto STEP = 60s;

class Users : public SystemTest {
protected:
    // Sends a command line followed by a marker and returns what came before the marker.
    std::string step(Qemu& vm, const std::string& line) {
        int n = ++steps_;
        vm.send(line + "; echo step-$((" + std::to_string(n) + "*1000))\r");
        std::string out;
        EXPECT_TRUE(vm.wait_for("step-" + std::to_string(n * 1000), STEP, out)) << line;
        out.erase(std::remove(out.begin(), out.end(), '\r'), out.end());
        return out;
    }
    int steps_ = 0;
};

TEST_F(Users, AddedUserLogsInAndStaysUnprivileged) {
    auto& vm = boot({.direct = true});
    ASSERT_TRUE(vm.wait_for("root@lamina:~# ", BOOT_TIMEOUT));
    step(vm, "stty -echo");

    std::string out = step(vm, "adduser -D alice && echo alice:wonderland | chpasswd; grep alice /etc/passwd");
    EXPECT_NE(out.find("alice:x:1000:1000:"), std::string::npos) << out;
    out = step(vm, "ls -ld /home/alice; ls -l /etc/shadow");
    EXPECT_NE(out.find("alice    alice"), std::string::npos) << out;
    EXPECT_NE(out.find("-rw-------    1 root     root"), std::string::npos) << out;

    // su from root asks nothing; the new shell runs as alice.
    vm.send("su alice\r");
    out = step(vm, "id");
    EXPECT_NE(out.find("uid=1000(alice) gid=1000(alice)"), std::string::npos) << out;
    out = step(vm, "cat /etc/shadow || echo shadow-refused-$((6*7))");
    EXPECT_NE(out.find("shadow-refused-42"), std::string::npos) << out;
    EXPECT_EQ(out.find("root:$6$"), std::string::npos) << out;
    out = step(vm, "domctl inject fs || echo inject-refused-$((6*7))");
    EXPECT_NE(out.find("inject-refused-42"), std::string::npos) << out;
    out = step(vm, "kill -0 1 || echo kill-refused-$((6*7))");
    EXPECT_NE(out.find("kill-refused-42"), std::string::npos) << out;
    out = step(vm, "touch ~/notes && ls -l ~/notes");
    EXPECT_NE(out.find("alice    alice"), std::string::npos) << out;

    // Back to root through su and root's password (busybox is set-user-id root for this).
    vm.send("su -c 'echo root-is-$(id -u)' root\r");
    ASSERT_TRUE(vm.wait_for("Password: ", STEP));
    vm.send("lamina\r");
    out = step(vm, "true");
    EXPECT_NE(out.find("root-is-0"), std::string::npos) << out;
    // alice changes her own password: passwd needs root's privilege to write /etc/shadow.
    vm.send("passwd\r");
    ASSERT_TRUE(vm.wait_for("Old password: ", STEP));
    vm.send("wonderland\r");
    ASSERT_TRUE(vm.wait_for("New password: ", STEP));
    vm.send("Tea-party7\r");
    ASSERT_TRUE(vm.wait_for("Retype password: ", STEP));
    vm.send("Tea-party7\r");
    ASSERT_TRUE(vm.wait_for("password for alice changed", STEP));
    vm.send("exit\r");  // alice's su shell

    // The domain was never crashed by alice's attempt.
    out = step(vm, "id -u; grep -c 'name=fs .*faults=0' /proc/domains");
    EXPECT_NE(out.find("0\n1\n"), std::string::npos) << out;

    // login asks for the password and starts alice's login shell in her home.
    out = step(vm, "grep -c '^alice:\\$6\\$' /etc/shadow");
    EXPECT_NE(out.find("1\n"), std::string::npos) << out;  // stored as SHA-512
    vm.send("login alice\r");
    ASSERT_TRUE(vm.wait_for("Password: ", STEP));
    vm.send("Tea-party7\r");
    ASSERT_TRUE(vm.wait_for("alice@lamina:~$ ", STEP));
    out = step(vm, "stty -echo; id -un; pwd");
    EXPECT_NE(out.find("alice\n/home/alice"), std::string::npos) << out;
    vm.send("exit\r");  // back to root's shell
    ASSERT_TRUE(vm.wait_for("root@lamina:~# ", STEP));

    out = step(vm, "deluser alice; grep -c alice /etc/passwd /etc/shadow /etc/group");
    EXPECT_NE(out.find("/etc/passwd:0"), std::string::npos) << out;
    EXPECT_NE(out.find("/etc/shadow:0"), std::string::npos) << out;
}

// The secure image's console asks for a login (getty, then login) instead of starting a root
// shell; a wrong password is refused and root's documented one ("lamina") lets root in.
TEST_F(Users, SecureImageAsksForALogin) {
    auto& vm = boot({.profile = "secure", .direct = true});
    std::string console;
    ASSERT_TRUE(vm.wait_for("lamina login: ", BOOT_TIMEOUT, console));
    EXPECT_EQ(console.find("root@lamina"), std::string::npos) << console;
    vm.send("root\r");
    ASSERT_TRUE(vm.wait_for("Password: ", STEP));
    vm.send("guess\r");
    ASSERT_TRUE(vm.wait_for("Login incorrect", STEP));
    ASSERT_TRUE(vm.wait_for("lamina login: ", STEP));
    vm.send("root\r");
    ASSERT_TRUE(vm.wait_for("Password: ", STEP));
    vm.send("lamina\r");
    ASSERT_TRUE(vm.wait_for("root@lamina:~# ", STEP));
    std::string out = step(vm, "id -u; tty");
    EXPECT_NE(out.find("0\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace lamina::test
