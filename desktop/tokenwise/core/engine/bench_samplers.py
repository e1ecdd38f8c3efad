"""The sampler matrix: each sampler setting's rate against the bare decode loop.

For every row, a bare greedy loop and the inspected engine with that row's settings run one
after the other, round after round, in one process; each row's ratio is the median of its
rounds' ratios, so a machine that slows down or speeds up during the run moves both sides.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tokenwise.core.engine import compiled as engine_compiled
from tokenwise.core.engine import stages as engine_stages
from tokenwise.core.engine.bench import BENCH_PROMPT, _bare
from tokenwise.core.engine.local import Engine
from tokenwise.core.engine.threads import default_threads
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS, SamplerSettings

#: (name, settings, the ratio the row must keep)
SAMPLER_ROWS: tuple[tuple[str, SamplerSettings, float], ...] = (
    ("greedy", PRESETS["Greedy"], 0.97),
    ("top-k 40, top-p 0.95, min-p 0.05, T 0.7", PRESETS["Balanced"], 0.97),
    ("temperature 1.0 alone", SamplerSettings(temperature=1.0, top_k=0, top_p=1.0,
                                              min_p=0.0), 0.95),
    ("top-p 0.9 alone", SamplerSettings(temperature=1.0, top_k=0, top_p=0.9, min_p=0.0), 0.95),
    ("penalties (repeat 1.1, presence 0.5, frequency 0.5, last 64), T 0.8",
     SamplerSettings(temperature=0.8, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.1,
                     presence_penalty=0.5, frequency_penalty=0.5, repeat_last_n=64), 0.95),
)


@dataclass(slots=True)
class SamplerRow:
    name: str
    bare_tok_s: float
    tok_s: float
    ratio: float
    target: float
    step_ms: float  # the median step's own time (inspection and draw)
    critical_ms: float  # median time from a decode's return to the next decode's start
    critical_cpu_ms: float  # the same in the generating thread's CPU time
    at_3ms: float  # 1 / (1 + critical / token time): what it would keep at GPU speeds
    at_10ms: float


@dataclass(slots=True)
class SamplerMatrix:
    model: str
    vocab_size: int
    n_tokens: int
    rounds: int
    backend: str
    vocabulary_pass: str
    overlap: bool
    pass_threads: int = 1  # the compiled pass's threads
    rows: list[SamplerRow] = field(default_factory=list)


def _inspected(engine: Engine, prompt: list[int], n: int,
               settings: SamplerSettings) -> tuple[float, float, float, float]:
    """tok/s, the median step's own ms, the median critical path in ms (wall, CPU)."""
    engine._trim(0)
    request = GenerationRequest(prompt, settings.with_(max_tokens=n + 1, seed=7),
                                top_k_display=32, extra={"ignore_eog": True})
    stream = engine.generate(request)
    next(stream)  # the prompt is evaluated before the first step: not timed
    t0 = time.perf_counter()
    costs = [step.elapsed_ms for step in stream]
    elapsed = time.perf_counter() - t0
    engine._trim(0)
    critical = statistics.median(engine.critical_s) * 1000.0
    critical_cpu = statistics.median(engine.critical_cpu_s) * 1000.0
    return len(costs) / elapsed, statistics.median(costs), critical, critical_cpu


def bench_samplers(path: str | Path, *, n_tokens: int = 128, rounds: int = 5,
                   n_ctx: int = 1024, n_gpu_layers: int = -1,
                   overlap: bool | None = None,
                   pass_parallel: bool | None = None) -> SamplerMatrix:
    """``overlap``: None, the engine's default (on with GPU layers or an idle core);
    True/False: forced.
    ``pass_parallel``: False keeps the compiled pass on one thread (see Engine)."""
    engine = Engine(path, n_ctx=n_ctx, n_threads=default_threads(),  # fixed: like for like
                    n_gpu_layers=n_gpu_layers, overlap=overlap)
    engine.pass_parallel = pass_parallel
    try:
        prompt = engine.render_chat([ChatMessage("user", BENCH_PROMPT)]).token_ids
        _bare(engine, prompt, 16)  # warm-up
        bare: list[list[float]] = [[] for _ in SAMPLER_ROWS]
        rate: list[list[float]] = [[] for _ in SAMPLER_ROWS]
        cost: list[list[float]] = [[] for _ in SAMPLER_ROWS]
        crit: list[list[float]] = [[] for _ in SAMPLER_ROWS]
        crit_cpu: list[list[float]] = [[] for _ in SAMPLER_ROWS]
        for _ in range(rounds):
            for i, (_name, settings, _target) in enumerate(SAMPLER_ROWS):
                gc.collect()
                bare[i].append(_bare(engine, prompt, n_tokens))
                r, c, k, kc = _inspected(engine, prompt, n_tokens, settings)
                crit_cpu[i].append(kc)
                rate[i].append(r)
                cost[i].append(c)
                crit[i].append(k)
        info = engine.info
        overlapped = engine.overlap
        two_threads = engine_compiled.parallel_in_use()  # as the last generation left it
    finally:
        engine.close()
    result = SamplerMatrix(model=info.name, vocab_size=info.vocab_size, n_tokens=n_tokens,
                           rounds=rounds, backend=info.backend,
                           vocabulary_pass=engine_stages.scan_kind(), overlap=overlapped,
                           pass_threads=2 if two_threads else 1)
    for i, (name, _settings, target) in enumerate(SAMPLER_ROWS):
        ratios = [r / b for r, b in zip(rate[i], bare[i], strict=True)]
        critical = statistics.median(crit[i])
        result.rows.append(SamplerRow(
            name=name, bare_tok_s=round(statistics.median(bare[i]), 1),
            tok_s=round(statistics.median(rate[i]), 1), ratio=round(statistics.median(ratios), 3),
            target=target, step_ms=round(statistics.median(cost[i]), 3),
            critical_ms=round(critical, 3),
            critical_cpu_ms=round(statistics.median(crit_cpu[i]), 3),
            at_3ms=round(1.0 / (1.0 + critical / 3.0), 3),
            at_10ms=round(1.0 / (1.0 + critical / 10.0), 3)))
    return result


def as_dict(result: SamplerMatrix) -> dict[str, object]:
    return asdict(result)


def format_matrix(result: SamplerMatrix) -> str:
    lines = [f"{result.model} (vocab {result.vocab_size:,}, {result.backend}, "
             f"{result.vocabulary_pass} vocabulary pass on {result.pass_threads} "
             f"thread{'s' if result.pass_threads > 1 else ''}, overlap "
             f"{'on' if result.overlap else 'off'}; {result.n_tokens} tokens, "
             f"medians of {result.rounds} alternated rounds)"]
    width = max(len(row.name) for row in result.rows)
    for row in result.rows:
        mark = "ok" if row.ratio >= row.target else "BELOW"
        lines.append(f"  {row.name:<{width}}  {row.tok_s:6.1f} tok/s  bare {row.bare_tok_s:6.1f}"
                     f"  ratio {row.ratio:.3f} (target {row.target:.2f}: {mark})"
                     f"  step {row.step_ms:.3f} ms, critical path {row.critical_ms:.3f} ms"
                     f" ({row.critical_cpu_ms:.3f} ms CPU)"
                     f" (keeps {row.at_3ms:.3f} at 3 ms/token, {row.at_10ms:.3f} at 10 ms)")
    return "\n".join(lines)
