"""Real inference servers on loopback for the remote engine's tests: llama.cpp's own
llama-server (built once per machine by tests/servers/build_llama_server.sh into a cache
folder) and llama-cpp-python's server (its `server` extra), each with the starter model.

Run alone to keep one serving:  python tests/llamaservers.py llama-server|llama-cpp-python
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
N_CTX = 2048
# one thread: on a small machine shared with other work, llama.cpp's threads wait on each
# other (a second thread once made the starter model 40 times slower here)
THREADS = int(os.environ.get("TOKENWISE_TEST_SERVER_THREADS", "1"))
TEST_API_KEY = "tw-test-key-9f2c1e"  # the keyed server's key: must never reach a file or log


def cache_dir() -> Path:
    base = os.environ.get("TOKENWISE_TEST_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tokenwise-test")
    return Path(base)


def llama_server_binary() -> Path | None:
    """The built llama-server, or None (the build script makes it)."""
    found = os.environ.get("TOKENWISE_LLAMA_SERVER")
    path = Path(found) if found else (
        cache_dir() / f"llama-server-{LLAMA_CPP_PYTHON_VERSION}" / "bin" / "llama-server")
    return path if path.is_file() and os.access(path, os.X_OK) else None


def llama_cpp_python_server_missing() -> str:
    """Why llama-cpp-python's server cannot start here ("" when it can)."""
    try:
        import llama_cpp.server.app  # noqa: F401
    except ImportError as exc:
        return f"llama-cpp-python's server extra is not installed ({exc})"
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    kind: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    api_key: str | None = None
    model_id: str = ""
    _stopped: bool = field(default=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """Stop it at once (SIGKILL), as a crashed server would."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _wait_ready(server: RunningServer, path: str, timeout: float = 120.0) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    pause = threading.Event()
    waited = 0.0
    while waited < timeout:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.kind} exited with {server.process.returncode}:\n"
                               + server.log_text()[-3000:])
        try:
            response = httpx2.get(server.base_url + path, headers=headers, timeout=2.0)
            if response.status_code == 200:
                data = httpx2.get(server.base_url + "/v1/models", headers=headers,
                                  timeout=5.0).json()
                server.model_id = data["data"][0]["id"]
                return
        except httpx2.TransportError:
            pass
        pause.wait(0.1)
        waited += 0.1
    server.stop()
    raise RuntimeError(f"{server.kind} did not get ready within {timeout:.0f} s:\n"
                       + server.log_text()[-3000:])


def _launch(kind: str, command: list[str], log_dir: Path, port: int, api_key: str | None,
            ready_path: str) -> RunningServer:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{kind}-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    server = RunningServer(kind, process, port, log_path, api_key)
    try:
        _wait_ready(server, ready_path)
    except BaseException:
        server.stop()
        raise
    return server


def start_llama_server(model: Path, log_dir: Path, *, api_key: str | None = None,
                       n_ctx: int = N_CTX, extra: tuple[str, ...] = (),
                       threads: int = THREADS) -> RunningServer:
    binary = llama_server_binary()
    if binary is None:
        raise FileNotFoundError("llama-server is not built: run "
                                "tests/servers/build_llama_server.sh")
    port = free_port()
    command = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
               "-c", str(n_ctx), "-np", "1", "-fa", "on", "-t", str(threads), "--no-webui", *extra]
    if api_key:
        command += ["--api-key", api_key]
    return _launch("llama-server", command, log_dir, port, api_key, "/health")


def start_llama_cpp_python(model: Path, log_dir: Path, *, api_key: str | None = None,
                           n_ctx: int = N_CTX, threads: int = THREADS) -> RunningServer:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
               "--logits_all", "true", "--flash_attn", "true", "--n_threads", str(threads)]
    if api_key:
        command += ["--api_key", api_key]
    return _launch("llama-cpp-python", command, log_dir, port, api_key, "/v1/models")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "desktop"))
    from tokenwise.core.models.starter import starter_model_path

    which = sys.argv[1] if len(sys.argv) > 1 else "llama-server"
    start = start_llama_server if which == "llama-server" else start_llama_cpp_python
    running = start(starter_model_path(), Path("/tmp") / "tokenwise-servers")
    sys.stdout.write(running.base_url + "\n")
    sys.stdout.flush()
    try:
        running.process.wait()
    except KeyboardInterrupt:
        running.stop()
