// A minimal HTTP/1.1 client for the web tests: one TCP connection to 127.0.0.1, requests in
// sequence over it (keep-alive), each response read to exactly its Content-Length.
#pragma once

#include <string>

namespace lamina::test {

struct Response {
    int status = 0;       // the status code; 0 when no complete response arrived
    std::string headers;  // the header block, status line included
    std::string body;
};

class Connection {
public:
    // Connects at once; ok() says whether it worked. Each receive gives up after timeout_s.
    explicit Connection(int port, int timeout_s = 10);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    bool ok() const { return fd_ >= 0; }

    // One GET; with close_after, asks the server to close the connection after the answer.
    Response get(const std::string& path, bool close_after = false);
    // Any request: the request line, then `headers` (each line ending in \r\n; Host is not
    // added), a Content-Length when body is not empty, and the body.
    Response request(const std::string& method, const std::string& path, const std::string& headers,
                     const std::string& body = "");
    // True when the server closed the connection (and sent nothing more).
    bool closed_by_server();
    // Sends bytes as they are (a request left unfinished, for one); false when not all went.
    bool send_text(const std::string& text);
    // Waits up to limit_s for the connection to end without the server sending anything more
    // (the end of the stream, or an error such as a reset). False when it did not, or data came.
    bool wait_ended(double limit_s);

private:
    bool fill();
    int fd_ = -1;
    std::string pending_;
};

}  // namespace lamina::test
