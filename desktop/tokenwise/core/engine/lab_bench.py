"""Side by side: a beam-W step against a bare llama_decode of the same W-sequence batch.

Rounds alternate the beam search, the bare batch and a greedy generation in one process, and
medians are reported: on a busy machine single runs vary by 5-10% or more, so only ratios
measured together mean anything.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import llama_cpp

from tokenwise.core.engine.bench import BENCH_PROMPT
from tokenwise.core.engine.local import Engine
from tokenwise.core.engine.rows import SeqBatch
from tokenwise.core.engine.threads import default_threads
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS
from tokenwise.core.trace.beams import BeamSettings


@dataclass(slots=True)
class BeamBench:
    model: str
    vocab_size: int
    width: int
    steps: int
    rounds: int
    beam_step_ms: float
    bare_step_ms: float
    ratio_to_bare: float  # target <= 1.15
    ratio_to_own_decode: float  # each beam step against its own llama_decode, step by step
    greedy_step_ms: float
    ratio_to_greedy: float
    tokenwise_ms_per_step: float  # beam step minus its own llama_decode


def _bare_steps(engine: Engine, prompt: list[int], width: int, n: int) -> list[float]:
    """Per-step times of a bare decode of ``width`` sequences with ``width`` logit rows."""
    engine._prepare(prompt)
    cached = len(engine._cached)
    engine._decode(prompt[cached:], cached, None)
    memory = engine.memory
    for seq in range(1, width + 1):
        llama_cpp.llama_memory_seq_cp(memory, 0, seq, -1, -1)
    batch = SeqBatch(width)
    times = []
    try:
        for step in range(n):
            tokens = [prompt[(step + i) % len(prompt)] for i in range(width)]
            b = batch.fill(tokens, [len(prompt) + step] * width, list(range(1, width + 1)))
            t0 = time.perf_counter()
            if llama_cpp.llama_decode(engine.ctx, b) != 0:
                raise RuntimeError("decode failed")
            times.append(time.perf_counter() - t0)
    finally:
        for seq in range(1, width + 1):
            llama_cpp.llama_memory_seq_rm(memory, seq, -1, -1)
        batch.free()
    return times


def _beam_steps(engine: Engine, prompt: list[int], width: int,
                n: int) -> tuple[float, float, float]:
    """Median step time of a fixed-length beam search (its last step, which decodes nothing,
    left out), the mean time per step outside llama_decode, and the median ratio of each step
    to its own decode."""
    settings = BeamSettings(width=width, max_tokens=n + 1, length_penalty=0.0,
                            mask_end=True, early_stopping=False)
    result = engine.beam_search(prompt, settings)
    kept = result.steps[:-1]
    steps = [s.elapsed_ms / 1000.0 for s in kept]
    overhead = (sum(steps) - result.decode_seconds) / len(steps)
    return (statistics.median(steps), overhead,
            statistics.median(s.elapsed_ms / s.decode_ms for s in kept))


def _greedy_steps(engine: Engine, prompt: list[int], n: int) -> float:
    request = GenerationRequest(prompt, PRESETS["Greedy"].with_(max_tokens=n + 1),
                                extra={"ignore_eog": True})
    stream = engine.generate(request)
    next(stream)
    t0 = time.perf_counter()
    count = sum(1 for _ in stream)
    return (time.perf_counter() - t0) / max(1, count)


def bench_beam(path: str | Path, *, widths: tuple[int, ...] = (2, 4, 8), steps: int = 24,
               rounds: int = 5, n_ctx: int = 1024,
               threads: int | None = None) -> list[BeamBench]:
    engine = Engine(path, n_ctx=n_ctx, n_threads=threads or default_threads())
    try:
        prompt = engine.render_chat([ChatMessage("user", BENCH_PROMPT)]).token_ids
        _bare_steps(engine, prompt, 2, 4)  # warm-up
        rows = []
        for width in widths:
            beam, bare, greedy, extra, own = [], [], [], [], []
            for _ in range(rounds):
                gc.collect()
                b, o, r = _beam_steps(engine, prompt, width, steps)
                beam.append(b)
                extra.append(o)
                own.append(r)
                bare.append(statistics.median(_bare_steps(engine, prompt, width, steps)))
                greedy.append(_greedy_steps(engine, prompt, steps))
            mb, mr, mg = (statistics.median(v) * 1000 for v in (beam, bare, greedy))
            rows.append(BeamBench(
                model=engine.info.name, vocab_size=engine.n_vocab, width=width, steps=steps,
                rounds=rounds, beam_step_ms=round(mb, 2), bare_step_ms=round(mr, 2),
                ratio_to_bare=round(mb / mr, 3),
                ratio_to_own_decode=round(statistics.median(own), 3), greedy_step_ms=round(mg, 2),
                ratio_to_greedy=round(mb / mg, 2),
                tokenwise_ms_per_step=round(statistics.median(extra) * 1000, 3)))
        return rows
    finally:
        engine.close()


def as_dict(row: object) -> dict[str, object]:
    return asdict(row)  # type: ignore[call-overload, no-any-return]
