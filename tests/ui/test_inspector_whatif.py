"""What-if previews against real runs: which stages are reused, which re-run, and when the
preview says it is approximate."""

from __future__ import annotations

from typing import Any

import pytest

from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.records import Stage, Step
from tokenwise.ui.inspector.stage_table import (
    build_table,
    first_changed_stage,
    history_before,
    preview_stages,
)

BASE = SamplerSettings(temperature=0.8, top_k=40, top_p=0.9, min_p=0.05, repeat_penalty=1.1,
                       seed=21, max_tokens=16)


@pytest.fixture(scope="module")
def run(engine: Any) -> tuple[list[int], list[Step]]:
    prompt = list(engine.render_chat([ChatMessage("user", "Describe a forest.")]).token_ids)
    return prompt, list(engine.generate(GenerationRequest(prompt, BASE)))


def real_stages(engine: Any, prompt: list[int], steps: list[Step], index: int,
                settings: SamplerSettings) -> tuple[Stage, ...]:
    prefix = prompt + [s.token_id for s in steps[:index]]
    request = GenerationRequest(prefix, settings.with_(max_tokens=1))
    return next(iter(engine.generate(request))).stages


def same(got: tuple[Stage, ...], want: tuple[Stage, ...], first: int = 8) -> None:
    assert [s.name for s in got] == [s.name for s in want]
    for g, w in zip(got, want, strict=True):
        assert g.survivors == w.survivors, g.name
        n = min(first, len(g.ids), len(w.ids))
        assert g.ids[:n] == w.ids[:n], g.name
        assert g.probs[:n] == pytest.approx(w.probs[:n], abs=1e-5), g.name


@pytest.mark.parametrize("change", [
    {"temperature": 1.6}, {"temperature": 0.3}, {"top_k": 10}, {"min_p": 0.2},
    {"temperature": 0.0},
])
def test_previews_from_complete_stages_equal_a_real_run(
        engine: Any, run: tuple[list[int], list[Step]], change: dict[str, float]) -> None:
    prompt, steps = run
    new = BASE.with_(**change)
    for index in (1, 7):
        preview, note = preview_stages(steps[index], new, history_before(steps, index, prompt),
                                       vocab_size=engine.info.vocab_size, stored_settings=BASE)
        assert note is None
        same(preview, real_stages(engine, prompt, steps, index, new))


def test_unchanged_settings_give_the_stored_stages(run: tuple[list[int], list[Step]]) -> None:
    _, steps = run
    assert preview_stages(steps[3], BASE, stored_settings=BASE) == (steps[3].stages, None)
    assert first_changed_stage(BASE, BASE.with_(seed=99, max_tokens=3)) is None


def test_changed_penalties_rerun_everything_and_say_so(
        engine: Any, run: tuple[list[int], list[Step]]) -> None:
    prompt, steps = run
    new = BASE.with_(repeat_penalty=1.5, top_k=20)
    assert first_changed_stage(BASE, new) == "penalties"
    preview, note = preview_stages(steps[5], new, history_before(steps, 5, prompt),
                                   vocab_size=engine.info.vocab_size, stored_settings=BASE)
    real = real_stages(engine, prompt, steps, 5, new)
    # top-k 20 lies within the 32 stored candidates: the truncation stages agree exactly
    assert [s.survivors for s in preview[1:]] == [s.survivors for s in real[1:]]
    assert preview[-1].ids[:5] == real[-1].ids[:5]
    assert note is None  # top-k 20 <= 32 stored: no approximation note


def test_an_incomplete_stage_is_named_in_the_note(
        engine: Any, run: tuple[list[int], list[Step]]) -> None:
    _, steps = run
    step = next(s for s in steps if s.stages[1].survivors > len(s.stages[1].ids))
    _, note = preview_stages(step, BASE.with_(top_p=0.5), vocab_size=engine.info.vocab_size,
                             stored_settings=BASE)
    assert note is not None and "top-k stage keeps 40 tokens" in note


def test_the_preview_table_is_labelled_and_keeps_raw_numbers(
        engine: Any, run: tuple[list[int], list[Step]]) -> None:
    _, steps = run
    step = steps[2]
    new = BASE.with_(temperature=1.5)
    stages, note = preview_stages(step, new, stored_settings=BASE,
                                  vocab_size=engine.info.vocab_size)
    table = build_table(step, stages, limit=10, top_p=new.top_p, preview=True, note=note)
    stored = build_table(step, limit=10, top_p=BASE.top_p)
    assert table.preview and not stored.preview
    assert [r.probs[0] for r in table.rows] == [r.probs[0] for r in stored.rows]  # raw column
    assert [r.probs[-1] for r in table.rows] != [r.probs[-1] for r in stored.rows]
