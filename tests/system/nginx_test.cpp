// nginx, the static musl binary that goes into the images (ports/nginx), run on the host: Lamina
// runs static Linux binaries unchanged, so the host runs the very same file. Each test starts it
// in the foreground on 127.0.0.1 and a free port, with a prefix, site and configuration in a
// fresh temporary directory and the images' own configuration (rootfs/etc/nginx/nginx.conf:
// master and two workers, epoll, sendfile, an access log), and stops it with SIGQUIT (graceful
// shutdown). What Lamina's kernel must give nginx shows up here
// first: the workers' epoll instances, the shared anonymous mapping (accept mutex and
// counters), the socketpair channels, sendfile for file bodies.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/system/host_tools.h"
#include "tests/system/http_client.h"
#include "tests/system/qemu.h"

namespace lamina::test {
namespace {

using namespace std::chrono_literals;

std::string md5(const std::string& path) {
    auto [status, out] = run_command("md5sum < '" + path + "'");
    return status == 0 ? out.substr(0, 32) : "md5sum failed: " + out;
}

// 1 MiB that no compression or caching layer could fake: a xorshift stream.
std::string pseudo_random(size_t size) {
    std::string s(size, '\0');
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s[i] = char(x >> 56);
    }
    return s;
}

// The processes whose parent is pid, from /proc/N/stat.
std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    DIR* d = opendir("/proc");
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        pid_t p = atoi(e->d_name);
        if (p <= 0) continue;
        std::string stat = read_text("/proc/" + std::string(e->d_name) + "/stat");
        size_t paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        std::istringstream rest(stat.substr(paren + 2));
        std::string state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == pid) out.push_back(p);
    }
    closedir(d);
    return out;
}

// The targets of a process's descriptors ("socket:[N]", "anon_inode:[eventpoll]", paths).
std::vector<std::string> fd_targets(pid_t pid) {
    std::vector<std::string> out;
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char target[256];
        ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
        if (n > 0) out.emplace_back(target, size_t(n));
    }
    closedir(d);
    return out;
}

size_t count_containing(const std::vector<std::string>& v, const std::string& what) {
    size_t n = 0;
    for (const auto& s : v) n += s.find(what) != std::string::npos;
    return n;
}

