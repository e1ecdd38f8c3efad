"""First load of a model file, in a child process.

llama.cpp aborts the whole process on some corrupt files (a failed GGML_ASSERT cannot be
caught in Python). So a file not seen before (path, size, mtime) is loaded once in a child
process that decodes one token. Where failed assertions while loading are load errors (see
:mod:`.guard`), the engine loads the file alongside the check and waits for its verdict only
before the first decode; elsewhere only a file that passed is loaded in the app's process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tokenwise.core import paths
from tokenwise.core.errors import DamagedModelError, TokenwiseError
from tokenwise.core.i18n import _

TIMEOUT_S = 180.0
_lock = threading.Lock()
_running: set[subprocess.Popen[str]] = set()  # children checking a file now
_stopped: set[int] = set()  # pids of children stopped by :func:`stop_running`


def stop_running() -> None:
    """Kill every check under way (the app is closing): the load waiting on it ends at once
    with "stopped" instead of running to the end."""
    with _lock:
        for proc in _running:
            _stopped.add(proc.pid)
            proc.kill()


def _key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _load_cache() -> dict[str, bool]:
    try:
        data = json.loads(paths.preflight_cache_path().read_text("utf-8"))
        return {str(k): bool(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def passed_before(path: Path) -> bool:
    return _load_cache().get(_key(path), False)


def _remember(path: Path) -> None:
    with _lock:
        cache = _load_cache()
        cache[_key(path)] = True
        target = paths.preflight_cache_path()
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache), "utf-8")
        os.replace(tmp, target)


def ensure_preflight(path: Path) -> None:
    """Raise DamagedModelError unless the file loads and decodes in a child process."""
    check = start_check(Path(path), alongside=False)
    if check is not None:
        check.verdict()


def start_check(path: Path, *, alongside: bool = True) -> Check | None:
    """Start checking a file not seen before in a child; None: it passed before.

    ``alongside``: the app loads the file meanwhile, and its load goes first (Linux: the
    child runs only on an otherwise idle core until :meth:`Check.verdict` is called).
    """
    path = Path(path)
    if passed_before(path):
        return None
    cmd = [sys.executable, "-m", "tokenwise.core.engine.preflight_child", str(path)]
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", "")
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env["PYTHONPATH"]) if p)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    if alongside:
        _yield_to_the_app(proc.pid)
    with _lock:
        _running.add(proc)
    return Check(path, proc)


def _yield_to_the_app(pid: int) -> None:
    """Linux: the child runs only on a core nothing else wants (SCHED_IDLE), from its first
    instructions on (elsewhere: as any process)."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))


class Check:
    """A file's check under way in a child process."""

    def __init__(self, path: Path, proc: subprocess.Popen[str]) -> None:
        self.path = path
        self.proc = proc

    def cancel(self) -> None:
        """Stop the check (the engine closed first); it proves nothing."""
        with _lock:
            _running.discard(self.proc)
        self.proc.kill()
        self.proc.communicate()

    def verdict(self) -> None:
        """Wait for the child; remember a pass, raise DamagedModelError for a failure."""
        path, proc = self.path, self.proc
        with contextlib.suppress(OSError, AttributeError):  # now waited for: a normal priority
            os.sched_setscheduler(proc.pid, os.SCHED_OTHER, os.sched_param(0))
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.communicate()
            raise DamagedModelError(
                _("Checking {name} took longer than {seconds} s; the file may be damaged.")
                .format(name=path.name, seconds=f"{TIMEOUT_S:.0f}")
            ) from exc
        finally:
            with _lock:
                _running.discard(proc)
                stopped = proc.pid in _stopped
                _stopped.discard(proc.pid)
        if stopped:
            raise TokenwiseError(_("Loading {name} was stopped.").format(name=path.name))
        if proc.returncode == 0:
            _remember(path)
            return
        detail = _detail(stdout, stderr)
        if proc.returncode < 0:
            try:
                name = signal.Signals(-proc.returncode).name
            except ValueError:
                name = f"signal {-proc.returncode}"
            raise DamagedModelError(
                _("This model file is damaged: llama.cpp crashed ({signal}) while reading "
                  "{name}{detail}. Download it again or choose another file.").format(
                    signal=name, name=path.name, detail=f" ({detail})" if detail else "")
            )
        raise DamagedModelError(
            _("This model file is damaged: {detail}. Download it again or choose another "
              "file.").format(detail=detail or _("llama.cpp could not load it"))
        )


def _detail(stdout: str, stderr: str) -> str:
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"]).rstrip(".")
    for line in reversed(stderr.strip().splitlines()):
        if "GGML_ASSERT" in line or "error" in line.lower():
            return line.strip()[:300]
    return ""
