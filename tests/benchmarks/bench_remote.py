"""The remote engine's stream against a plain SSE client, on real loopback servers.

Run: .venv/bin/python tests/benchmarks/bench_remote.py [--tokens 200] [--rounds 7]
(llama-server must be built: tests/servers/build_llama_server.sh.)

Both read the same server's stream for the same request, alternating, one after the other:
the plain client is the same HTTP client (httpx2) with json.loads per event and nothing else;
the remote engine turns every event into a Step (candidates, pieces, text). Printed: the
median time per token of each and the engine's added share (target: at most 3 %), and the
tokens per second of each server with and without top_logprobs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

import httpx2

from llamaservers import (
    llama_cpp_python_server_missing,
    llama_server_binary,
    start_llama_cpp_python,
    start_llama_server,
)
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.models.starter import starter_model_path
from tokenwise.core.remote import RemoteEngine, bodies, connect
from tokenwise.core.remote.client import STREAM_HEADERS
from tokenwise.core.sampling.settings import PRESETS

PROMPT = [ChatMessage("user", "Write a long story about a lighthouse keeper and a storm.")]


def plain_stream(base_url: str, path: str, body: dict[str, Any]) -> int:
    """The bare reader: events parsed with json.loads, tokens counted, nothing else."""
    n = 0
    with httpx2.Client(base_url=base_url, timeout=120) as client, client.stream(
            "POST", path, json=body, headers=STREAM_HEADERS) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line[6:] != "[DONE]":
                event = json.loads(line[6:])
                choices = event.get("choices")
                if choices:
                    lp = choices[0].get("logprobs")
                    n += len(lp["content"]) if lp else bool(choices[0].get("delta", {})
                                                          .get("content"))
                elif event.get("content") or event.get("completion_probabilities"):
                    n += 1
    return n


def engine_stream(engine: RemoteEngine, ids: list[int], tokens: int, top: int) -> int:
    request = GenerationRequest(ids, PRESETS["Greedy"].with_(max_tokens=tokens),
                                top_k_display=top, extra={"ignore_eog": True})
    return sum(1 for _ in engine.generate(request))


CPU: dict[str, list[float]] = {"engine": [], "plain": []}


def timed(fn: Any, cpu: str = "") -> tuple[float, int]:
    start, cpu_start = time.perf_counter(), time.process_time()
    n = fn()
    if cpu:  # this process's CPU time per token: steadier than wall time on a busy machine
        CPU[cpu].append((time.process_time() - cpu_start) / max(n, 1) * 1000)
    return time.perf_counter() - start, n


def compare(name: str, engine: RemoteEngine, tokens: int, rounds: int, top: int) -> dict:
    ids = engine.render_chat(PROMPT).token_ids
    settings = PRESETS["Greedy"].with_(max_tokens=tokens)
    if engine.use_ids:
        path = "/completion"
        body = bodies.completion_body(engine.probe.kind, engine.model, ids, settings, tokens,
                                      top, ())
        body["ignore_eos"] = True
    else:
        path = "/v1/chat/completions"
        body = bodies.chat_body(engine.probe.kind, engine.model, PROMPT, settings, tokens,
                                top, ())
    bare_body = {k: v for k, v in body.items() if k not in ("n_probs", "logprobs",
                                                            "top_logprobs")}
    engine_ms, plain_ms, bare_tps, probs_tps = [], [], [], []
    for i in range(rounds):
        def run_engine() -> None:
            t, n = timed(lambda: engine_stream(engine, ids, tokens, top), "engine")
            engine_ms.append(t / max(n, 1) * 1000)

        def run_plain() -> None:
            t, n = timed(lambda: plain_stream(engine.probe.base_url, path, body), "plain")
            plain_ms.append(t / max(n, 1) * 1000)
            probs_tps.append(n / t)

        for run in ((run_engine, run_plain) if i % 2 == 0 else (run_plain, run_engine)):
            run()  # alternating which goes first
        t, n = timed(lambda: plain_stream(engine.probe.base_url, path, bare_body))
        bare_tps.append(n / t)
    e, p = statistics.median(engine_ms), statistics.median(plain_ms)
    paired = statistics.median(a / b for a, b in zip(engine_ms, plain_ms, strict=True))
    ce, cp = statistics.median(CPU["engine"]), statistics.median(CPU["plain"])
    CPU["engine"].clear()
    CPU["plain"].clear()
    row = {"server": name, "top_logprobs": top, "tokens": n,
           "engine_ms_per_token": round(e, 3), "plain_ms_per_token": round(p, 3),
           "added": f"{(e / p - 1) * 100:+.1f} %",
           "added_paired_median": f"{(paired - 1) * 100:+.1f} %",
           "client_cpu_ms_per_token": {"engine": round(ce, 3), "plain": round(cp, 3)},
           "engine_cpu_share_of_plain_token_time": f"{(ce - cp) / p * 100:+.1f} %",
           "tok_s_with_top_logprobs": round(statistics.median(probs_tps), 1),
           "tok_s_without": round(statistics.median(bare_tps), 1)}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--skip-llama-cpp-python", action="store_true")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="tw-bench-remote-"))
    model = starter_model_path()
    if llama_server_binary() is not None:
        server = start_llama_server(model, logs)
        try:
            with connect(server.base_url) as engine:
                compare("llama-server", engine, args.tokens, args.rounds, args.top)
        finally:
            server.stop()
    else:
        print("llama-server is not built: run tests/servers/build_llama_server.sh")
    if not args.skip_llama_cpp_python and not llama_cpp_python_server_missing():
        server = start_llama_cpp_python(model, logs)
        try:
            with connect(server.base_url) as engine:
                compare("llama-cpp-python", engine, min(args.tokens, 100), max(3, args.rounds // 2),
                        args.top)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
