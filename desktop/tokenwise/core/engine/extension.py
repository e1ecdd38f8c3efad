"""The compiled extension's Python-callable helpers, where it was built (else None).

Each builds a step's small records in one call instead of a bytecode loop: they run just
after a decode, on cold caches, where every Python step costs. The callers keep the plain
Python line they replace for when the extension is not built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def function(name: str) -> Callable[..., Any] | None:
    """One of the extension's Python-callable helpers (None: not built)."""
    try:
        module = importlib.import_module("tokenwise.core.engine._scan")
    except ImportError:
        return None
    return getattr(module, name, None)


#: candidates(cls, ids, pieces, logits, probs): a step's Candidate records
CANDIDATES = function("candidates")
#: exp_scaled(values, offset, scale, factor): [exp((v - offset) * scale) * factor, ...]
EXP_SCALED = function("exp_scaled")
#: step_record(consts, index, text, ...): a step's Step record from its decision (see
#: StepSampler.record)
STEP_RECORD = function("step_record")
#: untruncated_numbers(draw_out, shown, moments, penalties): what tw_untruncated wrote, as
#: the decision's numbers and lists
UNTRUNCATED_NUMBERS = function("untruncated_numbers")
