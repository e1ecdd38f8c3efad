"""Beam search as parallel sequences of the engine's own context.

The prompt stays in sequence 0 (the chat's cache, untouched: the next chat turn reuses it).
Each live beam owns one of the sequences 1..W: a beam that continues in several ways gives its
sequence to its first child and a copy (``llama_memory_seq_cp``: with a unified cache only the
cells' sequence sets change) to the others; a pruned beam's sequence is emptied
(``llama_memory_seq_rm``). Each step decodes one token for every live beam in a single batch,
so no prefix is ever evaluated twice. When the search ends every beam sequence is emptied.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import llama_cpp

from tokenwise.core.engine.rows import ContextOwner, RowScanner, SeqBatch, logits_address
from tokenwise.core.errors import ContextOverflowError, TokenwiseError
from tokenwise.core.i18n import _
from tokenwise.core.trace.beams import (
    BEAM_STOP_ALL_ENDED,
    BEAM_STOP_CANCELLED,
    BEAM_STOP_EARLY,
    BEAM_STOP_MAX_TOKENS,
    ENDED,
    KEPT,
    MAX_BEAM_WIDTH,
    PRUNED,
    BeamExtension,
    BeamHypothesis,
    BeamResult,
    BeamRow,
    BeamSettings,
    BeamStep,
    beam_score,
)
from tokenwise.core.trace.records import Candidate

PROMPT_SEQ = 0
#: pruned beams' cells are parked here until the search ends: emptied cells would be refilled
#: by later tokens out of position order, and llama.cpp's attention sums cells in their order
#: (a beam's log-probabilities would then differ from a straight pass by up to 0.1 nats)
PARKED_SEQ = MAX_BEAM_WIDTH + 1


@dataclass(slots=True)
class _Beam:
    beam: int
    seq: int
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    cumulative: float = 0.0


def check_beam_request(engine: ContextOwner, prompt: Sequence[int], settings: BeamSettings) -> None:
    """Refuse, with the numbers, a search that cannot run."""
    try:
        settings.validate()
    except ValueError as exc:
        raise TokenwiseError(_("Beam search: {problem}.").format(problem=exc)) from exc
    if not prompt:
        raise TokenwiseError(_("Beam search: the prompt is empty."))
    need = len(prompt) + settings.width * settings.max_tokens
    if need > engine.n_ctx:
        raise ContextOverflowError(_(
            "A beam search of width {width} for {new} new tokens after a {prompt}-token prompt "
            "needs {need} context cells ({prompt} + {width} x {new}); the context holds "
            "{n_ctx}. Lower the width or the number of new tokens, or choose a longer context "
            "length in Settings.").format(
                width=settings.width, new=f"{settings.max_tokens:,}", prompt=f"{len(prompt):,}",
                need=f"{need:,}", n_ctx=f"{engine.n_ctx:,}"))


def beam_search(
    engine: ContextOwner,
    prompt: Sequence[int],
    settings: BeamSettings,
    cancel: threading.Event | None = None,
    on_step: Callable[[BeamStep], None] | None = None,
) -> BeamResult:
    """Run a beam search after ``prompt``; the best hypothesis comes first in the result."""
    check_beam_request(engine, prompt, settings)
    if engine.beam_sequences < PARKED_SEQ + 1:
        raise TokenwiseError("This context was made without room for parallel sequences.")
    search = _Search(engine, list(prompt), settings, cancel, on_step)
    try:
        return search.run()
    finally:
        search.close()


class _Search:
    def __init__(self, engine: ContextOwner, prompt: list[int], settings: BeamSettings,
                 cancel: threading.Event | None,
                 on_step: Callable[[BeamStep], None] | None) -> None:
        self.engine = engine
        self.prompt = prompt
        self.s = settings
        self.cancel = cancel
        self.on_step = on_step
        self.memory = engine.memory
        self.scanner = RowScanner(engine.n_vocab)
        self.batch = SeqBatch(MAX_BEAM_WIDTH)
        self.result = BeamResult(settings=settings, prompt_tokens=len(prompt))
        self.finished: list[BeamHypothesis] = []
        self.next_id = 1

    def close(self) -> None:
        for seq in (*range(1, self.s.width + 1), PARKED_SEQ):
            llama_cpp.llama_memory_seq_rm(self.memory, seq, -1, -1)
        self.batch.free()

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def run(self) -> BeamResult:
        t0 = time.perf_counter()
        engine, s = self.engine, self.s
        engine._prepare(self.prompt)
        cached = len(engine._cached)
        if not engine._decode(self.prompt[cached:], cached, self.cancel):
            self.result.stop_reason = BEAM_STOP_CANCELLED
            return self._finish(t0, [])
        # the prompt's last row: the only live "beam" is the prompt itself, in sequence 0
        live = [_Beam(0, PROMPT_SEQ)]
        rows = [logits_address(engine.ctx, -1)]
        stop = BEAM_STOP_MAX_TOKENS
        for index in range(s.max_tokens):
            t_step = time.perf_counter()
            step, chosen = self._select(index, live, rows)
            last = index + 1 >= s.max_tokens
            decoded = self.result.decode_seconds
            if last:
                for beam in chosen:  # cut at the limit: hypotheses without their end token
                    self._finish_hypothesis(beam, ended=False)
                chosen = []
            else:
                self._move_sequences(live, chosen)
                rows = self._decode(chosen) if chosen else []
            self.result.steps.append(BeamStep(
                step.index, step.rows, step.extensions, (time.perf_counter() - t_step) * 1000.0,
                (self.result.decode_seconds - decoded) * 1000.0))
            if self.on_step is not None:
                self.on_step(self.result.steps[-1])
            live = chosen
            if last:
                break
            if not live:
                stop = BEAM_STOP_ALL_ENDED
                break
            if s.early_stopping and self._settled(live):
                stop = BEAM_STOP_EARLY
                break
            if self._cancelled():
                stop = BEAM_STOP_CANCELLED
                break
        self.result.stop_reason = stop
        return self._finish(t0, live if stop == BEAM_STOP_CANCELLED else [])

    # ------------------------------------------------------------------ one step

    def _select(self, index: int, live: list[_Beam],
                rows: list[int]) -> tuple[BeamStep, list[_Beam]]:
        """Every live beam's best extensions; keep the W best by cumulative log-probability."""
        s, vocab = self.s, self.engine.vocabulary
        width = s.width
        pieces = vocab.pieces
        beam_rows: list[BeamRow] = []
        pool: list[tuple[float, int, int, float]] = []  # (-cumulative, beam index, token, lp)
        for b, (beam, address) in enumerate(zip(live, rows, strict=True)):
            need = max(s.top_k_display, 2 * width)
            while True:
                stats = self.scanner.scan(address, need)
                usable = [(t, x) for t, x in zip(stats.ids, stats.logits, strict=True)
                          if not (s.mask_end and vocab.is_eog(t))]
                # each beam gives at most W kept extensions: W that are not end tokens suffice
                if (sum(1 for t, _ in usable if not vocab.is_eog(t)) >= width
                        or need >= self.engine.n_vocab):
                    break
                need = min(need * 2, self.engine.n_vocab)
            log_z = stats.log_z
            k = max(s.top_k_display, 2 * width)  # the kept tokens' ranks are among them
            beam_rows.append(BeamRow(beam.beam, beam.cumulative, log_z, stats.entropy, tuple(
                Candidate(t, pieces[t], x, math.exp(x - log_z))
                for t, x in zip(stats.ids[:k], stats.logits[:k], strict=True))))
            taken = 0
            for t, x in usable:
                lp = x - log_z
                pool.append((-(beam.cumulative + lp), b, t, lp))
                if not vocab.is_eog(t):
                    taken += 1
                    if taken >= width:
                        break
        pool.sort()
        extensions: list[BeamExtension] = []
        chosen: list[_Beam] = []
        for rank, (neg_cum, b, t, lp) in enumerate(pool):
            parent = live[b]
            status, new_id = PRUNED, -1
            if vocab.is_eog(t):
                if rank < width:  # an end token among the W best: a finished hypothesis
                    status, new_id = ENDED, self._new_id()
                    ended = _Beam(new_id, -1, [*parent.tokens, t], [*parent.logprobs, lp],
                                  -neg_cum)
                    self._finish_hypothesis(ended, ended=True)
            elif len(chosen) < width:
                status, new_id = KEPT, self._new_id()
                chosen.append(_Beam(new_id, parent.seq, [*parent.tokens, t],
                                    [*parent.logprobs, lp], -neg_cum))
            extensions.append(BeamExtension(parent.beam, t, pieces[t], lp, -neg_cum, status,
                                            new_id))
        return BeamStep(index, tuple(beam_rows), tuple(extensions)), chosen

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _move_sequences(self, live: list[_Beam], chosen: list[_Beam]) -> None:
        """Give each kept beam a sequence holding its parent's cache (``seq`` holds the
        parent's on entry)."""
        memory = self.memory
        users = {beam.seq for beam in chosen}
        free = [seq for seq in range(1, self.s.width + 1)
                if seq not in {b.seq for b in live}]
        for beam in live:
            if beam.seq != PROMPT_SEQ and beam.seq not in users:
                llama_cpp.llama_memory_seq_cp(memory, beam.seq, PARKED_SEQ, -1, -1)
                llama_cpp.llama_memory_seq_rm(memory, beam.seq, -1, -1)
                free.append(beam.seq)
        taken: set[int] = set()
        for beam in chosen:
            parent_seq = beam.seq
            if parent_seq != PROMPT_SEQ and parent_seq not in taken:
                taken.add(parent_seq)  # the first child continues in its parent's sequence
                continue
            seq = free.pop()
            llama_cpp.llama_memory_seq_rm(memory, seq, -1, -1)
            llama_cpp.llama_memory_seq_cp(memory, parent_seq, seq, -1, -1)
            beam.seq = seq

    def _decode(self, chosen: list[_Beam]) -> list[int]:
        """One batch: each kept beam's new token at its position in its sequence."""
        base = len(self.prompt) - 1
        batch = self.batch.fill([b.tokens[-1] for b in chosen],
                                [base + len(b.tokens) for b in chosen],
                                [b.seq for b in chosen])
        t0 = time.perf_counter()
        rc = llama_cpp.llama_decode(self.engine.ctx, batch)
        self.result.decode_seconds += time.perf_counter() - t0
        if rc == 1:
            raise ContextOverflowError("The context is full: no room for the beams' tokens.")
        if rc != 0:
            raise TokenwiseError(f"llama.cpp failed to evaluate the beams (code {rc}).")
        return [logits_address(self.engine.ctx, i) for i in range(len(chosen))]

    # ------------------------------------------------------------------ hypotheses

    def _finish_hypothesis(self, beam: _Beam, *, ended: bool) -> None:
        self.finished.append(BeamHypothesis(
            beam.beam, tuple(beam.tokens), tuple(beam.logprobs), beam.cumulative,
            beam_score(beam.cumulative, len(beam.tokens), self.s.length_penalty), ended))

    def _settled(self, live: list[_Beam]) -> bool:
        """W hypotheses ended and no live beam can still beat the worst of the best W."""
        s = self.s
        ended = sorted((h.score for h in self.finished if h.ended), reverse=True)
        if len(ended) < s.width:
            return False
        worst = ended[s.width - 1]
        alpha = s.length_penalty
        for beam in live:
            # log-probabilities only fall; the divisor is largest at the longest length
            # (alpha > 0) or smallest at the next one (alpha <= 0)
            length = s.max_tokens if alpha > 0 else len(beam.tokens) + 1
            if beam_score(beam.cumulative, length, alpha) > worst:
                return False
        return True

    def _finish(self, t0: float, live: list[_Beam]) -> BeamResult:
        for beam in live:
            self._finish_hypothesis(beam, ended=False)
        detok = self.engine.detokenize
        best = sorted(self.finished, key=lambda h: (-h.score, h.beam))[: self.s.width]
        self.result.hypotheses = [
            BeamHypothesis(h.beam, h.token_ids, h.logprobs, h.total_logprob, h.score, h.ended,
                           detok(h.token_ids)) for h in best]
        self.result.seconds = time.perf_counter() - t0
        return self.result
