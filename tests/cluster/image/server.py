"""HTTP workload for the cluster tests: answers with its hostname, /health as HEALTH_STATUS says.

Why configurable health: the liveness test needs a container whose probe fails for certain,
without timing tricks; HEALTH_STATUS=500 gives exactly that while / keeps answering.
"""

import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8080"))
HEALTH_STATUS = int(os.environ.get("HEALTH_STATUS", "200"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        status = HEALTH_STATUS if self.path == "/health" else 200
        body = f"{socket.gethostname()} {self.path}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    # As PID 1 the default SIGTERM action is "ignore"; exit promptly so restarts are not held
    # up by the grace period.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on {PORT} as {socket.gethostname()}", file=sys.stderr, flush=True)
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
