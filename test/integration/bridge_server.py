#!/usr/bin/env python3
"""A node's health endpoint for test-bridge.sh: the old ping's other end.

  bridge_server.py http STATUS [PORT]   answers every GET/HEAD with STATUS (200, 503, ...)
  bridge_server.py tcp [PORT]           accepts connections and closes them

Binds 127.0.0.1:PORT (0 or none: a free port), prints the port on stdout once it listens, and
serves until SIGTERM. Counts requests/connections in the file named by $BRIDGE_SERVER_COUNT, if
set (one line per hit), so that a test can wait for probes instead of sleeping.
"""
import http.server
import os
import signal
import socket
import sys


def hit():
    path = os.environ.get("BRIDGE_SERVER_COUNT")
    if path:
        with open(path, "a") as f:
            f.write("hit\n")


def serve_http(status, port):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hit()
            body = b'{"status":"%d"}\n' % status
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 128  # socketserver's 5 drops SYNs under a burst of probes
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a probe that gave up (the bridge stopped, a timeout) is not news

    srv = Server(("127.0.0.1", port), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


def serve_tcp(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    print(s.getsockname()[1], flush=True)
    while True:
        c, _ = s.accept()
        hit()
        c.close()


def main():
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if len(sys.argv) >= 3 and sys.argv[1] == "http":
        serve_http(int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    elif len(sys.argv) >= 2 and sys.argv[1] == "tcp":
        serve_tcp(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
