"""A loopback HTTP server that speaks enough of the Hugging Face hub's protocol for the real
huggingface_hub client: resolve HEAD/GET with Range, the model info API with LFS sha256,
and model search, over HTTP or HTTPS. It logs every request (its headers, the Range start,
the bytes actually sent) so tests can assert what was transferred, and it can misbehave on
request: drop or reset the connection mid-file, send wrong bytes, hold mid-file, demand a
token, answer gated, refuse only the GET, redirect downloads to a CDN-like path. It also
answers as a plain HTTP forward proxy would (requests in absolute form, for any host name),
so a client's proxy settings can be tested against it.

Run it alone to serve the starter model:  python tests/hubserver.py [--port 8765]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(8 << 20):
                digest.update(block)
        _SHA_CACHE[key] = digest.hexdigest()
    return _SHA_CACHE[key]


@dataclass
class RepoFile:
    path: Path | None  # None: listed in the API but not served (e.g. an unsafe name)
    size: int
    sha256: str


@dataclass
class Repo:
    repo_id: str
    files: dict[str, RepoFile]
    downloads: int = 0
    gated: bool = False
    private: bool = False
    token: str | None = None  # the token that opens a gated or private repo


@dataclass
class LogEntry:
    method: str
    path: str
    status: int = 0
    range_start: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # as received, names lowercased
    proxied: bool = False  # asked in absolute form ("GET http://host/..."), as of a proxy
    bytes_sent: int = 0
    finished: bool = False
    started: float = field(default_factory=time.perf_counter)
    ended: float = 0.0

    @property
    def authorized(self) -> bool:
        return "authorization" in self.headers

    @property
    def seconds(self) -> float:
        return self.ended - self.started


HOLD_LIMIT_S = 120.0


@dataclass
class Faults:
    drop_after: dict[str, int] = field(default_factory=dict)  # filename -> bytes, once
    reset: bool = False  # drop with a TCP reset (an error on the client) instead of a close
    corrupt: set[str] = field(default_factory=set)  # filenames served with wrong bytes
    # after this many bytes of a body, hold until ``release`` is set (a download caught
    # mid-file for as long as the test needs, without timing)
    hold_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    status: dict[str, int] = field(default_factory=dict)  # filename -> forced status
    get_status: dict[str, int] = field(default_factory=dict)  # the same, for GET only
    redirect_to: str | None = None  # resolve GETs answer 302 to {redirect_to}/cdn/...
    # a search for text containing this waits until ``search_release`` is set
    hold_search: str | None = None
    search_release: threading.Event = field(default_factory=threading.Event)


class HubServer:
    """Start with :meth:`start`; ``url`` is then the endpoint to hand to huggingface_hub."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.log: list[LogEntry] = []
        self.faults = Faults()
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._server: ThreadingHTTPServer | None = None
        self._scheme = "http"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, Path],
        *,
        downloads: int = 0,
        gated: bool = False,
        private: bool = False,
        token: str | None = None,
        listed_only: tuple[str, ...] = (),
    ) -> Repo:
        entries = {
            name: RepoFile(path, path.stat().st_size, file_sha256(path))
            for name, path in files.items()
        }
        for name in listed_only:
            entries[name] = RepoFile(None, 1234, "0" * 64)
        repo = Repo(repo_id, entries, downloads, gated, private, token)
        self.repos[repo_id] = repo
        return repo

    def gets(self, filename: str) -> list[LogEntry]:
        with self.lock:
            return [e for e in self.log if e.method == "GET" and e.path.endswith("/" + filename)]

    def bytes_served(self, filename: str) -> int:
        return sum(e.bytes_sent for e in self.gets(filename))

    def wait_for_bytes(self, filename: str, at_least: int, timeout: float = 60.0) -> bool:
        """Block until the server has sent ``at_least`` bytes of ``filename`` (no polling)."""
        def enough() -> bool:
            return sum(
                e.bytes_sent for e in self.log
                if e.method == "GET" and e.path.endswith("/" + filename)
            ) >= at_least

        with self.changed:
            return self.changed.wait_for(enough, timeout)

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def start(self, port: int = 0, tls: ssl.SSLContext | None = None) -> HubServer:
        """Serve on ``port`` (0: any free one); over HTTPS with ``tls``, a server context."""
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextlib.contextmanager
def running_server() -> Iterator[HubServer]:
    server = HubServer().start()
    try:
        yield server
    finally:
        server.stop()