class Nginx : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = build_dir() + "/ports/nginx/root";
        binary_ = root_ + "/usr/sbin/nginx";
        ASSERT_EQ(access(binary_.c_str(), X_OK), 0)
            << binary_ << " is not built (ninja " << build_dir() << "/ports/nginx/stamp)";
        char tmpl[] = "/tmp/lamina-nginx-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        // Workers run as nobody when the test runs as root: they must reach the site.
        ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
        ASSERT_EQ(mkdir((dir_ + "/www").c_str(), 0755), 0);
        ASSERT_EQ(mkdir((dir_ + "/logs").c_str(), 0755), 0);
        write_text(dir_ + "/www/index.html", "<!DOCTYPE html>\n<title>Lamina</title>\n<p>served by nginx</p>\n");
        write_text(dir_ + "/www/big.bin", pseudo_random(1 << 20));
        // The installed mime.types, found beside the configuration as on Lamina.
        std::string types = read_text(root_ + "/etc/nginx/mime.types");
        ASSERT_NE(types.find("text/html"), std::string::npos) << root_ << "/etc/nginx/mime.types";
        write_text(dir_ + "/mime.types", types);
        port_ = free_local_port();
        ASSERT_NE(port_, 0);
    }
    void TearDown() override {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (!dir_.empty()) {
            EXPECT_EQ(run_command("rm -rf '" + dir_ + "'").status, 0);
        }
    }

    // rootfs/etc/nginx/nginx.conf, the file the images carry, moved into the temporary
    // directory: each of its absolute paths, its port and its user are replaced, and each
    // replacement must find its text (a config that drifts away fails here, not on Lamina).
    std::string config() {
        std::string text = read_text("rootfs/etc/nginx/nginx.conf");
        auto replace = [&](const std::string& from, const std::string& to) {
            size_t at = text.find(from);
            EXPECT_NE(at, std::string::npos) << "rootfs/etc/nginx/nginx.conf has no '" << from << "'";
            for (; at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
        };
        // Workers run as nobody when the test runs as root, in the host's name for nobody's
        // group (nogroup on Debian); as another user nginx ignores the line.
        std::string group_name = "nobody";
        if (passwd* pw = getpwnam("nobody"))
            if (struct group* gr = getgrgid(pw->pw_gid)) group_name = gr->gr_name;
        replace("user nobody nobody;", "user nobody " + group_name + ";");
        replace("/var/log/nginx/", dir_ + "/logs/");
        replace("/var/run/", dir_ + "/");
        replace("root /www;", "root " + dir_ + "/www;");
        replace("listen 80 ", "listen 127.0.0.1:" + std::to_string(port_) + " ");
        return text;
    }

    // Starts nginx in the foreground with default signal dispositions and an empty mask, and
    // waits until it accepts connections. With deny_sendfile, a seccomp filter makes every
    // sendfile(2) fail with ENOSYS.
    void start(bool deny_sendfile = false) {
        std::string text = config();
        ASSERT_FALSE(HasFailure());
        write_text(dir_ + "/nginx.conf", text);
        std::vector<sock_filter> filter = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 2),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sendfile, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        };
        sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
        std::string err = dir_ + "/logs/error.log", console = dir_ + "/console";
        // In the foreground (Lamina's rcS lets it daemonize), so that the test is its parent.
        pid_ = spawn_program({binary_, "-p", dir_ + "/", "-c", dir_ + "/nginx.conf", "-e", err, "-g", "daemon off;"},
                             {}, "", console, console, deny_sendfile ? &prog : nullptr);
        ASSERT_GE(pid_, 0);
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < deadline) {
            // The listening socket takes connections before the master writes its pid file.
            if (Connection(port_).ok() && read_text(dir_ + "/nginx.pid") == std::to_string(pid_) + "\n") return;
            int st;
            if (waitpid(pid_, &st, WNOHANG) == pid_) {
                pid_ = -1;
                FAIL() << "nginx exited at start-up:\n" << read_text(console) << read_text(err);
            }
            std::this_thread::sleep_for(50ms);
        }
        FAIL() << "nginx does not accept connections on port " << port_ << ":\n" << read_text(err);
    }

    // SIGQUIT, and nginx's graceful shutdown: the workers finish, the master exits with 0.
    void quit() {
        ASSERT_GT(pid_, 0);
        ASSERT_EQ(kill(pid_, SIGQUIT), 0);
        int st = 0;
        auto deadline = std::chrono::steady_clock::now() + 20s;
        pid_t got = 0;
        while ((got = waitpid(pid_, &st, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(50ms);
        ASSERT_EQ(got, pid_) << "nginx did not stop after SIGQUIT";
        pid_ = -1;
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st << "\n" << error_log();
    }

    std::string error_log() const { return read_text(dir_ + "/logs/error.log"); }
    std::string access_log() const { return read_text(dir_ + "/logs/access.log"); }

    std::string root_, binary_, dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

TEST_F(Nginx, IsAStaticBinary) { EXPECT_EQ(static_binary_problem(binary_), ""); }

TEST_F(Nginx, ServesAPageAndAMebibyteOverKeepAliveAndLogsThem) {
    ASSERT_NO_FATAL_FAILURE(start());
    {
        Connection c(port_);
        ASSERT_TRUE(c.ok());
        Response page = c.get("/");
        EXPECT_EQ(page.status, 200) << page.headers;
        EXPECT_EQ(page.body, read_text(dir_ + "/www/index.html"));
        EXPECT_NE(page.headers.find("Content-Type: text/html"), std::string::npos) << page.headers;
        // The same connection again: keep-alive.
        Response big = c.get("/big.bin", true);
        EXPECT_EQ(big.status, 200) << big.headers;
        ASSERT_EQ(big.body.size(), size_t(1) << 20);
        write_text(dir_ + "/received.bin", big.body);
        EXPECT_EQ(md5(dir_ + "/received.bin"), md5(dir_ + "/www/big.bin"));
        EXPECT_TRUE(c.closed_by_server());
    }
    {
        Connection c(port_);
        ASSERT_TRUE(c.ok());
        EXPECT_EQ(c.get("/missing.html", true).status, 404);
    }
    ASSERT_NO_FATAL_FAILURE(quit());

    // nginx writes the access log line when the request ends; after the graceful stop all are in.
    std::istringstream log(access_log());
    std::vector<std::string> lines;
    for (std::string line; std::getline(log, line);) lines.push_back(line);
    ASSERT_EQ(lines.size(), 3u) << access_log();
    EXPECT_EQ(lines[0].rfind("127.0.0.1 - - [", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find("\"GET / HTTP/1.1\" 200 "), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("\"lamina-test\""), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find("\"GET /big.bin HTTP/1.1\" 200 1048576 "), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find("\"GET /missing.html HTTP/1.1\" 404 "), std::string::npos) << lines[2];
    std::string errors = error_log();
    EXPECT_NE(errors.find("using the \"epoll\" event method"), std::string::npos) << errors;
    EXPECT_NE(errors.find("exit"), std::string::npos) << errors;
    EXPECT_EQ(errors.find("[alert]"), std::string::npos) << errors;
    EXPECT_EQ(errors.find("[emerg]"), std::string::npos) << errors;
    EXPECT_EQ(access((dir_ + "/nginx.pid").c_str(), F_OK), -1) << "the pid file outlives nginx";
}

TEST_F(Nginx, RunsAMasterWithWorkersOverEpollSharedMemoryAndChannels) {
    ASSERT_NO_FATAL_FAILURE(start());
    // The workers come up right after the listening socket does.
    std::vector<pid_t> workers;
    for (int i = 0; i < 100 && (workers = children_of(pid_)).size() < 2; i++) std::this_thread::sleep_for(50ms);
    ASSERT_EQ(workers.size(), 2u);
    for (pid_t w : workers) {
        std::string proc = "/proc/" + std::to_string(w);
        EXPECT_EQ(read_text(proc + "/cmdline").rfind("nginx: worker process", 0), 0u);
        std::vector<std::string> fds = fd_targets(w);
        EXPECT_EQ(count_containing(fds, "anon_inode:[eventpoll]"), 1u);
        // Its own channel end, and the other worker's, for the master's commands.
        EXPECT_GE(count_containing(fds, "socket:"), 3u);  // the listener and two channel ends
        // The accept mutex and connection counters: MAP_SHARED|MAP_ANONYMOUS, which Linux
        // shows as a shared mapping of a deleted /dev/zero.
        std::string maps = read_text(proc + "/maps");
        EXPECT_NE(maps.find("rw-s"), std::string::npos) << maps;
        EXPECT_NE(maps.find("/dev/zero (deleted)"), std::string::npos) << maps;
    }
    // The channels are AF_UNIX socket pairs: every channel inode of the master is in
    // /proc/net/unix.
    std::string unix_sockets = read_text("/proc/net/unix");
    size_t channels = 0;
    for (const std::string& t : fd_targets(pid_)) {
        if (t.rfind("socket:[", 0) != 0) continue;
        std::string inode = t.substr(8, t.size() - 9);
        channels += unix_sockets.find(" " + inode + " ") != std::string::npos ||
                    unix_sockets.find(" " + inode + "\n") != std::string::npos;
    }
    EXPECT_GE(channels, 2u) << unix_sockets;
    ASSERT_NO_FATAL_FAILURE(quit());
    // The master reaps its workers before it exits.
    for (pid_t w : workers) EXPECT_TRUE(kill(w, 0) != 0 && errno == ESRCH) << "worker " << w << " outlives nginx";
}

// The file bodies go out through sendfile(2): with sendfile forbidden, the 1 MiB file cannot
// be served, and nginx says why.
TEST_F(Nginx, SendsFilesWithSendfile) {
    ASSERT_NO_FATAL_FAILURE(start(true));
    {
        Connection c(port_);
        ASSERT_TRUE(c.ok());
        Response big = c.get("/big.bin", true);
        EXPECT_NE(big.body.size(), size_t(1) << 20);
    }
    ASSERT_NO_FATAL_FAILURE(quit());
    EXPECT_NE(error_log().find("sendfile() failed (38:"), std::string::npos) << error_log();
}

}  // namespace
}  // namespace lamina::test
