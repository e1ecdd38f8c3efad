"""Side-by-side throughput: a bare decode loop, the inspected engine, the logprobs API.

Runs are alternated in one process and medians reported: single runs on a busy laptop vary
by 5-10%, so only ratios measured together mean anything.
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from tokenwise.core.engine import stages as engine_stages
from tokenwise.core.engine.local import Engine
from tokenwise.core.engine.threads import default_threads
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS, SamplerSettings

BENCH_PROMPT = (
    "Write a long, detailed essay about the history of printing, from woodblocks to the "
    "laser printer, with many examples."
)


@dataclass(slots=True)
class ModelBench:
    model: str
    vocab_size: int
    n_tokens: int
    rounds: int
    bare_tok_s: float
    inspected_tok_s: float
    ratio: float
    sampled_tok_s: float
    sampled_ratio: float
    inspect_ms_per_step: float
    inspect_ms_per_step_sampled: float
    logprobs_api_tok_s: float
    speedup_vs_logprobs_api: float
    backend: str
    vocabulary_pass: str  # "C" (the compiled pass) or "numpy"


def _bare(engine: Engine, prompt: list[int], n: int) -> float:
    """Greedy with nothing but argmax: the floor any inspection is measured against."""
    engine._trim(0)
    engine._decode(prompt, 0, None)
    n_vocab = engine.n_vocab
    tok = (llama_cpp.llama_token * 1)()
    t0 = time.perf_counter()
    del n_vocab
    for _ in range(n):
        tok[0] = int(np.argmax(engine._logits()))
        if llama_cpp.llama_decode(engine.ctx, llama_cpp.llama_batch_get_one(tok, 1)) != 0:
            raise RuntimeError("decode failed")
    elapsed = time.perf_counter() - t0
    engine._trim(0)
    return n / elapsed


def _inspected(engine: Engine, prompt: list[int], n: int,
               settings: SamplerSettings) -> tuple[float, float]:
    engine._trim(0)
    request = GenerationRequest(prompt, settings.with_(max_tokens=n + 1, seed=7),
                                top_k_display=32, extra={"ignore_eog": True})
    stream = engine.generate(request)
    first = next(stream)  # the prompt is evaluated before the first step: not timed
    del first
    t0 = time.perf_counter()
    costs = [step.elapsed_ms for step in stream]
    elapsed = time.perf_counter() - t0
    engine._trim(0)
    return len(costs) / elapsed, statistics.median(costs)


def _logprobs_api(path: Path, prompt_text: str, n: int, n_ctx: int, threads: int) -> float:
    llm = llama_cpp.Llama(str(path), n_ctx=n_ctx, logits_all=True, n_threads=threads,
                          verbose=False)
    try:
        llm.create_completion(prompt_text, max_tokens=2, logprobs=10, temperature=0.0)
        t0 = time.perf_counter()
        out: Any = llm.create_completion(prompt_text, max_tokens=n, logprobs=10,
                                         temperature=0.0)
        elapsed = time.perf_counter() - t0
        produced = int(out["usage"]["completion_tokens"])
    finally:
        with contextlib.suppress(Exception):
            llm.close()
    return produced / elapsed


def bench_model(path: str | Path, *, n_tokens: int = 200, rounds: int = 7,
                logprobs_tokens: int = 48, n_ctx: int = 1024) -> ModelBench:
    engine = Engine(path, n_ctx=n_ctx, n_threads=default_threads())  # fixed: like for like
    try:
        rendered = engine.render_chat([ChatMessage("user", BENCH_PROMPT)])
        prompt = rendered.token_ids
        greedy = PRESETS["Greedy"]
        sampled = PRESETS["Balanced"]
        _bare(engine, prompt, 16)  # warm-up
        bare, insp, samp, cost, cost_s = [], [], [], [], []
        for _ in range(rounds):
            gc.collect()
            bare.append(_bare(engine, prompt, n_tokens))
            rate, c = _inspected(engine, prompt, n_tokens, greedy)
            insp.append(rate)
            cost.append(c)
            rate, c = _inspected(engine, prompt, n_tokens, sampled)
            samp.append(rate)
            cost_s.append(c)
        info = engine.info
        threads = engine.n_threads
    finally:
        engine.close()
    api = _logprobs_api(Path(path), rendered.text, logprobs_tokens, n_ctx, threads)
    b, i, s = statistics.median(bare), statistics.median(insp), statistics.median(samp)
    return ModelBench(
        model=info.name, vocab_size=info.vocab_size, n_tokens=n_tokens, rounds=rounds,
        bare_tok_s=round(b, 1), inspected_tok_s=round(i, 1), ratio=round(i / b, 3),
        sampled_tok_s=round(s, 1), sampled_ratio=round(s / b, 3),
        inspect_ms_per_step=round(statistics.median(cost), 3),
        inspect_ms_per_step_sampled=round(statistics.median(cost_s), 3),
        logprobs_api_tok_s=round(api, 1), speedup_vs_logprobs_api=round(i / api, 1),
        backend=info.backend,
        vocabulary_pass=engine_stages.scan_kind(),
    )


def as_dict(result: ModelBench) -> dict[str, object]:
    return asdict(result)
