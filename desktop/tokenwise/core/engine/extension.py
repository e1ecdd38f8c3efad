"""The compiled extension's Python-callable helpers, where it was built (else None).

Each builds a step's records in one call instead of a bytecode loop: they run just after a
decode, on cold caches, where every Python step costs. The engine keeps the plain Python
lines they replace for when the extension is not built (StepSampler.finish and record).
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


#: candidates(cls, ids, pieces, logits, probs): a step's Candidate records, and
#: exp_scaled(values, offset, scale, factor): [exp((v - offset) * scale) * factor, ...];
#: the pieces step_record makes its records of, each held to its Python line by the tests
CANDIDATES = function("candidates")
EXP_SCALED = function("exp_scaled")
#: step_record(consts, index, text, ...): a step's Step record from its decision (see
#: StepSampler.record)
STEP_RECORD = function("step_record")
#: untruncated_numbers(draw_out, shown, moments, penalties): what tw_untruncated wrote, as
#: the decision's numbers and lists
UNTRUNCATED_NUMBERS = function("untruncated_numbers")
