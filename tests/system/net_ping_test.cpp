// Ping sockets (SOCK_DGRAM + IPPROTO_ICMP): tests/programs/ping runs in Lamina as init and on the
// host Linux, and the outputs must be the same. Linux only makes ping sockets for the groups
// in net.ipv4.ping_group_range, which is empty by default, so the host run happens in a network
// namespace of its own (`unshare -rn`: no root needed) with lo up and the range opened to its
// root group. Where the host allows no such namespace, Lamina's output is compared with the
// Linux output recorded below (Linux 6.1, the same program).
#include <algorithm>

#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"

namespace lamina::test {
namespace {

const char* const RECORDED_LINUX_OUTPUT = R"(SO_TYPE 2, SO_PROTOCOL 1
unbound identifier: 0
4 bytes: -1 EINVAL
timestamp request: -1 EINVAL
code 1: -1 EINVAL
no address: -1 EDESTADDRREQ
AF_UNIX address: -1 EAFNOSUPPORT
nothing to read: -1 EAGAIN
sendto 127.0.0.1: 14
identifier picked: 1
poll: 1, in 1
reply: 14 bytes, type 0 code 0, id is the socket's 1, seq 1, payload same 1, checksum ok 1
from: 127.0.0.1 port 0, length 16
sendto again: 24
peek: 24
truncated with MSG_TRUNC: 10
then nothing: -1 EAGAIN
peer: 127.0.0.1 port 7
send: 17
poll: 1, in 1
reply: 17 bytes, type 0 code 0, id is the socket's 1, seq 3, payload same 1, checksum ok 1
from: 127.0.0.1 port 0, length 16
SO_REUSEADDR 1
bind to the first's identifier: 0
bind again: -1 EINVAL
first sends: 14
poll: 1, in 1
reply: 14 bytes, type 0 code 0, id is the socket's 1, seq 4, payload same 1, checksum ok 1
from: 127.0.0.1 port 0, length 16
first reads: -1 EAGAIN
bind to the first's identifier without SO_REUSEADDR: -1 EADDRINUSE
bind to any: 0
different identifiers: 1
third sends: 13
poll: 1, in 1
reply: 13 bytes, type 0 code 0, id is the socket's 1, seq 5, payload same 1, checksum ok 1
from: 127.0.0.1 port 0, length 16
first reads: -1 EAGAIN
first sends: 19
poll: 1, in 1
reply: 19 bytes, type 0 code 0, id is the socket's 1, seq 6, payload same 1, checksum ok 1
from: 127.0.0.1 port 0, length 16
0 failures
)";

// The program's output on this host, or empty when the host cannot make the namespace.
std::string host_output() {
    std::string program = build_dir() + "/tests/programs/ping";
    auto r = run_command(
        "unshare -rn sh -c 'ip link set lo up && echo \"0 0\" >/proc/sys/net/ipv4/ping_group_range "
        "&& exec \"$0\"' " +
        program + " 2>/dev/null");
    return r.status == 0 ? r.output : "";
}

TEST_F(SystemTest, PingSocketsAsOnLinux) {
    std::string expected = host_output();
    if (expected.empty()) expected = RECORDED_LINUX_OUTPUT;
    auto& vm = boot({.direct = true, .append = "init=ping"});
    ASSERT_TRUE(vm.wait_for("init: starting ping", BOOT_TIMEOUT));
    std::string output;
    ASSERT_TRUE(vm.wait_for("\ninit ", 60s, output));
    output.erase(0, output.find('\n') + 1);  // the rest of the "starting" line
    output.erase(std::remove(output.begin(), output.end(), '\r'), output.end());
    EXPECT_EQ(output + "\n", expected);
    ASSERT_TRUE(vm.wait_for("exited with status 0", 10s));
    EXPECT_EQ(vm.wait_exit(30s), EXIT_KTEST_PASSED);
}

}  // namespace
}  // namespace lamina::test
