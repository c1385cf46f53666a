#!/usr/bin/env python3
"""The host-side HTTP load of the Linux-guest baseline: requests to nginx in a guest through
QEMU's forward of 127.0.0.1:PORT to the guest's port 80, one case at a time, one connection at
a time (a latency-bound client: the figure is the guest's time per request, not a saturation
throughput). Waits up to 120 s for nginx to answer, then prints the case's elapsed
microseconds on stdout; exits 1 with a reason on stderr when an answer is wrong.

    http_load.py PORT CASE     CASE: web_ka | web_close | web_1m
    http_load.py PORT ready    only waits for nginx (bench/linux-guest/profile starts the
                               guest's profiler after it)
"""
import socket
import sys
import time

CASES = {
    # key: (path, expected body length, requests, keep-alive)
    "web_ka": ("/bench/1k.html", 1024, 1000, True),
    "web_close": ("/bench/1k.html", 1024, 300, False),
    "web_1m": ("/bench/1m.bin", 1 << 20, 20, True),
}


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def get(self, path, close):
        req = "GET %s HTTP/1.1\r\nHost: bench\r\n%s\r\n" % (path, "Connection: close\r\n" if close else "")
        self.sock.sendall(req.encode())
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        while len(self.buf) < length:
            self.fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body

    def fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buf += data

    def close(self):
        self.sock.close()


def wait_ready(port, path):
    deadline = time.monotonic() + 120
    while True:
        try:
            c = Client(port)
            status, _ = c.get(path, True)
            c.close()
            if status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit("http_load: nginx does not answer on port %d" % port)
        time.sleep(0.5)


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in list(CASES) + ["ready"]:
        sys.exit("usage: http_load.py PORT " + "|".join(list(CASES) + ["ready"]))
    port = int(sys.argv[1])
    if sys.argv[2] == "ready":
        wait_ready(port, CASES["web_ka"][0])
        return
    path, size, count, keep_alive = CASES[sys.argv[2]]
    wait_ready(port, path)
    start = time.monotonic()
    c = Client(port)
    for i in range(count):
        if not keep_alive and i:
            c = Client(port)
        status, body = c.get(path, not keep_alive)
        if status != 200 or len(body) != size:
            sys.exit("http_load: request %d: status %d, %d bytes" % (i, status, len(body)))
        if not keep_alive:
            c.close()
    c.close()
    print(int((time.monotonic() - start) * 1e6))


if __name__ == "__main__":
    main()
