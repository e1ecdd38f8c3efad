"""Scoring a text in one pass (teacher forcing), as a model is trained.

The whole text is decoded in batches of the context's batch size with every row's logits
kept, so each row gives P(next token | everything before it) for a token the model did not
choose. The pass runs in a sequence of its own: the chat's cached prompt (sequence 0) is
copied in where it is a prefix of the text (a reply scored after its own prompt evaluates
only the reply) and is never changed; the sequence is emptied afterwards.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence

import llama_cpp

from tokenwise.core.engine.rows import ContextOwner, RowScanner, SeqBatch, logits_address
from tokenwise.core.errors import ContextOverflowError, TokenwiseError
from tokenwise.core.i18n import _
from tokenwise.core.trace.records import Candidate
from tokenwise.core.trace.scores import ScoredToken, ScoreResult

SCORE_SEQ = 1  # a beam sequence: free whenever no beam search runs
#: positions per decode by default. llama.cpp's CPU kernels take another path from 64 tokens a
#: batch on: measured on the starter, chunks of up to 63 give exactly the probabilities the
#: one-token generation gave, chunks of 64 or 512 differ by up to 0.045 (and 0.08 in Chinese).
#: ``chunk=0`` asks for the batch size: faster, rounded the other way.
EXACT_CHUNK = 32
LOGITS_BUDGET = 512 * 1024 * 1024  # bytes of logits one batch may keep

#: tokens scored so far, tokens to score
ScoreProgress = Callable[[int, int], None]


def score_tokens(
    engine: ContextOwner,
    ids: Sequence[int],
    start: int,
    *,
    top_k: int = 8,
    chunk: int = EXACT_CHUNK,
    cancel: threading.Event | None = None,
    progress: ScoreProgress | None = None,
) -> ScoreResult:
    """Score ``ids[start:]``, each token given every token before it."""
    ids = list(ids)
    unscored_first = start < 1
    start = max(1, start)
    n = len(ids)
    if n - start < 1:
        raise TokenwiseError(_("Nothing to score: the text is empty."))
    if n - 1 > engine.n_ctx:
        raise ContextOverflowError(_(
            "This text needs {need} context cells to be scored (it has {n} tokens); the "
            "context holds {n_ctx}. Score a shorter text, or choose a longer context length in "
            "Settings.").format(need=f"{n - 1:,}", n=f"{n:,}", n_ctx=f"{engine.n_ctx:,}"))
    engine.wait_checked()  # a new file's check in the child comes before its first decode
    t0 = time.perf_counter()
    result = ScoreResult(context_tokens=start, unscored_first=unscored_first)
    memory = engine.memory
    shared = 0
    for a, b in zip(engine._cached, ids[:start - 1], strict=False):
        if a != b:
            break
        shared += 1
    if len(engine._cached) + (n - 1 - shared) > engine.n_ctx:
        engine._trim(0)  # no room beside the chat's cache: it is evaluated again next turn
        shared = 0
    chunk = max(1, min(chunk or engine.n_batch, engine.n_batch,
                       LOGITS_BUDGET // (4 * engine.n_vocab)))
    scanner = RowScanner(engine.n_vocab)
    batch = SeqBatch(chunk)
    pieces = engine.vocabulary.pieces
    llama_cpp.llama_memory_seq_rm(memory, SCORE_SEQ, -1, -1)
    if shared:
        llama_cpp.llama_memory_seq_cp(memory, 0, SCORE_SEQ, 0, shared)
    try:
        engine._set_abort(cancel if not engine.offloaded else None)
        pos = shared
        while pos < n - 1:
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            part = ids[pos:min(n - 1, pos + chunk)]
            m = len(part)
            filled = batch.fill(part, range(pos, pos + m), [SCORE_SEQ] * m)
            for i in range(m):
                filled.logits[i] = 1 if pos + i >= start - 1 else 0
            t_dec = time.perf_counter()
            rc = llama_cpp.llama_decode(engine.ctx, filled)
            result.decode_seconds += time.perf_counter() - t_dec
            if rc == 2 or (rc != 0 and cancel is not None and cancel.is_set()):
                result.cancelled = True
                break
            if rc != 0:
                raise TokenwiseError(f"llama.cpp failed to evaluate the text (code {rc}).")
            for i in range(max(0, start - 1 - pos), m):
                target = ids[pos + i + 1]
                address = logits_address(engine.ctx, i)
                stats = scanner.scan(address, top_k)
                rank, logit = scanner.rank_of(address, target, stats)
                log_z = stats.log_z
                result.tokens.append(ScoredToken(
                    pos + i + 1 - start, target, pieces[target], logit - log_z, rank,
                    stats.entropy, tuple(
                        Candidate(t, pieces[t], x, math.exp(x - log_z))
                        for t, x in zip(stats.ids, stats.logits, strict=True))))
            pos += m
            if progress is not None:
                progress(len(result.tokens), n - start)
    finally:
        engine._set_abort(None)
        llama_cpp.llama_memory_seq_rm(memory, SCORE_SEQ, -1, -1)
        batch.free()
    result.seconds = time.perf_counter() - t0
    return result


def text_ids(engine: ContextOwner, text: str) -> tuple[list[int], int]:
    """A pasted text's tokens after the beginning-of-text token where the model adds one;
    and where the scored tokens start."""
    ids = engine.token_ids(text, add_special=True, parse_special=False)
    bos = engine.bos_id
    if ids and bos >= 0 and ids[0] == bos:
        return ids, 1
    return ids, 0
