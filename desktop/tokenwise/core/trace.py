"""Step, Candidate and Stage records of one generated reply, and their JSON form.

A Step is what the engine yields per generated token. It is kept compact: the raw top-K
candidates plus, per sampler stage, the survivor count and the probabilities of the
stage's first candidates (ids where the stage reordered them). JSON export and import
round-trip exactly; :func:`pack` / :func:`unpack` give a small binary form for storage.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

STOP_EOG = "eog"  # the model emitted an end-of-generation token
STOP_MAX_TOKENS = "max_tokens"
STOP_STRING = "stop_string"
STOP_CANCELLED = "cancelled"
STOP_CONTEXT_FULL = "context_full"
STOP_REASONS = (STOP_EOG, STOP_MAX_TOKENS, STOP_STRING, STOP_CANCELLED, STOP_CONTEXT_FULL)

STOP_REASON_TEXT = {
    STOP_EOG: "the model wrote its end-of-turn token",
    STOP_MAX_TOKENS: "the maximum number of tokens was reached",
    STOP_STRING: "a stop string appeared",
    STOP_CANCELLED: "stopped by the user",
    STOP_CONTEXT_FULL: "the context window is full",
}


class Candidate(NamedTuple):
    """One candidate next token: its id, raw bytes, logit and probability."""

    token_id: int
    piece: bytes
    logit: float
    prob: float

    @property
    def label(self) -> str:
        return piece_label(self.piece)


class Stage(NamedTuple):
    """The distribution after one sampler stage.

    ``ids`` and ``probs`` are the stage's first candidates, most probable first; probs are
    renormalised over the stage's survivors. ``survivors`` counts every token still in play.
    """

    name: str
    label: str
    survivors: int
    ids: tuple[int, ...]
    probs: tuple[float, ...]

    def prob_of(self, token_id: int) -> float:
        try:
            return self.probs[self.ids.index(token_id)]
        except ValueError:
            return 0.0


@dataclass(slots=True)
class Step:
    """One generated token and everything that led to it."""

    index: int
    token_id: int
    piece: bytes
    text: str
    prob: float  # raw probability of the chosen token (softmax over the whole vocabulary)
    rank: int  # 1-based rank of the chosen token in the raw distribution
    logit: float
    log_z: float  # log of the softmax normaliser over the whole vocabulary
    entropy: float  # of the raw distribution, in nats
    candidates: tuple[Candidate, ...]  # raw top-K, most probable first
    stages: tuple[Stage, ...] = ()
    final_prob: float = 1.0  # probability of the chosen token in the distribution it was drawn from
    forced: bool = False  # chosen by the user (branch), not drawn
    stop_reason: str | None = None
    elapsed_ms: float = 0.0  # time of this step (decode + inspection + draw)

    @property
    def label(self) -> str:
        return piece_label(self.piece)

    @property
    def other_mass(self) -> float:
        """Probability of every token outside the stored top-K candidates."""
        return max(0.0, 1.0 - sum(c.prob for c in self.candidates))

    def stage(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.name == name:
                return stage
        return None


@dataclass(slots=True)
class Trace:
    """A whole reply: its steps plus what produced them."""

    steps: list[Step] = field(default_factory=list)
    model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    prompt_tokens: int = 0
    stop_reason: str | None = None
    text: str = ""
    tokens_per_second: float = 0.0
    first_token_s: float = 0.0


def piece_label(piece: bytes) -> str:
    """A readable form of a token's bytes: the text, or <0xE5> for a partial UTF-8 byte."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(_byte_label(piece))
    return text.replace("\n", "↵").replace("\t", "⇥")


def _byte_label(piece: bytes) -> Iterable[str]:
    i = 0
    while i < len(piece):
        # keep any whole characters that sit inside a piece with a broken tail
        for j in range(min(len(piece), i + 4), i, -1):
            try:
                yield piece[i:j].decode("utf-8")
                i = j
                break
            except UnicodeDecodeError:
                continue
        else:
            yield f"<0x{piece[i]:02X}>"
            i += 1


