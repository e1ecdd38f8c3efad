"""Running a StepSampler step by step, as the engine does, for tests that compare paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


def counted(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """Replace ``module.name`` (a compiled function) by itself, counting its calls."""
    calls: list[int] = []
    real = getattr(module, name)

    def counting(*args: object) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(module, name, counting)
    return calls


def run_steps(sampler: Any, x: np.ndarray, n: int, *, split: bool, forced_at: int,
              forced: int, accept: bool = False) -> list[Any]:
    """``n`` steps on the logits ``x``, the ``forced_at``-th forced to ``forced``; split: each
    decided with the logits copied on the way (where the display half reads them) and
    finished on the copy. ``accept``: each
    token goes into the penalty window. The sampler is closed afterwards."""
    copy = np.full_like(x, np.nan)  # what finish reads where the decision copied nothing
    steps = []
    try:
        for i in range(n):
            choice = forced if i == forced_at else None
            if split:
                assert sampler.can_split
                d = sampler.decide(x, choice, split=True, copy_to=copy.ctypes.data)
                assert d.copied or d.logit is not None  # else finish would read no logits
                step = sampler.finish(d, copy)
            else:
                step = sampler.step(x, choice)
            steps.append(step)
            if accept:
                sampler.accept(step.token_id)
    finally:
        sampler.close()
    return steps
