// nginx on Lamina under load from the host while the NIC driver and the network stack crash:
// every request either gets the file intact or fails as a connection error and works when
// retried; nginx itself is never restarted (its master keeps its pid and its workers).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"
#include "tests/system/http_client.h"
#include "tests/system/shell.h"

namespace lamina::test {
namespace {

// What the host-side load saw.
struct LoadStats {
    std::atomic<int> ok{0};       // responses with status 200 and the exact file
    std::atomic<int> failed{0};   // connection errors (no complete response): retried
    std::atomic<int> corrupt{0};  // 200 with other bytes: never allowed
    std::atomic<int> refused{0};  // another status: never allowed for a static file
    std::mutex lock;
    std::chrono::steady_clock::duration longest_gap{};  // between two successes
    std::string first_problem;
};

// Requests path until stop, alternating five requests over one keep-alive connection and one
// with Connection: close. A failed request is retried on a new connection until it works.
void load(int port, const std::string& path, const std::string& expected, std::atomic<bool>& stop, LoadStats& s) {
    auto last_ok = std::chrono::steady_clock::now();
    int round = 0;
    while (!stop) {
        // A connection the net crash cut is reset by the fresh stack (a client learns at once),
        // so a receive that takes 5 s is a real hang: fail it and retry.
        Connection c(port, 5);
        bool keep_alive = round++ % 2 == 0;
        for (int i = 0; i < (keep_alive ? 5 : 1) && !stop; i++) {
            Response r = c.ok() ? c.get(path, !keep_alive) : Response{};
            if (r.status == 0) {
                s.failed++;
                break;  // a new connection, the same request
            }
            std::lock_guard<std::mutex> g(s.lock);
            if (r.status != 200) {
                s.refused++;
                if (s.first_problem.empty()) s.first_problem = r.headers;
            } else if (r.body != expected) {
                s.corrupt++;
                if (s.first_problem.empty())
                    s.first_problem = r.headers + " with " + std::to_string(r.body.size()) + " bytes";
            } else {
                s.ok++;
                auto now = std::chrono::steady_clock::now();
                if (now - last_ok > s.longest_gap) s.longest_gap = now - last_ok;
                last_ok = now;
            }
        }
    }
}

// Waits (up to timeout) until the load has n more successes than at the call.
bool wait_successes(LoadStats& s, int n, std::chrono::seconds timeout) {
    int target = s.ok + n;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (s.ok < target) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

TEST_F(ShellTest, NginxServesThroughNicAndNetstackCrashes) {
    int port = free_local_port();
    ASSERT_NE(port, 0);
    Shell& sh = start({.direct = true, .append = "web=on", .host_port = port});
    ASSERT_EQ(sh.poll("ps -o comm | grep -c '^nginx'", "3\n", 60, "0.5"), "3\n") << sh.run("ps");
    // The kernel logs each restart on the same console: the checks after the crashes look for
    // a tagged line in the output rather than compare all of it.
    const std::string master_pid = "echo nginx-master=$(cat /var/run/nginx.pid)";
    std::string master = sh.run(master_pid);
    size_t tag = master.find("nginx-master=");
    ASSERT_NE(tag, std::string::npos) << master;
    master = master.substr(tag, master.find('\n', tag) - tag + 1);
    ASSERT_NE(master, "nginx-master=\n");
    // 64 KiB of random bytes: a body of many segments, checked whole on every answer.
    sh.run("dd if=/dev/urandom of=/www/blob.bin bs=1024 count=64 2>/dev/null");
    std::string guest_md5 = sh.run("md5sum /www/blob.bin | cut -d' ' -f1");
    Connection first(port, 30);
    Response reference = first.get("/blob.bin", true);
    ASSERT_EQ(reference.status, 200) << reference.headers;
    ASSERT_EQ(reference.body.size(), 65536u);
    {
        char tmpl[] = "/tmp/lamina-blob-XXXXXX";
        int fd = mkstemp(tmpl);
        ASSERT_GE(fd, 0);
        close(fd);
        write_text(tmpl, reference.body);
        auto sum = run_command(std::string("md5sum < ") + tmpl + " | cut -d' ' -f1");
        std::remove(tmpl);
        ASSERT_EQ(sum.output, guest_md5);
    }

    LoadStats stats;
    std::atomic<bool> stop{false};
    std::thread client(load, port, "/blob.bin", reference.body, std::ref(stop), std::ref(stats));
    bool flowing = wait_successes(stats, 20, 120s);
    for (const char* domain : {"virtio_net", "net"}) {
        if (!flowing) break;
        auto injected = std::chrono::steady_clock::now();
        sh.run(std::string("domctl inject ") + domain);
        EXPECT_EQ(sh.status(), 0) << domain;
        // After the crash the load goes on: successes resume by themselves.
        flowing = wait_successes(stats, 1, 120s);
        std::printf("web load: %s crashed, next success after %.2f s\n", domain,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - injected).count());
        flowing = flowing && wait_successes(stats, 20, 120s);
        EXPECT_TRUE(flowing) << "no successful request after " << domain << " crashed";
    }
    stop = true;
    client.join();

    std::printf("web load: %d ok, %d connection errors (retried), longest gap %.2f s\n", stats.ok.load(),
                stats.failed.load(), std::chrono::duration<double>(stats.longest_gap).count());
    EXPECT_EQ(stats.corrupt, 0) << stats.first_problem;
    EXPECT_EQ(stats.refused, 0) << stats.first_problem;
    EXPECT_GE(stats.ok, 60);
    // nginx was never restarted: the same master, still with its two workers.
    std::string now = sh.run(master_pid);
    EXPECT_NE(now.find(master), std::string::npos) << now;
    now = sh.run("echo nginx-processes=$(ps -o comm | grep -c '^nginx')");
    EXPECT_NE(now.find("nginx-processes=3\n"), std::string::npos) << now;
    for (const char* domain : {"virtio_net", "net"}) {
        now = sh.run(std::string("sed -n 's/.*name=") + domain +
                     " state=\\([a-z]*\\) restarts=\\([0-9]*\\).*/domain=\\1,\\2/p' /proc/domains");
        EXPECT_NE(now.find("domain=running,1\n"), std::string::npos) << domain << ": " << now;
    }
}

// Connections in flight when the network stack crashes end for their clients within a couple
// of seconds: the fresh stack resets the peers of the connections the crashed one had (from
// the ends and sequence numbers the kernel kept of each), so a client waiting for an answer
// does not wait for its own timeout. The next request is served.
TEST_F(ShellTest, NetstackCrashResetsTheClientsOfItsConnections) {
    int port = free_local_port();
    ASSERT_NE(port, 0);
    Shell& sh = start({.direct = true, .append = "web=on", .host_port = port});
    ASSERT_EQ(sh.poll("ps -o comm | grep -c '^nginx'", "3\n", 60, "0.5"), "3\n") << sh.run("ps");
    // rcS found web=on in /proc/cmdline (the test image's command line says `test`, which
    // alone leaves the servers off).
    std::string cmdline = sh.run("cat /proc/cmdline");
    EXPECT_NE(cmdline.find(" test"), std::string::npos) << cmdline;
    EXPECT_NE(cmdline.find(" web=on\n"), std::string::npos) << cmdline;
    // One client got a whole answer on its keep-alive connection and has sent half of the
    // next request; another has sent half of its first one (nginx has sent it nothing). Both
    // wait for nginx, which waits for the rest of their requests.
    Connection kept(port, 30);
    Response first = kept.get("/");
    ASSERT_EQ(first.status, 200) << first.headers;
    ASSERT_TRUE(kept.send_text("GET / HTTP/1.1\r\n"));
    Connection fresh(port, 30);
    ASSERT_TRUE(fresh.ok());
    ASSERT_TRUE(fresh.send_text("GET / HTTP/1.1\r\nHost: localhost\r\n"));
    // Both accepted by nginx (a connection lwIP holds for an accept that never came is not
    // the kernel's to reset).
    ASSERT_EQ(sh.poll("netstat -tn | grep -c ESTABLISHED", "2\n", 100), "2\n") << sh.run("netstat -tn");
    EXPECT_FALSE(kept.wait_ended(0.5));  // nothing ends them but the crash

    auto injected = std::chrono::steady_clock::now();
    sh.run("domctl inject net");
    EXPECT_EQ(sh.status(), 0);
    // Before, they waited for their 30 s receive timeout (a browser's is longer).
    EXPECT_TRUE(kept.wait_ended(5));
    EXPECT_TRUE(fresh.wait_ended(5));
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - injected).count();
    std::printf("web: the clients of the lost connections saw them end %.2f s after the crash\n", took);
    EXPECT_LT(took, 5.0);

    // The next request is served. It may take a client's retry: once in a full check under load
    // the first connection after the resets failed at once (not understood yet; the load test
    // sees the same as "a connection error that succeeds on retry").
    Response r;
    for (int attempt = 0; attempt < 3 && r.status != 200; attempt++) {
        Connection next(port, 10);
        r = next.get("/");
        if (r.status != 200) std::printf("web: the request after the crash failed (attempt %d)\n", attempt + 1);
    }
    EXPECT_EQ(r.status, 200) << r.headers;
    EXPECT_EQ(r.body, first.body);
    EXPECT_NE(sh.run("dmesg | grep 'stack generation'").find("2 of 2 peer(s) reset"), std::string::npos)
        << sh.run("dmesg | tail -20");
}

}  // namespace
}  // namespace lamina::test
