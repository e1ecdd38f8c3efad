"""Seeded header mutations of the real models end in a clear message or a working model.

A sample of what tests/benchmarks/mutate_models.py sweeps at 500 per model: each mutant goes
through the app's loading path (reader, preflight child, engine) in a stand-in app process,
so a signal there, a hang or an escaped exception is counted as "anything else".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mutants import KINDS, OUTCOMES, sweep

COUNTS = {"starter": 50, "gemma3-270m": 50}


@pytest.mark.parametrize("model", sorted(COUNTS))
def test_seeded_mutants_end_in_a_clear_message_or_a_working_model(
    request: pytest.FixtureRequest, tmp_path: Path, model: str
) -> None:
    path: Path = request.getfixturevalue(
        "starter_model_path" if model == "starter" else "gemma_model_path"
    )
    count = COUNTS[model]
    assert count >= len(KINDS)  # every kind of mutation at least once
    tally = sweep(path, count, seed=2026, workdir=tmp_path, timeout_s=60.0)
    assert tally.counts["anything else"] == 0, tally.examples
    assert sum(tally.counts[name] for name in OUTCOMES) == count
    assert tally.counts["rejected by the reader"] > 0
    assert tally.counts["rejected in the preflight"] + tally.counts["loaded"] > 0
