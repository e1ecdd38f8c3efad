"""How long the app takes to exit after SIGTERM in each state it can be in.

Run: .venv/bin/python tests/benchmarks/bench_shutdown.py [--rounds 5]
Prints, per case, the median and the worst of the rounds (seconds from the signal to the
process's exit), and whether any child process outlived it: idle with the model loaded,
while a first load checks the file in its child, while a reply streams, while a download
is stalled mid-file. Each round starts the real app (offscreen) in a fresh home.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "desktop"))

from hubserver import STARTER_REPO, serving_starter  # noqa: E402
from tokenwise.core.models.starter import starter_model_path  # noqa: E402

APP = "import sys; from tokenwise.ui.app import run_gui; sys.exit(run_gui(sys.argv[1:]))"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True,
                         check=False).stdout
    return [int(p) for p in out.split()]


def _wait_for(condition: Callable[[], object], timeout: float) -> bool:
    deadline, tick = time.monotonic() + timeout, threading.Event()
    while time.monotonic() < deadline:
        if condition():
            return True
        tick.wait(0.005)
    return False


def _round(case: str, env: dict[str, str], home: Path,
           ready: Callable[[], object] | None = None) -> tuple[float, bool]:
    args: list[str] = []
    if case == "streaming":
        (home / "config").mkdir(parents=True)
        (home / "config" / "settings.json").write_text(
            json.dumps({"sampler": {"temperature": 0.0, "max_tokens": 3000}}))
        args = ["--smoke-test", "--smoke-prompt", "Write a long essay about computing."]
    proc = subprocess.Popen([sys.executable, "-c", APP, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    for line in proc.stdout:
        if case == "loading" and "window shown" in line:
            assert _wait_for(lambda: _children(proc.pid), 30), "no preflight child"
            break
        if case == "streaming" and '"saved_steps"' in line and json.loads(line)[
                "saved_steps"] >= 20:
            break
        if case in ("idle", "downloading") and "window shown" in line:
            break
    if ready is not None:
        assert _wait_for(ready, 60), "the state was not reached"
    if case == "idle":
        _wait_for(lambda: (home / "cache" / "preflight.json").exists(), 30)
        _wait_for(lambda: False, 1.0)  # the model loads after its check
    children = _children(proc.pid)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    elapsed = time.monotonic() - started
    orphans = _wait_for(lambda: any(Path(f"/proc/{c}").exists() for c in children), 1.0)
    return elapsed, orphans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    starter = starter_model_path()
    results = {}
    for case in ("idle", "loading", "streaming", "downloading"):
        times, orphans = [], False
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as folder:
                home = Path(folder)
                env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TOKENWISE_HOME": folder}
                env.pop("HF_HUB_OFFLINE", None)
                if case == "downloading":
                    with serving_starter(starter, env) as server:
                        server.faults.hold_after = 5_000_000
                        partial = home / "data" / "models" / ".partial"
                        partial.mkdir(parents=True)
                        (partial / "resume-on-start.json").write_text(json.dumps(
                            [{"repo_id": STARTER_REPO, "filenames": [starter.name]}]))
                        try:
                            elapsed, orphan = _round(
                                case, env, home,
                                lambda s=server: s.bytes_served(starter.name) >= 5_000_000)
                        finally:
                            server.faults.release.set()
                else:
                    elapsed, orphan = _round(case, env, home)
                times.append(elapsed)
                orphans = orphans or orphan
        results[case] = {"median_s": round(statistics.median(times), 3),
                         "max_s": round(max(times), 3), "children_left": orphans}
        print(json.dumps({case: results[case]}), flush=True)


if __name__ == "__main__":
    main()
