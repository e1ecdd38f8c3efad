"""Servers' per-token probabilities, read into Tokenwise's Step records.

Four shapes arrive: the OpenAI chat form (``logprobs.content``: token, logprob, bytes,
top_logprobs; llama-server and Ollama add ids), llama-server's ``/completion`` form
(``completion_probabilities`` with logprob/top_logprobs, or prob/top_probs after sampling),
the legacy completions form (``tokens``, ``token_logprobs``, ``top_logprobs`` as
{text: logprob}; vLLM and llama-cpp-python) and Ollama's native one (the chat form at the
top level). What a server does not send stays unknown: a token id of -1, NaN for the logit,
the normaliser and the entropy, a rank of 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from tokenwise.core.trace.records import Candidate, Step

NAN = float("nan")
_new_candidate = tuple.__new__
UNKNOWN_ID = -1


@dataclass(frozen=True, slots=True)
class Reported:
    """One generated token as the server reported it."""

    token_id: int
    piece: bytes
    prob: float  # NaN: the server sent no probability
    top: tuple[Candidate, ...]  # most probable first


def _token_id(entry: dict[str, Any], text: str) -> int:
    found = entry.get("id", entry.get("token_id"))
    if isinstance(found, int) and not isinstance(found, bool):
        return found
    if text.startswith("token_id:"):  # vLLM with return_tokens_as_token_ids
        try:
            return int(text[9:])
        except ValueError:
            return UNKNOWN_ID
    return UNKNOWN_ID


def _piece(entry: dict[str, Any], text: str) -> bytes:
    raw = entry.get("bytes")
    if isinstance(raw, list) and all(isinstance(b, int) and 0 <= b < 256 for b in raw):
        return bytes(raw)
    if text.startswith("token_id:"):
        return b""
    return text.encode("utf-8", "surrogatepass")


def _prob(entry: dict[str, Any]) -> float:
    if "prob" in entry and isinstance(entry["prob"], int | float):
        return float(entry["prob"])
    value = entry.get("logprob")
    if isinstance(value, int | float):
        return math.exp(value) if value > -1e30 else 0.0
    return NAN


def _candidate(entry: dict[str, Any]) -> Candidate:
    """One top-N entry; the common shapes (an id or not, bytes or not) on a short path."""
    text = entry.get("token", "")
    tid = entry.get("id")
    raw = entry.get("bytes")
    lp = entry.get("logprob")
    if type(tid) is int and type(lp) is float and type(raw) is list:  # llama-server
        try:
            return _new_candidate(Candidate, (tid, bytes(raw), NAN,
                                              math.exp(lp) if lp > -1e30 else 0.0))
        except ValueError:
            pass
    text = str(text)
    return Candidate(_token_id(entry, text), _piece(entry, text), NAN, _prob(entry))


def _sorted(cands: list[Candidate]) -> tuple[Candidate, ...]:
    """Most probable first (servers send them so: checked, sorted only if not)."""
    probs = [c.prob for c in cands]
    if all(a >= b for a, b in pairwise(probs)):
        return tuple(cands)
    return tuple(sorted(cands, key=lambda c: -c.prob if c.prob == c.prob else 0.0))


def from_entry(entry: dict[str, Any]) -> Reported:
    """The OpenAI chat form and llama-server's /completion form (both variants)."""
    text = str(entry.get("token", ""))
    top = entry.get("top_logprobs", entry.get("top_probs")) or []
    cands = _sorted([_candidate(e) for e in top if isinstance(e, dict)])
    return Reported(_token_id(entry, text), _piece(entry, text), _prob(entry), cands)


def from_legacy(logprobs: dict[str, Any]) -> Iterator[Reported]:
    """The legacy completions form: parallel lists, one item per token."""
    tokens = logprobs.get("tokens") or []
    values = logprobs.get("token_logprobs") or []
    tops = logprobs.get("top_logprobs") or []
    for i, text in enumerate(tokens):
        lp = values[i] if i < len(values) else None
        top = tops[i] if i < len(tops) and isinstance(tops[i], dict) else {}
        cands = _sorted([Candidate(_token_id({}, t), _piece({}, t), NAN,
                                   math.exp(v) if isinstance(v, int | float) else NAN)
                         for t, v in top.items()])
        prob = math.exp(lp) if isinstance(lp, int | float) else NAN
        yield Reported(_token_id({}, str(text)), _piece({}, str(text)), prob, cands)


def chunk_tokens(chunk: dict[str, Any]) -> tuple[list[Reported], str, str | None]:
    """The tokens, text and finish reason of one streamed (or whole) response object.

    Handles ``choices[0]`` (chat delta or message, or legacy text), llama-server's
    /completion objects and Ollama's native ones.
    """
    choices = chunk.get("choices")
    if isinstance(choices, list):
        if not choices:
            return [], "", None
        choice = choices[0]
        finish = choice.get("finish_reason")
        delta = choice.get("delta") or choice.get("message") or {}
        text = delta.get("content") if isinstance(delta, dict) else None
        if text is None:
            text = choice.get("text") or ""
        logprobs = choice.get("logprobs")
        reported: list[Reported] = []
        if isinstance(logprobs, dict):
            content = logprobs.get("content")
            if isinstance(content, list):
                reported = [from_entry(e) for e in content if isinstance(e, dict)]
            elif "tokens" in logprobs:
                reported = list(from_legacy(logprobs))
        return reported, str(text or ""), finish
    # llama-server /completion, Ollama /api/chat and /api/generate
    probs = chunk.get("completion_probabilities", chunk.get("probs"))
    if probs is None and isinstance(chunk.get("logprobs"), list):
        probs = chunk["logprobs"]
    reported = [from_entry(e) for e in probs or [] if isinstance(e, dict)]
    message = chunk.get("message")
    text = (message.get("content", "") if isinstance(message, dict)
            else chunk.get("content", chunk.get("response", "")))
    finish = None
    if chunk.get("stop") is True or chunk.get("done") is True:
        finish = str(chunk.get("stop_type") or chunk.get("done_reason") or "stop")
    return reported, str(text or ""), finish


def make_step(index: int, token: Reported, text: str, *, forced: bool = False,
              post_sampling: bool = False) -> Step:
    """A Step from what the server reported; what it did not report stays unknown."""
    rank = 0
    for i, cand in enumerate(token.top):
        same = (cand.token_id == token.token_id if token.token_id >= 0 and cand.token_id >= 0
                else cand.piece == token.piece)
        if same:
            rank = i + 1
            break
    return Step(
        index=index, token_id=token.token_id, piece=token.piece, text=text, prob=token.prob,
        rank=rank, logit=NAN, log_z=NAN, entropy=NAN, candidates=token.top,
        final_prob=token.prob if post_sampling else NAN, forced=forced,
    )