STARTER_REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"


@contextlib.contextmanager
def serving_starter(starter: Path, environ: dict[str, str] | None = None) -> Iterator[HubServer]:
    """A server with the starter model in STARTER_REPO, HF_ENDPOINT pointing at it."""
    env = os.environ if environ is None else environ
    with running_server() as server:
        server.add_repo(STARTER_REPO, {starter.name: starter}, downloads=500)
        old = env.get("HF_ENDPOINT")
        env["HF_ENDPOINT"] = server.url
        try:
            yield server
        finally:
            if old is None:
                env.pop("HF_ENDPOINT", None)
            else:
                env["HF_ENDPOINT"] = old


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
    # holds the body until the client's delayed ACK (40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True
    server_hub: HubServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # the structured log is HubServer.log

    # ----- routing -----------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _route(self, *, head: bool) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        entry = LogEntry("HEAD" if head else "GET", path)
        entry.headers = {k.lower(): v for k, v in self.headers.items()}
        entry.proxied = bool(parts.scheme)
        with self.server_hub.lock:
            self.server_hub.log.append(entry)
        try:
            if path == "/api/models":
                self._search(entry, parse_qs(parts.query))
                return
            match = re.fullmatch(r"/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?", path)
            if match:
                self._model_info(entry, match[1], parse_qs(parts.query))
                return
            match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
            if match:
                self._resolve(entry, match[1], match[3], head=head)
                return
            match = re.fullmatch(r"/cdn/([^/]+/[^/]+)/(.+)", path)
            if match and match[1] in self.server_hub.repos:
                # like a signed CDN URL: no token needed, and none should be sent
                self._serve(entry, self.server_hub.repos[match[1]], match[2], head=head)
                return
            self._error(entry, 404, "RepoNotFound", "Not found")
        finally:
            entry.ended = time.perf_counter()
            entry.finished = True

    # ----- helpers -----------------------------------------------------------------------
    def _send(self, entry: LogEntry, status: int, body: bytes, headers: dict[str, str]) -> None:
        entry.status = status
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, entry: LogEntry, data: object) -> None:
        self._send(entry, 200, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def _error(self, entry: LogEntry, status: int, code: str | None, message: str) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(entry, status, json.dumps({"error": message}).encode(), headers)

    def _check_access(self, entry: LogEntry, repo_id: str) -> Repo | None:
        repo = self.server_hub.repos.get(repo_id)
        if repo is None:
            self._error(entry, 401, "RepoNotFound", "Repository not found")
            return None
        if repo.gated or repo.private:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {repo.token}":
                if repo.gated:
                    status = 403 if auth else 401
                    self._error(
                        entry, status, "GatedRepo",
                        f"Access to model {repo_id} is restricted. You must have access to it "
                        "and be authenticated to access it. Please log in.",
                    )
                else:
                    self._error(entry, 401, "RepoNotFound", "Repository not found")
                return None
        return repo

    # ----- endpoints ---------------------------------------------------------------------
    def _search(self, entry: LogEntry, query: dict[str, list[str]]) -> None:
        text = (query.get("search") or [""])[0].lower()
        limit = int((query.get("limit") or ["1000"])[0])
        faults = self.server_hub.faults
        if faults.hold_search is not None and faults.hold_search in text:
            faults.search_release.wait(HOLD_LIMIT_S)
        repos = [r for r in self.server_hub.repos.values() if text in r.repo_id.lower()]
        repos = [r for r in repos if not r.private]
        repos.sort(key=lambda r: -r.downloads)
        self._json(entry, [
            {"id": r.repo_id, "_id": r.repo_id, "downloads": r.downloads, "likes": 1,
             "gated": "auto" if r.gated else False, "private": False,
             "tags": ["gguf"], "lastModified": "2025-01-01T00:00:00.000Z"}
            for r in repos[:limit]
        ])

    def _model_info(self, entry: LogEntry, repo_id: str, query: dict[str, list[str]]) -> None:
        repo = self._check_access(entry, repo_id)
        if repo is None:
            return
        blobs = (query.get("blobs") or ["false"])[0].lower() == "true"
        siblings = []
        for name, file in repo.files.items():
            sibling: dict[str, object] = {"rfilename": name}
            if blobs:
                sibling.update(size=file.size, blobId="b" * 40,
                               lfs={"size": file.size, "sha256": file.sha256, "pointerSize": 134})
            siblings.append(sibling)
        self._json(entry, {"id": repo_id, "_id": repo_id, "sha": COMMIT, "private": repo.private,
                           "gated": "auto" if repo.gated else False, "downloads": repo.downloads,
                           "likes": 1, "tags": ["gguf"], "siblings": siblings})

    def _resolve(self, entry: LogEntry, repo_id: str, filename: str, *, head: bool) -> None:
        repo = self._check_access(entry, repo_id)
        if repo is None:
            return
        faults = self.server_hub.faults
        if faults.redirect_to and not head and repo.files.get(filename):
            entry.status = 302
            self.send_response(302)
            self.send_header("Location", f"{faults.redirect_to}/cdn/{repo_id}/{filename}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._serve(entry, repo, filename, head=head)

    def _serve(self, entry: LogEntry, repo: Repo, filename: str, *, head: bool) -> None:
        file = repo.files.get(filename)
        faults = self.server_hub.faults
        if filename in faults.status:
            self._error(entry, faults.status[filename], None, "Forced failure")
            return
        if filename in faults.get_status and not head:
            self._error(entry, faults.get_status[filename], None, "Forced failure")
            return
        if file is None or file.path is None:
            self._error(entry, 404, "EntryNotFound", f"{filename} does not exist")
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and not head:
            found = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if found:
                start = int(found[1])
                entry.range_start = start
        if start >= file.size and start:
            entry.status = 416
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{file.size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = 206 if start else 200
        entry.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{file.sha256}"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Content-Length", str(file.size - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{file.size - 1}/{file.size}")
        self.end_headers()
        if head:
            return
        self._stream(entry, file, filename, start)

    def _stream(self, entry: LogEntry, file: RepoFile, filename: str, start: int) -> None:
        faults = self.server_hub.faults
        drop_at = faults.drop_after.pop(filename, None)
        plain = drop_at is None and filename not in faults.corrupt and faults.hold_after is None
        assert file.path is not None
        with open(file.path, "rb") as handle:
            if plain:
                try:
                    entry.bytes_sent = self.connection.sendfile(handle, start, file.size - start)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client went away (a cancel, a kill)
                self.server_hub._notify()
                return
            handle.seek(start)
            position = start
            while block := handle.read(256 << 10):
                if drop_at is not None and entry.bytes_sent + len(block) > drop_at:
                    block = block[: max(drop_at - entry.bytes_sent, 0)]
                    self.wfile.write(block)
                    entry.bytes_sent += len(block)
                    self.wfile.flush()
                    if faults.reset:
                        linger = struct.pack("ii", 1, 0)  # close at once, with an RST
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                        self.connection.close()
                    else:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                middle = file.size // 2
                if filename in faults.corrupt and position <= middle < position + len(block):
                    mutable = bytearray(block)
                    mutable[file.size // 2 - position] ^= 0xFF
                    block = bytes(mutable)
                try:
                    self.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                    return
                entry.bytes_sent += len(block)
                position += len(block)
                self.server_hub._notify()
                if faults.hold_after is not None and entry.bytes_sent >= faults.hold_after:
                    faults.release.wait(HOLD_LIMIT_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="0: any free port")
    parser.add_argument("--file", type=Path, help="GGUF to serve (default: the starter)")
    parser.add_argument("--repo", default="HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
    args = parser.parse_args()
    if args.file is None:
        from tokenwise.core.models.starter import starter_model_path

        args.file = starter_model_path()
    server = HubServer()
    server.add_repo(args.repo, {args.file.name: args.file}, downloads=1000)
    server.start(args.port)
    print(f"serving {args.repo}/{args.file.name} at {server.url}", flush=True)  # noqa: T201
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    server.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
