"""A tiny loopback HTTP(S) server that replays recorded responses: JSON bodies or
server-sent event streams, per method and path. It logs every request (path, headers,
JSON body) so tests can check what a client sent. For servers that cannot run here (vLLM,
SGLang, Ollama): their responses, as their documentation records them, go through the real
client code over a real socket.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    body: Any = None  # JSON, sent whole
    events: list[Any] | None = None  # a server-sent event stream of these (dicts or raw str)
    status: int = 200
    hold: threading.Event | None = None  # wait for this before answering (a stalled server)
    done_marker: bool = True  # end the stream with data: [DONE]


@dataclass
class Logged:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ReplayServer:
    routes: dict[tuple[str, str], Reply] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)

    def start(self, tls: ssl.SSLContext | None = None) -> ReplayServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                path = self.path.split("?")[0]
                owner.log.append(Logged(method, path, dict(self.headers), body))
                reply = owner.routes.get((method, path))
                if reply is None:
                    self._json(404, {"error": {"message": f"no route {path}", "code": 404}})
                    return
                if reply.hold is not None:
                    reply.hold.wait(30)
                if reply.events is None:
                    self._json(reply.status, reply.body)
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for event in reply.events:
                    data = event if isinstance(event, str) else json.dumps(event)
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()
                if reply.done_marker:
                    self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

            def _json(self, status: int, data: Any) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def requests_to(self, path: str) -> list[Logged]:
        return [r for r in self.log if r.path == path]

    def stop(self) -> None:
        for reply in self.routes.values():
            if reply.hold is not None:
                reply.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()
