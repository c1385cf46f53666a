#include "tests/system/qemu.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdlib>
#include <cstring>

namespace lamina::test {

std::string build_dir() {
    const char* d = getenv("LAMINA_BUILD_DIR");
    return d && *d ? d : "build";
}

std::string accel() {
    const char* a = getenv("LAMINA_ACCEL");
    return a && *a ? a : "tcg";
}

int free_local_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        if (fd >= 0) close(fd);
        return 0;
    }
    int port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

Qemu::Qemu(const BootOptions& o, const std::string& log_path) : log_path_(log_path) {
    // A machine that has exited (powered off, crashed) must fail the test that writes to its
    // console, not kill the whole test program.
    signal(SIGPIPE, SIG_IGN);
    std::string image = o.image.empty() ? build_dir() + "/images/" + o.profile + ".img" : o.image;
    std::vector<std::string> args = {"images/run",
                                     "--build-dir=" + build_dir(),
                                     "--accel=" + accel(),
                                     "--serial=stdio",
                                     "--smp=" + std::to_string(o.smp),
                                     "--memory=" + o.memory,
                                     "--port=" + std::to_string(o.host_port)};
    for (const std::string& f : o.forwards) args.push_back("--forward=" + f);
    if (o.snapshot) args.push_back("--snapshot");
    if (!o.image.empty()) args.push_back("--profile=" + o.profile);
    if (o.direct) args.push_back("--direct");
    const char* iommu = getenv("LAMINA_IOMMU");
    bool with_iommu = o.iommu && !(iommu && std::string(iommu) == "off");
    args.push_back(with_iommu ? "--iommu=on" : "--iommu=off");
    if (!o.append.empty()) args.push_back("--append=" + o.append);
    args.push_back(image);

    log_fd_ = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int out[2], in[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
        setpgid(0, 0);  // one group: killing it takes QEMU along with the script
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(out[1]);
    close(in[0]);
    out_fd_ = out[0];
    in_fd_ = in[1];
    fcntl(out_fd_, F_SETFL, O_NONBLOCK);
}

Qemu::~Qemu() {
    kill_machine();
    if (out_fd_ >= 0) close(out_fd_);
    if (in_fd_ >= 0) close(in_fd_);
    if (log_fd_ >= 0) close(log_fd_);
}

bool Qemu::pump(std::chrono::steady_clock::time_point deadline) {
    if (out_fd_ < 0) return false;
    auto now = std::chrono::steady_clock::now();
    int ms = now >= deadline ? 0 : int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    pollfd p{out_fd_, POLLIN, 0};
    int r = poll(&p, 1, ms > 200 ? 200 : ms);
    if (r <= 0) return true;
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof(buf));
    if (n > 0) {
        output_.append(buf, size_t(n));
        if (log_fd_ >= 0 && write(log_fd_, buf, size_t(n)) < 0) {
            // The log is a convenience; the test still sees output().
        }
        return true;
    }
    if (n == 0) {
        close(out_fd_);
        out_fd_ = -1;
        return false;
    }
    return errno == EAGAIN || errno == EINTR;
}

bool Qemu::wait_for(const std::string& text, std::chrono::milliseconds timeout) {
    std::string ignored;
    return wait_for(text, timeout, ignored);
}

bool Qemu::wait_for(const std::string& text, std::chrono::milliseconds timeout, std::string& before) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        size_t at = output_.find(text, read_pos_);
        if (at != std::string::npos) {
            before = output_.substr(read_pos_, at - read_pos_);
            read_pos_ = at + text.size();
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) return false;
        if (!pump(deadline)) {
            // Console closed: QEMU is gone. One last look at what arrived.
            at = output_.find(text, read_pos_);
            if (at == std::string::npos) return false;
            before = output_.substr(read_pos_, at - read_pos_);
            read_pos_ = at + text.size();
            return true;
        }
    }
}

void Qemu::send(const std::string& text) {
    if (in_fd_ < 0) return;
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = write(in_fd_, text.data() + off, text.size() - off);
        if (n <= 0) {
            if (errno == EINTR) continue;
            return;
        }
        off += size_t(n);
    }
}

void Qemu::reap(bool block) {
    if (pid_ <= 0) return;
    int st;
    pid_t r = waitpid(pid_, &st, block ? 0 : WNOHANG);
    if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        pid_ = -1;
    }
}

int Qemu::wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
        reap(false);
        if (pid_ <= 0) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            kill_machine();
            return -1;
        }
        if (!pump(deadline)) usleep(20000);
    }
    // Drain what QEMU wrote before exiting.
    while (pump(std::chrono::steady_clock::now())) {
        if (out_fd_ < 0) break;
        pollfd p{out_fd_, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) break;
    }
    return status_;
}

void Qemu::power_cut() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    reap(true);
}

void Qemu::kill_machine() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    for (int i = 0; i < 50 && pid_ > 0; i++) {
        reap(false);
        if (pid_ > 0) usleep(20000);
    }
    if (pid_ > 0) {
        ::kill(-pid_, SIGKILL);
        reap(true);
    }
}

}  // namespace lamina::test
