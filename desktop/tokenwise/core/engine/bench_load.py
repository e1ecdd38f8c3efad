"""First load of a file not seen before against a plain load, alternated in one process.

The first load checks the file in a child process (see :mod:`.preflight`). Where failed
assertions while loading are load errors (:mod:`.guard`) the load runs alongside the check,
and only the first decode waits for its verdict: both moments are timed.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tokenwise.core import paths
from tokenwise.core.engine import guard
from tokenwise.core.engine.local import Engine


@dataclass(slots=True)
class LoadBench:
    model: str
    rounds: int
    plain_s: float
    first_ready_s: float  # the engine returned: the window can show the model loaded
    first_checked_s: float  # the child's verdict too: what the first decode waits for
    ready_ratio: float
    checked_ratio: float
    alongside: bool  # the load ran alongside the check (the guard was built)


def bench_first_load(path: str | Path, *, rounds: int = 5, n_ctx: int = 4096) -> LoadBench:
    path = Path(path)
    plain: list[float] = []
    ready: list[float] = []
    checked: list[float] = []
    name = path.name
    for _ in range(rounds):
        t0 = time.perf_counter()
        engine = Engine(path, n_ctx=n_ctx, preflight=False)
        plain.append(time.perf_counter() - t0)
        name = engine.info.name
        engine.close()
        paths.preflight_cache_path().unlink(missing_ok=True)  # not seen before
        t0 = time.perf_counter()
        engine = Engine(path, n_ctx=n_ctx)
        ready.append(time.perf_counter() - t0)
        try:
            engine.wait_checked()
            checked.append(time.perf_counter() - t0)
        finally:
            engine.close()
    p, r, c = (statistics.median(v) for v in (plain, ready, checked))
    return LoadBench(model=name, rounds=rounds, plain_s=round(p, 3), first_ready_s=round(r, 3),
                     first_checked_s=round(c, 3), ready_ratio=round(r / p, 3),
                     checked_ratio=round(c / p, 3), alongside=guard.available())


def as_dict(result: LoadBench) -> dict[str, object]:
    return asdict(result)
