"""Download throughput from the loopback hub server: Tokenwise's downloader against curl.

The server (tests/hubserver.py) runs in its own process; curl and Tokenwise fetch the same
file from it in one run, alternating, several rounds; medians and ratios are printed.
Two Tokenwise figures: the transfer alone (the GET with the sha256 computed and the file
written on the fly, as in every download) and end to end (HEAD and model-info requests,
transfer, GGUF check, move into place).

    .venv/bin/python benchmarks/bench_download.py [--rounds 7] [--file some.gguf]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "desktop"))

from tokenwise.core import download, paths  # noqa: E402
from tokenwise.core.starter import starter_model_path  # noqa: E402

REPO = "bench/model-GGUF"


def _start_server(source: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "desktop")}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "hubserver.py"), "--port", "0",
         "--repo", REPO, "--file", str(source)],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.rsplit(" at ", 1)[1].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--file", type=Path, default=None)
    args = parser.parse_args()
    source = args.file or starter_model_path()
    curl = shutil.which("curl")
    if curl is None:
        sys.exit("curl is needed for the comparison")
    work = Path(tempfile.mkdtemp(prefix="tokenwise-bench-"))
    paths.set_base(work / "home")
    server, endpoint = _start_server(source)
    os.environ["HF_ENDPOINT"] = endpoint
    url = f"{endpoint}/{REPO}/resolve/main/{source.name}"
    size = source.stat().st_size
    times: dict[str, list[float]] = {"curl": [], "transfer": [], "end to end": []}
    try:
        for _ in range(args.rounds):
            target = work / "curl.gguf"
            began = time.perf_counter()
            subprocess.run([curl, "-sS", "-o", str(target), url], check=True)
            times["curl"].append(time.perf_counter() - began)
            assert target.stat().st_size == size
            target.unlink()

            part = work / "transfer.part"
            progress = download._Progress(None, REPO, source.name)
            began = time.perf_counter()
            got, _ = download._transfer(url, part, 0, size, hashlib.sha256(), None, "bench",
                                        progress, threading.Event(), 0.0)
            times["transfer"].append(time.perf_counter() - began)
            assert got == size
            part.unlink()

            began = time.perf_counter()
            final = download.download_file(REPO, source.name)
            times["end to end"].append(time.perf_counter() - began)
            final.unlink()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)

    mb = size / 1e6
    curl_med = statistics.median(times["curl"])
    print(f"{source.name}: {mb:.1f} MB, {args.rounds} rounds, medians (server in its own process)")
    for name, values in times.items():
        med = statistics.median(values)
        ratio = f"  {curl_med / med:.2f} of curl's throughput" if name != "curl" else ""
        print(f"  {name:<11} {med:6.3f} s  {mb / med:7.1f} MB/s{ratio}")


if __name__ == "__main__":
    main()
