"""How many CPU threads the engine decodes with, and giving one up while decodes stall.

llama.cpp's CPU threads spin at every layer waiting for each other; when another busy
thread or process takes a core, one descheduled thread stalls them all and a token can take
100x longer (measured on two cores: 137 tok/s falling to 0.5). With automatic threads the
engine watches single-token decodes and gives up a thread when they stall.
"""

from __future__ import annotations

import os
from collections.abc import Callable

STALL_FACTOR = 4.0  # a decode this many times slower than the recent best is a stall
STALL_MIN_S = 0.02
STALLS_TO_DROP = 1.5  # recent stalls (decaying): two close together give up a thread
RETRY_AFTER = 512  # decodes on fewer threads before trying one more again


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the platform says)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 2


def default_threads() -> int:
    count = os.cpu_count() or 2
    return count if count <= 4 else max(4, count // 2)


class ThreadGovernor:
    """Watches single-token decode times; calls ``use_threads(n)`` to change the count."""

    def __init__(self, n_threads: int, use_threads: Callable[[int], None]) -> None:
        self.n_threads = n_threads
        self.threads_now = n_threads
        self._use_threads = use_threads
        self._best_decode_s = 0.0
        self._stalls = 0.0
        self._since_change = 0

    def watch(self, seconds: float) -> None:
        """Give up a thread when single-token decodes stall; try it again much later."""
        self._since_change += 1
        best = self._best_decode_s
        if best == 0.0 or seconds < best:
            self._best_decode_s = seconds
        else:
            self._best_decode_s = best * 1.002  # the context grows: let the floor rise slowly
        self._stalls *= 0.97
        if best and seconds > max(STALL_MIN_S, STALL_FACTOR * best):
            self._stalls += 1.0
            if self._stalls >= STALLS_TO_DROP and self.threads_now > 1:
                self._change(self.threads_now - 1)
        elif self.threads_now < self.n_threads and self._since_change >= RETRY_AFTER:
            self._change(self.threads_now + 1)

    def _change(self, n: int) -> None:
        self._use_threads(n)
        self.threads_now = n
        self._best_decode_s = 0.0
        self._stalls = 0.0
        self._since_change = 0
