"""The real app as a process: it answers, and it exits within 2 s of SIGTERM mid-reply."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

if sys.platform == "win32":
    pytest.skip("SIGTERM is POSIX", allow_module_level=True)


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", TOKENWISE_HOME=str(home))


def _app(*args: str, home: Path) -> subprocess.Popen[str]:
    code = "import sys; from tokenwise.ui.app import run_gui; sys.exit(run_gui(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=_env(home), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_smoke_test_answers_and_exits(tmp_path, starter_model_path):
    proc = _app("--smoke-test", home=tmp_path)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    report = json.loads(next(line for line in out.splitlines() if "smoke_test" in line))
    assert report["smoke_test"] == "ok" and report["tokens"] > 0
    assert "INFO" not in out + err  # the log file takes those, not the terminal
    assert "started: Tokenwise" in (tmp_path / "cache" / "tokenwise.log").read_text("utf-8")


def test_sigterm_mid_reply_exits_quickly_and_keeps_the_reply(tmp_path, starter_model_path):
    settings = tmp_path / "config" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"sampler": {"temperature": 0.0, "max_tokens": 2000}}))
    proc = _app("--smoke-test", "--smoke-prompt",
                "Write a very long essay about the history of computing.", home=tmp_path)
    db = tmp_path / "data" / "tokenwise.db"
    streamed = 0
    assert proc.stdout is not None
    for line in proc.stdout:  # the app reports each save of the streaming reply
        if line.startswith("{") and "saved_steps" in line:
            streamed = json.loads(line)["saved_steps"]
            if streamed >= 20:
                break
    assert streamed >= 20, "the reply did not start streaming"
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    assert time.monotonic() - started < 2.0
    assert proc.returncode == 0
    with sqlite3.connect(db) as conn:
        content, stop, n = conn.execute(
            "SELECT content, stop_reason, n_tokens FROM messages WHERE role = 'assistant'"
        ).fetchone()
        stored = conn.execute("SELECT SUM(n_steps) FROM trace_chunks").fetchone()[0]
    assert stop == "cancelled"
    assert content and stored >= streamed and n == stored


def test_sigterm_mid_download_exits_quickly_and_the_next_start_resumes(
        tmp_path, starter_model_path):
    """Quitting by signal asks nothing, does not wait out a stalled read, and keeps what
    arrived: a prefix of the real file, noted for the next start."""
    from hubserver import STARTER_REPO, serving_starter

    env = _env(tmp_path)
    env.pop("HF_HUB_OFFLINE", None)
    with serving_starter(starter_model_path, env) as server:
        server.faults.hold_after = 8_000_000  # the download stalls mid-file until released
        partial = tmp_path / "data" / "models" / ".partial"
        partial.mkdir(parents=True)
        resume = [{"repo_id": STARTER_REPO, "filenames": [starter_model_path.name]}]
        (partial / "resume-on-start.json").write_text(json.dumps(resume))
        code = "import sys; from tokenwise.ui.app import run_gui; sys.exit(run_gui([]))"
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert server.wait_for_bytes(starter_model_path.name, 8_000_000, timeout=120)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=10)
            elapsed = time.monotonic() - started
        finally:
            server.faults.release.set()
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert elapsed < 2.0, f"took {elapsed:.2f} s to exit"
    assert json.loads((partial / "resume-on-start.json").read_text()) == resume
    [part] = partial.glob("*.part")
    arrived = part.read_bytes()
    assert 0 < len(arrived) <= 8_000_000 + (1 << 20)
    assert starter_model_path.read_bytes()[:len(arrived)] == arrived


def _wait_for(condition, timeout: float) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes."""
    import threading

    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while time.monotonic() < deadline:
        if condition():
            return True
        tick.wait(0.01)
    return bool(condition())


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True,
                         check=False).stdout
    return [int(p) for p in out.split()]


def test_sigterm_while_the_first_load_checks_the_file_exits_quickly_with_no_orphan(
        tmp_path, starter_model_path):
    """A model not seen before is first loaded in a child (the preflight): closing then
    ends that child too, and the app does not wait for the load."""
    proc = _app(home=tmp_path)
    try:
        assert _wait_for(lambda: _children(proc.pid), 60), "no preflight child started"
        checking = _children(proc.pid)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert elapsed < 2.0, f"took {elapsed:.2f} s to exit"
    assert _wait_for(lambda: not any(Path(f"/proc/{c}").exists() for c in checking), 2)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_while_streaming_loses_at_most_the_last_second(
        tmp_path, starter_model_path, seed):
    """Killed at a random point of a streaming reply: the database opens clean and holds the
    reply up to its last save (saves come every half second), and everything before it."""
    import random
    import threading

    settings = tmp_path / "config" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"sampler": {"temperature": 0.0, "max_tokens": 3000}}))
    proc = _app("--smoke-test", "--smoke-prompt",
                "Write a very long essay about the history of computing.", home=tmp_path)
    rng = random.Random(seed)
    kill_after = rng.randint(1, 6)  # saves of the reply before the kill
    saves = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("{") and "saved_steps" in line:
                saves.append((time.monotonic(), json.loads(line)["saved_steps"]))
                if len(saves) >= kill_after:
                    break
        assert len(saves) >= kill_after, "the reply did not stream"
        threading.Event().wait(rng.uniform(0.0, 0.5))  # a random point between two saves
        proc.kill()  # SIGKILL: no handler runs
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    db = tmp_path / "data" / "tokenwise.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        users = conn.execute("SELECT content FROM messages WHERE role = 'user'").fetchall()
        content, = conn.execute(
            "SELECT content FROM messages WHERE role = 'assistant'").fetchone()
        stored = conn.execute("SELECT COALESCE(SUM(n_steps), 0) FROM trace_chunks").fetchone()[0]
    assert users == [("Write a very long essay about the history of computing.",)]
    _, last_saved = saves[-1]
    # every reported save is on disk; saves come every 0.5 s, so at most that much is lost
    assert stored >= last_saved
    assert content  # the text streamed so far is there too


def test_after_a_crash_the_next_start_offers_the_report(tmp_path, starter_model_path):
    first = _app(home=tmp_path)
    assert first.stdout is not None
    for line in first.stdout:
        if "window shown" in line:
            break
    first.kill()  # as a crash would end it: nothing runs on the way out
    first.wait(10)
    second = _app("--smoke-test", home=tmp_path)
    out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err
    assert "ended unexpectedly; its report is offered" in out
    log = (tmp_path / "cache" / "tokenwise.log").read_text(encoding="utf-8")
    assert "started: Tokenwise" in log and "closed cleanly" in log
    third = _app("--smoke-test", home=tmp_path)  # a clean exit before: nothing to offer
    out, err = third.communicate(timeout=180)
    assert third.returncode == 0, err
    assert "unexpectedly" not in out
