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
