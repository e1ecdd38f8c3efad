"""Repetition loops: the failure greedy decoding and beam search share.

A loop is an n-gram of at least MIN_LOOP_TOKENS tokens repeated back to back (the same tokens
again right after themselves), e.g. ", la femme au roi, la femme au roi".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIN_LOOP_TOKENS = 3
MAX_LOOP_TOKENS = 64  # longer periods are not looked for

LOOP_RULE = (f"A loop is a run of {MIN_LOOP_TOKENS} or more tokens repeated back to back "
             "(the same tokens again right after themselves).")


@dataclass(frozen=True, slots=True)
class Loop:
    start: int  # first token of the first copy
    end: int  # one past the last token of the last whole copy
    period: int  # tokens in one copy
    repeats: int  # copies, 2 or more


def find_loops(tokens: Sequence[int], min_period: int = MIN_LOOP_TOKENS,
               max_period: int = MAX_LOOP_TOKENS) -> list[Loop]:
    """Every maximal back-to-back repetition, left to right, not overlapping; at each place
    the shortest period that repeats wins."""
    seq = list(tokens)
    n = len(seq)
    loops: list[Loop] = []
    i = 0
    while i < n:
        found: Loop | None = None
        for period in range(min_period, min(max_period, (n - i) // 2) + 1):
            gram = seq[i:i + period]
            if seq[i + period:i + 2 * period] != gram:
                continue
            repeats = 2
            while seq[i + repeats * period:i + (repeats + 1) * period] == gram:
                repeats += 1
            found = Loop(i, i + repeats * period, period, repeats)
            break
        if found is None:
            i += 1
            continue
        loops.append(found)
        i = found.end
    return loops


def loop_mask(n_tokens: int, loops: Sequence[Loop]) -> list[bool]:
    """Per token: inside a repeated copy (the second copy onward)."""
    mask = [False] * n_tokens
    for lp in loops:
        for j in range(lp.start + lp.period, min(lp.end, n_tokens)):
            mask[j] = True
    return mask
