// Busybox's network tools on Lamina's AF_INET sockets, over QEMU's user network (restrict=on:
// nothing leaves QEMU; the host reaches the guest only through hostfwd rules on 127.0.0.1, and
// the guest reaches a server of this test only through a guestfwd rule).
//   - ifconfig, route, netstat and ping against the stack's own state and QEMU's gateway;
//   - nc moving 16 MiB host -> Lamina and Lamina -> host, md5 checked at both ends, also with
//     the NIC driver crashed mid-transfer (TCP retransmits across its restart) and with the
//     stack crashed mid-transfer (ECONNRESET, then a new connection works);
//   - wget from a tiny HTTP server this test runs on the host;
//   - busybox httpd in Lamina serving files (and a 404) to a small HTTP client in this test;
//   - a crash of the stack while nc waits in accept (the next connection is accepted), and
//     while a connection is open (it fails at both ends, nothing hangs).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <thread>

#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"
#include "tests/system/shell.h"

namespace lamina::test {
namespace {

constexpr size_t MIB = 1 << 20;

std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = char(gen());
    return s;
}

std::string host_md5(const std::string& data) {
    char path[] = "/tmp/lamina-net-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return "";
    close(fd);
    write_text(path, data);
    auto r = run_command(std::string("md5sum ") + path);
    unlink(path);
    return r.output.substr(0, 32);
}

// A TCP connection to 127.0.0.1:port (the hostfwd end), or -1.
int connect_local(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    timeval tv{60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

bool send_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return false;
        done += size_t(n);
    }
    return true;
}

// Reads until the end of the stream, an error or max bytes; `error` gets errno (0 at the end).
std::string recv_all(int fd, size_t max, int* error = nullptr) {
    std::string out;
    char buf[65536];
    for (;;) {
        if (out.size() >= max) break;
        ssize_t n = recv(fd, buf, std::min(sizeof buf, max - out.size()), 0);
        if (n <= 0) {
            if (error) *error = n < 0 ? errno : 0;
            break;
        }
        out.append(buf, size_t(n));
    }
    return out;
}

// A background job that ends while the interactive shell waits for input makes busybox's shell
// read the end of its input and exit (seen here; not a network matter), so every job here ends
// while the shell runs `wait` (Shell::start before the host acts, Shell::finish after).
class NetTools : public SystemTest {
protected:
    Shell& start(BootOptions options = {}) {
        options.direct = true;
        options.profile = "test";
        vm_ = &boot(options);
        shell_ = std::make_unique<Shell>(*vm_);
        EXPECT_TRUE(shell_->wait_prompt()) << "no shell prompt";
        // No job control: no "Done" notices in the commands' output.
        shell_->run("stty -echo 2>/dev/null; export PS1='# '; set +m");
        return *shell_;
    }

    // Waits (in the guest) until netstat shows a TCP listener on port.
    bool wait_listening(Shell& sh, int port) {
        std::string p = std::to_string(port);
        std::string out = sh.run("i=0; until netstat -tln | grep -q ':" + p +
                                 " '; do i=$((i+1)); [ $i -gt 300 ] && break; "
                                 "sleep 0.1; done; netstat -tln | grep ':" +
                                 p + " '");
        return out.find("LISTEN") != std::string::npos;
    }

    // Boots with hostfwd rules from port_ to the guest's port 8080 and from trigger_ to 8081.
    Shell& start_forwarded() {
        port_ = free_local_port();
        trigger_ = free_local_port();
        return start({.forwards = {"hostfwd=tcp:127.0.0.1:" + std::to_string(port_) + "-:8080",
                                   "hostfwd=tcp:127.0.0.1:" + std::to_string(trigger_) + "-:8081"}});
    }

    // Starts `job` (a listener on 8080) in the background and a trigger: a listener on 8081
    // whose first connection runs `action`, the host's way to act inside Lamina at a point of
    // its choosing. Then the shell waits for both and runs `then` (finished by the caller).
    void start_jobs(const std::string& job, const std::string& action, const std::string& then) {
        shell_->run(job + " & true");
        ASSERT_TRUE(wait_listening(*shell_, 8080));
        shell_->run("(nc -l -p 8081 </dev/null >/dev/null; " + action + ") & true");
        ASSERT_TRUE(wait_listening(*shell_, 8081));
        shell_->start("wait; " + then);
    }

