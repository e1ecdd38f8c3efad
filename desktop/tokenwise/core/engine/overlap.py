"""The display half of each step, run while the next token decodes.

llama_decode releases the GIL. On a GPU build the CPU waits idle through it, so the work that
only feeds the display (the raw top-K's probabilities, the normaliser, the entropy, the Step
record) can run then instead of delaying the next decode. On a CPU build it runs on a core the
decode leaves idle, where there is one (more cores than decode threads: the default on more
than four cores); where the decode uses every core, this would only move the work, and it
stays off unless asked for.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

#: "1" forces the overlap on (a CPU build included), "0" off; unset: on with GPU layers or an
#: idle core
OVERLAP_ENV = "TOKENWISE_OVERLAP"


def overlap_wanted(requested: bool | None, *, offloaded: bool, idle_core: bool = False) -> bool:
    """The parameter if given, else the environment's word, else: on when offloaded or when
    the decode leaves a core idle."""
    if requested is not None:
        return requested
    env = os.environ.get(OVERLAP_ENV, "").strip()
    if env in ("0", "1"):
        return env == "1"
    return offloaded or idle_core


class DisplayWorker:
    """One thread that runs one job at a time: submit, decode, then take its result."""

    def __init__(self) -> None:
        self._jobs: SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            SimpleQueue())
        self._results: SimpleQueue[tuple[bool, Any]] = SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tokenwise-display",
                                            daemon=True)
            self._thread.start()
        self._jobs.put((fn, args))

    def result(self) -> Any:
        """The job's return value; its exception, raised here."""
        ok, value = self._results.get()
        if not ok:
            raise value
        return value

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args = job
            try:
                self._results.put((True, fn(*args)))
            except BaseException as exc:  # handed to the generating thread
                self._results.put((False, exc))
