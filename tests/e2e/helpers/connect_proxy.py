#!/usr/bin/python3
"""A small HTTP CONNECT proxy (RFC 9110, section 9.3.6) on 127.0.0.1 for the
tunnel tests: a stand-in for a corporate network's HTTPS_PROXY. Python 3
standard library only.

Usage: connect_proxy.py --log FILE [--port N] [--user U --password P]

Listens on 127.0.0.1:N (N=0, the default, picks a free port); the port is the
first line on stdout. Only CONNECT to 127.0.0.1 or localhost is allowed
(403 otherwise; 405 for any other method). With --user and --password a
request needs `Proxy-Authorization: Basic` with them (407 and
`Proxy-Authenticate` otherwise). Each CONNECT appends one line to the log:
`CONNECT <target> <status>`. Once the answer is 200, bytes are relayed both
ways; an end of stream on one side is passed on as a half-close (shutdown of
the write side) of the other, and the connection ends when both sides have
ended.
"""
import argparse
import base64
import binascii
import socket
import sys
import threading

MAX_HEAD = 16 * 1024
HEAD_TIMEOUT = 10
ALLOWED_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1"}


class Proxy:
    def __init__(self, log_path, user, password):
        self.log_path = log_path
        self.credentials = None
        if user is not None:
            self.credentials = (user, password or "")
        self.log_lock = threading.Lock()

    def log(self, target, status):
        line = "CONNECT %s %d\n" % (target, status)
        with self.log_lock, open(self.log_path, "a", encoding="utf-8") as f:
            f.write(line)

    def serve(self, listener):
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        try:
            self.handle_request(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def handle_request(self, conn):
        conn.settimeout(HEAD_TIMEOUT)
        head, rest = read_head(conn)
        if head is None:
            answer(conn, 400, "Bad Request")
            return
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            answer(conn, 400, "Bad Request")
            return
        method, target, _ = parts
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                answer(conn, 400, "Bad Request")
                return
            headers[name.lower()] = value.strip()
        if method != "CONNECT":
            answer(conn, 405, "Method Not Allowed", ["Allow: CONNECT"])
            return
        if self.credentials is not None and not self.authorized(headers):
            self.log(target, 407)
            answer(conn, 407, "Proxy Authentication Required",
                   ['Proxy-Authenticate: Basic realm="test proxy"'])
            return
        host, port = split_authority(target)
        if host is None:
            self.log(target, 400)
            answer(conn, 400, "Bad Request")
            return
        if host.lower() not in ALLOWED_HOSTS:
            self.log(target, 403)
            answer(conn, 403, "Forbidden")
            return
        try:
            upstream = socket.create_connection((ALLOWED_HOSTS[host.lower()], port),
                                                timeout=HEAD_TIMEOUT)
        except OSError:
            self.log(target, 502)
            answer(conn, 502, "Bad Gateway")
            return
        with upstream:
            self.log(target, 200)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            conn.settimeout(None)
            upstream.settimeout(None)
            if rest:
                upstream.sendall(rest)
            relay(conn, upstream)

    def authorized(self, headers):
        value = headers.get("proxy-authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and (user, password) == self.credentials


def read_head(conn):
    """The request line and headers as text (without the blank line), and
    any bytes read after them; (None, b"") when there is no valid head."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            return None, b""
        chunk = conn.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    try:
        return head.decode("ascii"), rest
    except UnicodeDecodeError:
        return None, b""


def split_authority(target):
    """host and port of a CONNECT target (authority form, RFC 9110 7.1):
    host:port or [v6]:port; (None, None) when it is not one."""
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None, None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    number = int(port)
    if not 0 < number < 65536:
        return None, None
    return host, number


def answer(conn, status, reason, extra=()):
    lines = ["HTTP/1.1 %d %s" % (status, reason), *extra,
             "Content-Length: 0", "Connection: close", "", ""]
    conn.sendall("\r\n".join(lines).encode("ascii"))


def relay(a, b):
    """Copies a->b and b->a until both directions have ended."""
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            # A reset on either side ends both directions.
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    other = threading.Thread(target=pump, args=(b, a), daemon=True)
    other.start()
    pump(a, b)
    other.join()


def main():
    parser = argparse.ArgumentParser(description="An HTTP CONNECT proxy on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", required=True, help="file that gets one line per CONNECT")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")
    open(args.log, "a", encoding="utf-8").close()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)
    proxy = Proxy(args.log, args.user, args.password)
    try:
        proxy.serve(listener)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