    Qemu* vm_ = nullptr;
    std::unique_ptr<Shell> shell_;
    int port_ = 0, trigger_ = 0;
};

TEST_F(NetTools, IfconfigRouteNetstatAndPing) {
    Shell& sh = start();
    // DHCP's lease comes within a second or two of boot.
    std::string eth0 = sh.run(
        "i=0; until ifconfig eth0 | grep -q 'inet addr:10.0.2.15'; do i=$((i+1)); [ $i -gt 300 ] && break; "
        "sleep 0.1; done; ifconfig eth0");
    EXPECT_NE(eth0.find("HWaddr 52:54:00:12:34:56"), std::string::npos) << eth0;
    EXPECT_NE(eth0.find("inet addr:10.0.2.15  Bcast:10.0.2.255  Mask:255.255.255.0"), std::string::npos) << eth0;
    EXPECT_NE(eth0.find("UP BROADCAST RUNNING"), std::string::npos) << eth0;
    EXPECT_NE(eth0.find("MTU:1500"), std::string::npos) << eth0;
    std::string lo = sh.run("ifconfig lo");
    EXPECT_NE(lo.find("inet addr:127.0.0.1  Mask:255.0.0.0"), std::string::npos) << lo;
    EXPECT_NE(lo.find("UP LOOPBACK RUNNING"), std::string::npos) << lo;
    std::string all = sh.run("ifconfig");
    EXPECT_NE(all.find("eth0 "), std::string::npos) << all;
    EXPECT_NE(all.find("lo "), std::string::npos) << all;

    // No default route: QEMU's DHCP leaves the router option out under restrict=on.
    std::string route = sh.run("route -n");
    EXPECT_NE(route.find("10.0.2.0        0.0.0.0         255.255.255.0   U     0      0        0 eth0"),
              std::string::npos)
        << route;
    // A default route set by hand shows, and goes.
    EXPECT_EQ(sh.run("route add default gw 10.0.2.2 && route -n | grep '^0.0.0.0'"),
              "0.0.0.0         10.0.2.2        0.0.0.0         UG    0      0        0 eth0\n");
    EXPECT_EQ(sh.run("route del default && route -n | grep -c '^0.0.0.0'"), "0\n");

    std::string ping = sh.run("ping -c 3 10.0.2.2");
    EXPECT_NE(ping.find("3 packets transmitted, 3 packets received, 0% packet loss"), std::string::npos) << ping;
    // No IPv6 yet: AF_INET6 sockets are EAFNOSUPPORT.
    std::string ping6 = sh.run("ping6 -c 1 ::1 2>&1");
    EXPECT_NE(ping6.find("Address family not supported by protocol"), std::string::npos) << ping6;

    sh.run("nc -l -p 7000 </dev/null >/dev/null & true");
    EXPECT_TRUE(wait_listening(sh, 7000));
    std::string tcp = sh.run("netstat -tln");
    EXPECT_NE(tcp.find("tcp        0      0 0.0.0.0:7000            0.0.0.0:*               LISTEN"), std::string::npos)
        << tcp;
    sh.run("kill $!; wait");
}

// The boot-time configuration file: rcS runs /etc/init.d/network, which applies each line of
// /etc/network.conf with ifconfig and route. Run here on a file of the test's, as rcS would.
TEST_F(NetTools, StaticConfigurationFromEtc) {
    Shell& sh = start();
    EXPECT_EQ(sh.run("grep -c '^/etc/init.d/network' /etc/init.d/rcS; grep -v '^#' /etc/network.conf | grep -c ."),
              "1\n0\n");  // called at boot; the shipped file leaves eth0 on DHCP
    EXPECT_EQ(sh.run("printf '# static\\n\\neth0 10.0.2.30 255.255.255.0 10.0.2.2\\n' >/tmp/net.conf; "
                     "/etc/init.d/network /tmp/net.conf; echo status=$?"),
              "status=0\n");
    std::string eth0 = sh.run("ifconfig eth0");
    EXPECT_NE(eth0.find("inet addr:10.0.2.30  Bcast:10.0.2.255  Mask:255.255.255.0"), std::string::npos) << eth0;
    EXPECT_EQ(sh.run("route -n | grep '^0.0.0.0'"),
              "0.0.0.0         10.0.2.2        0.0.0.0         UG    0      0        0 eth0\n");
    // A line it cannot apply is reported, and the script fails.
    EXPECT_EQ(sh.run("printf 'eth0 10.0.2.31\\nlo 1.2.3.4 255.0.0.0 1.2.3.5 extra\\n' >/tmp/bad.conf; "
                     "/etc/init.d/network /tmp/bad.conf 2>&1; echo status=$?"),
              "network: /tmp/bad.conf: eth0 needs ADDRESS NETMASK [GATEWAY] or dhcp\n"
              "network: /tmp/bad.conf: too many fields for lo\nstatus=1\n");
    EXPECT_NE(sh.run("ifconfig eth0").find("inet addr:10.0.2.30 "), std::string::npos);
}

// nc in Lamina receives 16 MiB the host sends through hostfwd, and sends 16 MiB the host reads.
TEST_F(NetTools, NcMoves16MiBBothWays) {
    int port = free_local_port();
    Shell& sh = start({.forwards = {"hostfwd=tcp:127.0.0.1:" + std::to_string(port) + "-:8080"}});

    std::string data = random_bytes(16 * MIB, 1);
    sh.run("nc -l -p 8080 </dev/null | md5sum >/tmp/sum & true");
    ASSERT_TRUE(wait_listening(sh, 8080));
    // The shell waits for nc while the host sends.
    sh.start("wait; cat /tmp/sum");
    int fd = connect_local(port);
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(send_all(fd, data));
    shutdown(fd, SHUT_WR);
    int error = -1;
    recv_all(fd, MIB, &error);  // the end: nc closes after the host's
    EXPECT_EQ(error, 0);
    close(fd);
    EXPECT_EQ(sh.finish(120s), host_md5(data) + "  -\n");

    std::string out = sh.run("dd if=/dev/urandom of=/tmp/out bs=65536 count=256 2>/dev/null; md5sum </tmp/out", 120s);
    sh.run("nc -l -p 8080 </tmp/out >/dev/null & true");
    ASSERT_TRUE(wait_listening(sh, 8080));
    sh.start("wait; echo done");
    fd = connect_local(port);
    ASSERT_GE(fd, 0);
    std::string got = recv_all(fd, 16 * MIB);
    close(fd);  // nc ends at the end of the host's side
    EXPECT_EQ(got.size(), 16 * MIB);
    EXPECT_EQ(host_md5(got) + "  -\n", out);
    EXPECT_EQ(sh.finish(120s), "done\n");
}

void pull_trigger(int port) {
    int fd = connect_local(port);
    if (fd >= 0) close(fd);
}

// Waits for the kernel's line about the restart of `domain` (the whole line, so that none of it
// is left for the shell's next output).
bool wait_restart(Qemu& vm, const std::string& domain) {
    return vm.wait_for("domain " + domain + ": restarted", 60s) && vm.wait_for(" us)", 10s) && vm.wait_for("\n", 5s);
}

// The NIC driver crashes in the middle of 16 MiB going host -> Lamina and again in the middle of
// 16 MiB going Lamina -> host: TCP retransmits what the dead driver lost, and both transfers
// complete with the right md5.
TEST_F(NetTools, NicDriverCrashMidTransferIsInvisible) {
    Shell& sh = start_forwarded();
    std::string data = random_bytes(16 * MIB, 3);
    ASSERT_NO_FATAL_FAILURE(start_jobs("nc -l -p 8080 </dev/null | md5sum >/tmp/sum",
                                       "domctl inject virtio_net >/dev/null", "cat /tmp/sum"));
    int fd = connect_local(port_);
    ASSERT_GE(fd, 0);
    const size_t half = data.size() / 2;
    ASSERT_TRUE(send_all(fd, data.substr(0, half)));
    pull_trigger(trigger_);
    // The second half goes while the driver dies and its shadow restarts it; the connection
    // stays open until the restart has been seen, so the crash falls inside it.
    bool sent = false;
    std::thread rest([&] { sent = send_all(fd, data.substr(half)); });
    EXPECT_TRUE(wait_restart(*vm_, "virtio_net"));
    rest.join();
    EXPECT_TRUE(sent);
    shutdown(fd, SHUT_WR);
    int error = -1;
    recv_all(fd, MIB, &error);
    EXPECT_EQ(error, 0);
    close(fd);
    // (The kernel's lines about the crash may come between.)
    std::string sum = sh.finish(120s);
    EXPECT_NE(sum.find(host_md5(data) + "  -\n"), std::string::npos) << sum;

    std::string out = sh.run("dd if=/dev/urandom of=/tmp/out bs=65536 count=256 2>/dev/null; md5sum </tmp/out", 120s);
    ASSERT_NO_FATAL_FAILURE(
        start_jobs("nc -l -p 8080 </tmp/out >/dev/null", "domctl inject virtio_net >/dev/null", "echo done"));
    fd = connect_local(port_);
    ASSERT_GE(fd, 0);
    // The host stops reading after 4 MiB: the guest's nc has most of the file still to send
    // (the windows are closed) when the driver dies.
    std::string got = recv_all(fd, 4 * MIB);
    pull_trigger(trigger_);
    EXPECT_TRUE(wait_restart(*vm_, "virtio_net"));
    got += recv_all(fd, 12 * MIB);
    close(fd);
    EXPECT_EQ(got.size(), 16 * MIB);
    EXPECT_EQ(host_md5(got) + "  -\n", out);
    std::string done = sh.finish(120s);
    EXPECT_NE(done.find("done\n"), std::string::npos) << done;
}

// The network stack crashes in the middle of a transfer: nc in Lamina sees ECONNRESET, the
// host's sends fail, and a new connection then moves its data intact.
TEST_F(NetTools, StackCrashMidTransferResetsAndTheNextConnectionWorks) {
    Shell& sh = start_forwarded();
    ASSERT_NO_FATAL_FAILURE(start_jobs("nc -vv -l -p 8080 </dev/null 2>/tmp/err | md5sum >/dev/null",
                                       "domctl inject net >/dev/null", "cat /tmp/err"));
    int fd = connect_local(port_);
    ASSERT_GE(fd, 0);
    std::string data = random_bytes(4 * MIB, 4);
    ASSERT_TRUE(send_all(fd, data));
    pull_trigger(trigger_);
    // The host keeps sending (far more than every buffer on the way holds) until the fresh
    // stack's reset ends the connection.
    bool failed = false;
    for (int i = 0; i < 64 && !failed; i++) failed = !send_all(fd, data);
    int error = errno;
    EXPECT_TRUE(failed);
    EXPECT_TRUE(error == ECONNRESET || error == EPIPE) << strerror(error);
    close(fd);
    std::string ended = sh.finish(120s);
    EXPECT_NE(ended.find("net read: Connection reset by peer"), std::string::npos) << ended;

    sh.run("nc -l -p 8080 </dev/null | md5sum >/tmp/sum & true");
    ASSERT_TRUE(wait_listening(sh, 8080));
    sh.start("wait; cat /tmp/sum");
    fd = connect_local(port_);
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(send_all(fd, data));
    shutdown(fd, SHUT_WR);
    recv_all(fd, MIB);
    close(fd);
    std::string sum = sh.finish(120s);
    EXPECT_NE(sum.find(host_md5(data) + "  -\n"), std::string::npos) << sum;
}

// wget in Lamina fetches a file from an HTTP server this test runs on the host, reached through
// a guestfwd rule (QEMU connects its end when it starts, so the server listens first).
TEST_F(NetTools, WgetFromAHostServerThroughGuestfwd) {
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(listen(server, 1), 0);
    ASSERT_EQ(getsockname(server, reinterpret_cast<sockaddr*>(&a), &len), 0);
    int port = ntohs(a.sin_port);
    std::string body = random_bytes(256 * 1024, 2);
    std::string request;
    std::thread serve([&] {
        pollfd p{server, POLLIN, 0};
        if (poll(&p, 1, 120000) != 1) return;
        int c = accept(server, nullptr, nullptr);
        if (c < 0) return;
        timeval tv{120, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
            ssize_t n = recv(c, buf, sizeof buf, 0);
            if (n <= 0) break;
            request.append(buf, size_t(n));
        }
        send_all(c, "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body);
        close(c);
    });
    Shell& sh = start({.forwards = {"guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:" + std::to_string(port)}});
    std::string got = sh.run("wget -q -O /tmp/got http://10.0.2.100/file && md5sum </tmp/got", 120s);
    serve.join();
    close(server);
    EXPECT_EQ(got, host_md5(body) + "  -\n");
    EXPECT_EQ(request.rfind("GET /file HTTP/1.1\r\n", 0), 0u) << request;
}

struct HttpReply {
    int status = 0;
    std::string headers, body;
};

// A GET over HTTP/1.0 to 127.0.0.1:port (the server closes at the end of the body).
HttpReply http_get(int port, const std::string& path) {
    HttpReply reply;
    int fd = connect_local(port);
    if (fd < 0) return reply;
    if (send_all(fd, "GET " + path + " HTTP/1.0\r\nHost: lamina\r\n\r\n")) {
        std::string all = recv_all(fd, 64 * MIB);
        size_t end = all.find("\r\n\r\n");
        if (all.rfind("HTTP/1.", 0) == 0 && end != std::string::npos) {
            reply.status = std::atoi(all.c_str() + 9);
            reply.headers = all.substr(0, end + 2);
            reply.body = all.substr(end + 4);
        }
    }
    close(fd);
    return reply;
}

// busybox httpd in Lamina serves files the host fetches through hostfwd; a missing one is a 404.
TEST_F(NetTools, HttpdServesTheHost) {
    int port = free_local_port();
    Shell& sh = start({.forwards = {"hostfwd=tcp:127.0.0.1:" + std::to_string(port) + "-:8080"}});
    std::string big_md5 = sh.run(
        "mkdir -p /tmp/www/sub && echo 'hello from lamina' >/tmp/www/index.html && "
        "echo 'a file in a directory' >/tmp/www/sub/file.txt && "
        "dd if=/dev/urandom of=/tmp/www/big.bin bs=65536 count=64 2>/dev/null && md5sum </tmp/www/big.bin");
    ASSERT_EQ(big_md5.size(), 36u) << big_md5;
    sh.run("httpd -f -p 8080 -h /tmp/www & true");
    ASSERT_TRUE(wait_listening(sh, 8080));

    HttpReply index = http_get(port, "/");
    EXPECT_EQ(index.status, 200) << index.headers;
    EXPECT_EQ(index.body, "hello from lamina\n");
    HttpReply file = http_get(port, "/sub/file.txt");
    EXPECT_EQ(file.status, 200) << file.headers;
    EXPECT_NE(file.headers.find("Content-type: text/plain"), std::string::npos) << file.headers;
    EXPECT_EQ(file.body, "a file in a directory\n");
    HttpReply big = http_get(port, "/big.bin");
    EXPECT_EQ(big.status, 200) << big.headers;
    EXPECT_EQ(big.body.size(), 4 * MIB);
    EXPECT_NE(big.headers.find("Content-Length: " + std::to_string(4 * MIB) + "\r\n"), std::string::npos)
        << big.headers;
    EXPECT_EQ(host_md5(big.body) + "  -\n", big_md5);
    HttpReply missing = http_get(port, "/no/such/file");
    EXPECT_EQ(missing.status, 404) << missing.headers;
    sh.run("kill $!; wait");
}

// `domctl inject net` while nc waits in accept: the listener is replayed and the next connection
// is accepted. A connection open across the crash ends at both ends, with errors, not a hang.
TEST_F(NetTools, StackCrashKeepsListenersAndEndsConnections) {
    int port = free_local_port(), port2 = free_local_port();
    Shell& sh = start({.forwards = {"hostfwd=tcp:127.0.0.1:" + std::to_string(port) + "-:8080",
                                    "hostfwd=tcp:127.0.0.1:" + std::to_string(port2) + "-:8081"}});
    sh.run("nc -l -p 8080 </dev/null >/tmp/after & true");
    ASSERT_TRUE(wait_listening(sh, 8080));
    // A connection that is open when the stack dies.
    sh.run("nc -vv -l -p 8081 </dev/null >/tmp/during 2>/tmp/during.err & pid=$!");
    ASSERT_TRUE(wait_listening(sh, 8081));
    int open = connect_local(port2);
    ASSERT_GE(open, 0);
    ASSERT_TRUE(send_all(open, "before the crash\n"));
    EXPECT_EQ(sh.run("i=0; until grep -q before /tmp/during; do i=$((i+1)); [ $i -gt 300 ] && break; sleep 0.1; "
                     "done; cat /tmp/during"),
              "before the crash\n");

    // The nc whose connection dies ends at once: the shell waits for it in the same line.
    sh.start("domctl inject net panic; wait $pid; cat /tmp/during.err /tmp/during");
    std::string replayed;
    ASSERT_TRUE(vm_->wait_for("net: stack generation ", 60s));
    ASSERT_TRUE(vm_->wait_for(" lost", 10s, replayed));
    EXPECT_NE(replayed.find("replayed, 0"), std::string::npos) << replayed;
    // nc in Lamina saw its connection fail (ECONNRESET: -vv reports it).
    std::string ended = sh.finish();
    EXPECT_NE(ended.find("net read: Connection reset by peer"), std::string::npos) << ended;
    EXPECT_NE(ended.find("before the crash\n"), std::string::npos) << ended;

    // The host's end: its next segment meets the fresh stack, which resets the connection.
    send_all(open, "after the crash\n");
    int error = -1;
    recv_all(open, MIB, &error);
    close(open);

    // The listener waiting in accept takes the next connection.
    sh.start("wait; cat /tmp/after");
    int fd = connect_local(port);
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(send_all(fd, "accepted after the crash\n"));
    shutdown(fd, SHUT_WR);
    recv_all(fd, MIB);
    close(fd);
    // (The kernel's line about the restart may come between.)
    std::string after = sh.finish();
    EXPECT_NE(after.find("accepted after the crash\n"), std::string::npos) << after;
}

}  // namespace
}  // namespace lamina::test
