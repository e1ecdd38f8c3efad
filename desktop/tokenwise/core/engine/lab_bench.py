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
from tokenwise.core.engine.scoring import EXACT_CHUNK, SCORE_SEQ
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


@dataclass(slots=True)
class ScoreBench:
    model: str
    vocab_size: int
    n_tokens: int
    rounds: int
    chunk: int  # positions per decode (0: the batch size)
    score_s: float
    bare_all_logits_s: float
    ratio_to_bare: float  # target <= 1.15
    generate_s: float  # greedy generation of as many tokens
    speedup_vs_generation: float


SCORE_TEXT = (
    "Printing began with carved wooden blocks, inked and pressed onto paper or cloth. In the "
    "eleventh century Bi Sheng made movable type from baked clay; later printers cast it in "
    "metal. Gutenberg's press combined an oil-based ink, a mould for casting letters quickly "
    "and a screw press adapted from wine making. Within fifty years presses worked in more "
    "than two hundred cities, and books became cheap enough for students and merchants. "
)


def _bare_all_logits(engine: Engine, ids: list[int], chunk: int) -> float:
    """A bare decode of ``ids`` in batches, every row's logits kept, nothing read."""
    memory = engine.memory
    llama_cpp.llama_memory_seq_rm(memory, SCORE_SEQ, -1, -1)
    chunk = min(chunk or engine.n_batch, engine.n_batch)
    batch = SeqBatch(chunk)
    t0 = time.perf_counter()
    try:
        for pos in range(0, len(ids) - 1, chunk):
            part = ids[pos:min(len(ids) - 1, pos + chunk)]
            b = batch.fill(part, range(pos, pos + len(part)), [SCORE_SEQ] * len(part))
            if llama_cpp.llama_decode(engine.ctx, b) != 0:
                raise RuntimeError("decode failed")
        return time.perf_counter() - t0
    finally:
        llama_cpp.llama_memory_seq_rm(memory, SCORE_SEQ, -1, -1)
        batch.free()


def bench_score(path: str | Path, *, n_tokens: int = 256, rounds: int = 3, n_ctx: int = 2048,
                threads: int | None = None) -> list[ScoreBench]:
    """Scoring against a bare all-logits decode of the same tokens in the same chunks, for
    the default chunk (the numbers generation gives) and for the batch size."""
    engine = Engine(path, n_ctx=n_ctx, n_threads=threads or default_threads())
    try:
        ids = engine.token_ids(SCORE_TEXT * 40, add_special=True, parse_special=False)
        ids = ids[:n_tokens + 1]
        start = 1
        _bare_all_logits(engine, ids[:32], 0)  # warm-up
        chunks = (EXACT_CHUNK, 0)
        scored: dict[int, list[float]] = {c: [] for c in chunks}
        bare: dict[int, list[float]] = {c: [] for c in chunks}
        generated = []
        for _ in range(rounds):
            gc.collect()
            for chunk in chunks:
                engine._trim(0)
                t0 = time.perf_counter()
                engine.score(ids, start, chunk=chunk)
                scored[chunk].append(time.perf_counter() - t0)
                engine._trim(0)
                bare[chunk].append(_bare_all_logits(engine, ids, chunk))
            engine._trim(0)
            t0 = time.perf_counter()
            request = GenerationRequest(ids[:1], PRESETS["Greedy"].with_(max_tokens=n_tokens),
                                        extra={"ignore_eog": True})
            for _step in engine.generate(request):
                pass
            generated.append(time.perf_counter() - t0)
        g = statistics.median(generated)
        rows = []
        for chunk in chunks:
            s, b = statistics.median(scored[chunk]), statistics.median(bare[chunk])
            rows.append(ScoreBench(
                model=engine.info.name, vocab_size=engine.n_vocab, n_tokens=len(ids) - start,
                rounds=rounds, chunk=chunk, score_s=round(s, 3), bare_all_logits_s=round(b, 3),
                ratio_to_bare=round(s / b, 3), generate_s=round(g, 3),
                speedup_vs_generation=round(g / s, 2)))
        return rows
    finally:
        engine.close()
