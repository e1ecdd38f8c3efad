"""Download throughput from the loopback hub server: Tokenwise's downloader against curl
and against huggingface_hub's own ``hf_hub_download``.

The server (tests/hubserver.py) runs in its own process; every client fetches the same
file from it in one run, taking turns, several rounds, and the medians are printed as one
JSON object (MB = 10^6 bytes):

- ``curl_mb_s``: ``curl -o FILE URL``, the process started and finished each round.
- ``tokenwise_mb_s`` and ``ratio``: ``download.download_file``, from its "connecting" to
  its "verifying" progress event: the HEAD and model-info requests, then the GET through
  huggingface_hub's session with the sha256 computed and the file written on the fly (the
  hash is then already known).
- ``end_to_end_mb_s`` / ``end_to_end_ratio``: the same call from start to return, adding
  the GGUF check of the finished file, the move into place and the library record.
- ``hf_hub_download_mb_s`` and ``ratio_vs_hf_hub_download``: huggingface_hub's own
  download of the same file into a fresh cache folder (HEAD, GET through the same
  session, size check, no sha256), start to return, against Tokenwise's end to end.
- ``clients``: a bare read of the body through the session (``iter_raw``), discarded,
  for reference: what the transfer could reach without writing or hashing.

The downloads used to read the body with ``http.client`` beside the session; that column
went with that client (the downloads now go through the session alone).

    .venv/bin/python tests/benchmarks/bench_download.py [--rounds 9] [--file some.gguf]

``ratio`` divides the two medians; ``ratio_per_round_median`` is the median of each round's
curl time over ours, the steadier figure when other work comes and goes. On a busy machine
``nice -n -10`` in front (both sides run under it alike) takes out some of that noise.
BENCH_RAW=1 also prints every round's times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout: tests/benchmarks/ is two down
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when the hub client loads
sys.path.insert(0, str(ROOT / "desktop"))

from tokenwise.core import paths  # noqa: E402
from tokenwise.core.models import download  # noqa: E402
from tokenwise.core.models.starter import starter_model_path  # noqa: E402

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


def _httpx_session(url: str) -> int:
    from huggingface_hub import get_session

    received = 0
    with get_session().stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
        for chunk in response.iter_raw():
            received += len(chunk)
    return received


def _hf_hub_download(endpoint: str, filename: str, cache: Path) -> Path:
    from huggingface_hub import hf_hub_download

    shutil.rmtree(cache, ignore_errors=True)
    return Path(hf_hub_download(REPO, filename, cache_dir=cache, endpoint=endpoint))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
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

    def run_curl() -> None:
        target = work / "curl.gguf"
        subprocess.run([curl, "-sS", "-o", str(target), url], check=True)
        assert target.stat().st_size == size
        target.unlink()

    marks: dict[str, float] = {}

    def mark(progress: download.DownloadProgress) -> None:
        marks.setdefault(progress.phase, time.perf_counter())

    def run_download() -> None:
        marks.clear()
        began = time.perf_counter()
        download.download_file(REPO, source.name, progress=mark).unlink()
        times["end_to_end"].append(time.perf_counter() - began)
        times["download"].append(marks["verifying"] - marks["connecting"])

    cases: dict[str, Callable[[], object]] = {
        "curl": run_curl,
        "tokenwise": run_download,
        "hf_hub_download": lambda: (
            _hf_hub_download(endpoint, source.name, work / "hf-cache").stat().st_size == size
            or sys.exit("short read")
        ),
        "httpx_session_discard": lambda: _httpx_session(url) == size or sys.exit("short read"),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    times.update(download=[], end_to_end=[])
    load_before = os.getloadavg()
    try:
        run_download()  # warm up: imports, connections, the page cache
        times.update(download=[], end_to_end=[])
        for _ in range(args.rounds):
            for name, case in cases.items():
                began = time.perf_counter()
                case()
                if name != "tokenwise":
                    times[name].append(time.perf_counter() - began)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)

    def mb_s(name: str) -> float:
        return round(float(size / 1e6 / statistics.median(times[name])), 1)

    def per_round(name: str) -> float:
        pairs = zip(times["curl"], times[name], strict=True)
        return round(float(statistics.median(c / t for c, t in pairs)), 3)

    result = {
        "file": source.name,
        "size_bytes": size,
        "rounds": args.rounds,
        "curl_mb_s": mb_s("curl"),
        "tokenwise_mb_s": mb_s("download"),
        "ratio": round(mb_s("download") / mb_s("curl"), 3),
        "ratio_per_round_median": per_round("download"),
        "end_to_end_mb_s": mb_s("end_to_end"),
        "end_to_end_ratio": round(mb_s("end_to_end") / mb_s("curl"), 3),
        "hf_hub_download_mb_s": mb_s("hf_hub_download"),
        "ratio_vs_hf_hub_download": round(mb_s("end_to_end") / mb_s("hf_hub_download"), 3),
        "clients": {"httpx_session_discard": mb_s("httpx_session_discard")},
        "load_average": {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in os.getloadavg()]},
        "cpus": os.cpu_count(),
    }
    if os.environ.get("BENCH_RAW"):
        raw = {name: [round(t, 3) for t in values] for name, values in times.items() if values}
        print(json.dumps(raw))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