# ---------------------------------------------------------------- JSON form

def step_to_dict(step: Step) -> dict[str, Any]:
    """The JSON object of one step (the `tokenwise trace --json` line)."""
    return {
        "step": step.index,
        "token_id": step.token_id,
        "piece": step.label,
        "piece_bytes": step.piece.hex(),
        "text": step.text,
        "prob": step.prob,
        "rank": step.rank,
        "logit": step.logit,
        "log_z": step.log_z,
        "entropy": step.entropy,
        "final_prob": step.final_prob,
        "forced": step.forced,
        "stop_reason": step.stop_reason,
        "elapsed_ms": step.elapsed_ms,
        "candidates": [
            {
                "token_id": c.token_id,
                "piece": c.label,
                "piece_bytes": c.piece.hex(),
                "logit": c.logit,
                "prob": c.prob,
            }
            for c in step.candidates
        ],
        "stages": [
            {
                "name": s.name,
                "label": s.label,
                "survivors": s.survivors,
                "candidates": [
                    {"token_id": i, "prob": p} for i, p in zip(s.ids, s.probs, strict=True)
                ],
            }
            for s in step.stages
        ],
    }


def step_from_dict(data: dict[str, Any]) -> Step:
    return Step(
        index=int(data["step"]),
        token_id=int(data["token_id"]),
        piece=bytes.fromhex(data["piece_bytes"]),
        text=data["text"],
        prob=float(data["prob"]),
        rank=int(data["rank"]),
        logit=float(data["logit"]),
        log_z=float(data["log_z"]),
        entropy=float(data["entropy"]),
        final_prob=float(data.get("final_prob", 1.0)),
        forced=bool(data.get("forced", False)),
        stop_reason=data.get("stop_reason"),
        elapsed_ms=float(data.get("elapsed_ms", 0.0)),
        candidates=tuple(
            Candidate(
                int(c["token_id"]), bytes.fromhex(c["piece_bytes"]),
                float(c["logit"]), float(c["prob"]),
            )
            for c in data["candidates"]
        ),
        stages=tuple(
            Stage(
                name=s["name"],
                label=s.get("label", s["name"]),
                survivors=int(s["survivors"]),
                ids=tuple(int(c["token_id"]) for c in s["candidates"]),
                probs=tuple(float(c["prob"]) for c in s["candidates"]),
            )
            for s in data["stages"]
        ),
    )


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    return {
        "format": "tokenwise-trace",
        "version": 1,
        "model": trace.model,
        "settings": trace.settings,
        "prompt_tokens": trace.prompt_tokens,
        "stop_reason": trace.stop_reason,
        "text": trace.text,
        "tokens_per_second": trace.tokens_per_second,
        "first_token_s": trace.first_token_s,
        "steps": [step_to_dict(s) for s in trace.steps],
    }


def trace_from_dict(data: dict[str, Any]) -> Trace:
    if data.get("format") != "tokenwise-trace":
        raise ValueError("not a Tokenwise trace (missing format: tokenwise-trace)")
    if int(data.get("version", 0)) > 1:
        raise ValueError(f"trace version {data['version']} is newer than this Tokenwise reads")
    return Trace(
        steps=[step_from_dict(s) for s in data["steps"]],
        model=data.get("model", ""),
        settings=dict(data.get("settings", {})),
        prompt_tokens=int(data.get("prompt_tokens", 0)),
        stop_reason=data.get("stop_reason"),
        text=data.get("text", ""),
        tokens_per_second=float(data.get("tokens_per_second", 0.0)),
        first_token_s=float(data.get("first_token_s", 0.0)),
    )


def trace_to_json(trace: Trace) -> str:
    return json.dumps(trace_to_dict(trace), ensure_ascii=False)


