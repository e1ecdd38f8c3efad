"""How often a streaming reply is drawn: as often as a small share of one core allows.

On a small machine the engine's decode threads use every core, so each millisecond the GUI
thread spends laying out and painting tokens is taken from the decode (on two cores, a GUI
busy 10 % of the time made replies about 10 % slower). The pacer watches the GUI thread's own
CPU time while a reply streams and stretches the interval between frames until drawing stays
within the budget; on a fast machine the same budget allows the shortest interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable

BUDGET = 0.025  # of one core, for everything the GUI thread does while a reply streams
MIN_INTERVAL_S = 0.033  # 30 frames a second at most (the engine sends a batch as often)
MAX_INTERVAL_S = 0.1  # 10 at least: the reply still visibly flows
WINDOW_S = 0.25  # the share is measured over windows of about this long


class FramePacer:
    """Chooses the interval between frames from the GUI thread's measured CPU share.

    ``cpu`` and ``clock`` are the thread's CPU clock and a wall clock (seconds).
    """

    def __init__(self, budget: float = BUDGET, min_s: float = MIN_INTERVAL_S,
                 max_s: float = MAX_INTERVAL_S,
                 cpu: Callable[[], float] = time.thread_time,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.budget = budget
        self.min_s = min_s
        self.max_s = max_s
        self._cpu = cpu
        self._clock = clock
        self.interval_s = min_s
        self.share = 0.0  # the last window's measured share
        self._wall0 = self._cpu0 = 0.0

    def start(self) -> None:
        """A reply begins: measure afresh (keep the interval learned so far)."""
        self._wall0, self._cpu0 = self._clock(), self._cpu()

    def frame_drawn(self) -> float:
        """Call after each frame; returns the interval to wait before the next one."""
        wall, cpu = self._clock(), self._cpu()
        elapsed = wall - self._wall0
        if elapsed < WINDOW_S:
            return self.interval_s
        self.share = max(0.0, cpu - self._cpu0) / elapsed
        self._wall0, self._cpu0 = wall, cpu
        # the work is mostly per frame: the share scales with the frame rate
        wanted = self.interval_s * self.share / self.budget
        smoothed = 0.5 * self.interval_s + 0.5 * wanted
        self.interval_s = min(self.max_s, max(self.min_s, smoothed))
        return self.interval_s
