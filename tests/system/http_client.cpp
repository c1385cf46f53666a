#include "tests/system/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace lamina::test {

Connection::Connection(int port, int timeout_s) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{timeout_s, 0};
    if (fd_ < 0 || setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
    }
}

Connection::~Connection() {
    if (fd_ >= 0) close(fd_);
}

Response Connection::get(const std::string& path, bool close_after) {
    return request(
        "GET", path,
        std::string("Host: localhost\r\nUser-Agent: lamina-test\r\n") + (close_after ? "Connection: close\r\n" : ""));
}

Response Connection::request(const std::string& method, const std::string& path, const std::string& headers,
                             const std::string& body) {
    Response r;
    std::string req = method + " " + path + " HTTP/1.1\r\n" + headers +
                      (body.empty() ? "" : "Content-Length: " + std::to_string(body.size()) + "\r\n") + "\r\n" + body;
    if (send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) return r;
    size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos)
        if (!fill()) return r;
    r.headers = pending_.substr(0, end + 2);
    pending_.erase(0, end + 4);
    size_t length = 0;
    std::string lower = r.headers;
    for (char& c : lower) c = char(tolower(static_cast<unsigned char>(c)));
    size_t cl = lower.find("\r\ncontent-length:");
    if (cl != std::string::npos) length = std::stoul(r.headers.substr(cl + 17));
    while (pending_.size() < length)
        if (!fill()) return r;
    r.body = pending_.substr(0, length);
    pending_.erase(0, length);
    if (r.headers.compare(0, 9, "HTTP/1.1 ") == 0) r.status = std::atoi(r.headers.c_str() + 9);
    return r;
}

bool Connection::closed_by_server() {
    char c;
    return pending_.empty() && recv(fd_, &c, 1, 0) == 0;
}

bool Connection::send_text(const std::string& text) {
    return send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == ssize_t(text.size());
}

bool Connection::wait_ended(double limit_s) {
    if (!pending_.empty()) return false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit_s);
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        int r = poll(&p, 1, int(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        char c;
        ssize_t n = recv(fd_, &c, 1, MSG_DONTWAIT);
        if (n > 0) return false;
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) return true;
    }
}

bool Connection::fill() {
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending_.append(buf, size_t(n));
    return true;
}

}  // namespace lamina::test