def trace_from_json(text: str) -> Trace:
    return trace_from_dict(json.loads(text))


# ---------------------------------------------------------------- compact binary form

_MAGIC = b"TWT1"


def pack_steps(steps: Sequence[Step]) -> bytes:
    """A compact, lossless binary form of steps for the database (float32 precision)."""
    out = bytearray(_MAGIC)
    out += struct.pack("<I", len(steps))
    for s in steps:
        flags = (1 if s.forced else 0) | (2 if s.stop_reason else 0)
        out += struct.pack(
            "<IiBffffffBH", s.index, s.token_id, flags, s.prob, s.logit, s.log_z, s.entropy,
            s.final_prob, s.elapsed_ms, len(s.candidates), s.rank,
        )
        out += _pack_bytes(s.piece)
        out += _pack_bytes(s.text.encode("utf-8"))
        if s.stop_reason:
            out += _pack_bytes(s.stop_reason.encode("ascii"))
        for c in s.candidates:
            out += struct.pack("<iff", c.token_id, c.logit, c.prob)
            out += _pack_bytes(c.piece)
        out += struct.pack("<B", len(s.stages))
        for st in s.stages:
            out += _pack_bytes(st.name.encode("utf-8"))
            out += _pack_bytes(st.label.encode("utf-8"))
            out += struct.pack("<IB", st.survivors, len(st.ids))
            out += struct.pack(f"<{len(st.ids)}i", *st.ids)
            out += struct.pack(f"<{len(st.probs)}f", *st.probs)
    return zlib.compress(bytes(out), 6)


def unpack_steps(blob: bytes) -> list[Step]:
    data = zlib.decompress(blob)
    if data[:4] != _MAGIC:
        raise ValueError("not a packed Tokenwise trace")
    pos = 4
    (n,) = struct.unpack_from("<I", data, pos)
    pos += 4
    steps: list[Step] = []
    head = struct.Struct("<IiBffffffBH")
    for _ in range(n):
        (index, token_id, flags, prob, logit, log_z, entropy, final_prob, elapsed, n_cand,
         rank) = head.unpack_from(data, pos)
        pos += head.size
        piece, pos = _unpack_bytes(data, pos)
        text_b, pos = _unpack_bytes(data, pos)
        stop = None
        if flags & 2:
            stop_b, pos = _unpack_bytes(data, pos)
            stop = stop_b.decode("ascii")
        cands = []
        for _ in range(n_cand):
            cid, clogit, cprob = struct.unpack_from("<iff", data, pos)
            pos += 12
            cpiece, pos = _unpack_bytes(data, pos)
            cands.append(Candidate(cid, cpiece, clogit, cprob))
        (n_stages,) = struct.unpack_from("<B", data, pos)
        pos += 1
        stages = []
        for _ in range(n_stages):
            name, pos = _unpack_bytes(data, pos)
            label, pos = _unpack_bytes(data, pos)
            survivors, k = struct.unpack_from("<IB", data, pos)
            pos += 5
            ids = struct.unpack_from(f"<{k}i", data, pos)
            pos += 4 * k
            probs = struct.unpack_from(f"<{k}f", data, pos)
            pos += 4 * k
            stages.append(Stage(name.decode(), label.decode(), survivors, ids, probs))
        steps.append(Step(
            index=index, token_id=token_id, piece=piece, text=text_b.decode("utf-8"),
            prob=prob, rank=rank, logit=logit, log_z=log_z, entropy=entropy,
            candidates=tuple(cands), stages=tuple(stages), final_prob=final_prob,
            forced=bool(flags & 1), stop_reason=stop, elapsed_ms=elapsed,
        ))
    return steps


def _pack_bytes(b: bytes) -> bytes:
    return struct.pack("<H", len(b)) + b


def _unpack_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = struct.unpack_from("<H", data, pos)
    pos += 2
    return data[pos:pos + n], pos + n

