"""The display half of a step run while the next token decodes: the same records either way.

Forced on here (a CPU build, where it is off by default), on the real starter model.
"""

from __future__ import annotations

import threading

import pytest

from tokenwise.core.engine.overlap import OVERLAP_ENV, overlap_wanted
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS, SamplerSettings
from tokenwise.core.trace.records import STOP_CANCELLED, STOP_EOG, STOP_MAX_TOKENS, STOP_STRING

WIDE = SamplerSettings(temperature=1.0, top_k=300, top_p=0.99, min_p=0.0,
                       repeat_penalty=1.3, presence_penalty=0.5)
UNTRUNCATED = SamplerSettings(temperature=0.9, top_k=0, top_p=1.0, min_p=0.0)
UNTRUNCATED_T1 = SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
UNTRUNCATED_PENALTIES = SamplerSettings(temperature=0.8, top_k=0, top_p=1.0, min_p=0.0,
                                        repeat_penalty=1.1, presence_penalty=0.5,
                                        frequency_penalty=0.5, repeat_last_n=64)
TOP_P_ALONE = SamplerSettings(temperature=1.2, top_k=0, top_p=0.95, min_p=0.0)


def _steps(engine, overlap: bool, settings: SamplerSettings, prompt: str, **kw) -> tuple:
    engine.overlap = overlap
    try:
        ids = engine.render_chat([ChatMessage("user", prompt)]).token_ids
        engine._trim(0)
        stream = engine.generate(GenerationRequest(ids, settings, **kw))
        steps = list(stream)
        return steps, stream.result
    finally:
        engine.overlap = False


def _record(step) -> tuple:
    return (step.index, step.token_id, step.piece, step.text, step.prob, step.rank, step.logit,
            step.log_z, step.entropy, step.candidates, step.stages, step.final_prob,
            step.forced, step.stop_reason)


@pytest.mark.parametrize("settings", [PRESETS["Greedy"], PRESETS["Balanced"],
                                      PRESETS["Creative"], WIDE, UNTRUNCATED, UNTRUNCATED_T1,
                                      UNTRUNCATED_PENALTIES, TOP_P_ALONE],
                         ids=["greedy", "balanced", "creative", "wide-penalties",
                              "untruncated", "untruncated-t1", "untruncated-penalties",
                              "top-p-alone"])
def test_records_are_identical_with_and_without_overlap(engine, settings) -> None:
    s = settings.with_(seed=21, max_tokens=40)
    plain, plain_result = _steps(engine, False, s, "Describe a busy harbour.", top_k_display=24)
    over, over_result = _steps(engine, True, s, "Describe a busy harbour.", top_k_display=24)
    assert [_record(a) for a in plain] == [_record(b) for b in over]
    assert (plain_result.stop_reason, plain_result.text, plain_result.n_tokens) == (
        over_result.stop_reason, over_result.text, over_result.n_tokens)
    assert len(engine.critical_s) == len(over) - 1  # one gap per decode after the first step


@pytest.mark.parametrize(("settings", "splits"), [
    (PRESETS["Greedy"], True), (PRESETS["Balanced"], True), (UNTRUNCATED, True),
    (UNTRUNCATED_T1, True), (UNTRUNCATED_PENALTIES, True),
    (SamplerSettings(temperature=1.0, top_k=0, top_p=0.9, min_p=0.0), True),
    (SamplerSettings(temperature=1.0, top_k=0, top_p=0.9, min_p=0.05), False),
    (SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.05), False),
])
def test_which_steps_split(engine, settings, splits) -> None:
    """The overlap has something to move for greedy, top-k, the untruncated draw (with
    penalties too) and top-p without top-k in one call (the display half then reads no
    logits); min-p without top-k, and top-p with it, need the normaliser and more to decide."""
    from tokenwise.core.engine.stages import StepSampler

    sampler = StepSampler(engine._buffer, engine.n_vocab, settings, 3, [5, 6, 7], 24)
    try:
        assert sampler.can_split is splits
    finally:
        sampler.close()


def test_stop_reasons_and_branching_with_overlap(engine) -> None:
    greedy = PRESETS["Greedy"]
    for kw, reason in ((dict(settings=greedy.with_(max_tokens=5)), STOP_MAX_TOKENS),
                       (dict(settings=greedy.with_(max_tokens=200)), STOP_EOG)):
        plain, _ = _steps(engine, False, kw["settings"], "Say hi.")
        over, result = _steps(engine, True, kw["settings"], "Say hi.")
        assert [_record(a) for a in plain] == [_record(b) for b in over]
        assert result.stop_reason == reason
    first, _ = _steps(engine, False, greedy.with_(max_tokens=12), "Count to ten.")
    stop = first[4].text.strip() or first[5].text.strip()
    over, result = _steps(engine, True, greedy.with_(max_tokens=12), "Count to ten.",
                          stop_strings=(stop,))
    assert result.stop_reason == STOP_STRING
    forced = first[0].candidates[1].token_id
    plain, _ = _steps(engine, False, greedy.with_(max_tokens=6), "Count to ten.",
                      forced_first_token=forced)
    over, _ = _steps(engine, True, greedy.with_(max_tokens=6), "Count to ten.",
                     forced_first_token=forced)
    assert over[0].token_id == forced and over[0].forced
    assert [_record(a) for a in plain] == [_record(b) for b in over]
    # a branch in top-p without top-k, split: the forced token's rank found in the decision
    s = TOP_P_ALONE.with_(seed=4, max_tokens=6)
    far = first[0].candidates[-1].token_id
    plain, _ = _steps(engine, False, s, "Count to ten.", forced_first_token=far,
                      top_k_display=8)
    over, _ = _steps(engine, True, s, "Count to ten.", forced_first_token=far, top_k_display=8)
    assert over[0].token_id == far and over[0].rank > 8
    assert [_record(a) for a in plain] == [_record(b) for b in over]
    # a branch in the untruncated draw, split, with penalties
    s = UNTRUNCATED_PENALTIES.with_(seed=4, max_tokens=6)
    plain, _ = _steps(engine, False, s, "Count to ten.", forced_first_token=forced)
    over, _ = _steps(engine, True, s, "Count to ten.", forced_first_token=forced)
    assert over[0].token_id == forced and over[0].forced
    assert [_record(a) for a in plain] == [_record(b) for b in over]


def test_cancel_with_overlap(engine) -> None:
    engine.overlap = True
    cancel = threading.Event()
    try:
        ids = engine.render_chat([ChatMessage("user", "Write a long story.")]).token_ids
        engine._trim(0)
        stream = engine.generate(GenerationRequest(
            ids, PRESETS["Greedy"].with_(max_tokens=200), extra={"ignore_eog": True}), cancel)
        steps = []
        for step in stream:
            steps.append(step)
            if len(steps) == 3:
                cancel.set()
        assert stream.result.stop_reason == STOP_CANCELLED
        assert len(steps) == 3
        # the engine goes on: a new reply after the cancelled one
        again = list(engine.generate(GenerationRequest(ids, PRESETS["Greedy"].with_(
            max_tokens=3))))
        assert len(again) == 3
    finally:
        engine.overlap = False


def test_overlap_default_follows_offload_and_can_be_forced(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(OVERLAP_ENV, raising=False)
    assert overlap_wanted(None, offloaded=True) is True
    assert overlap_wanted(None, offloaded=False) is False
    assert overlap_wanted(None, offloaded=False, idle_core=True) is True
    assert overlap_wanted(False, offloaded=False, idle_core=True) is False
    monkeypatch.setenv(OVERLAP_ENV, "1")
    assert overlap_wanted(None, offloaded=False) is True
    assert overlap_wanted(False, offloaded=False) is False
    monkeypatch.setenv(OVERLAP_ENV, "0")
    assert overlap_wanted(None, offloaded=True) is False


def test_a_decode_that_leaves_a_core_idle_overlaps_by_default(
        starter_model_path, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a CPU build the display half moves to a core the decode leaves idle, where there is
    one; a decode on every core keeps it in line."""
    from tokenwise.core import paths
    from tokenwise.core.engine.local import Engine
    from tokenwise.core.engine.threads import usable_cores

    monkeypatch.delenv(OVERLAP_ENV, raising=False)
    cores = usable_cores()
    paths.set_base(tmp_path)
    try:
        with Engine(starter_model_path, n_ctx=256, n_threads=cores, n_gpu_layers=0) as every:
            assert every.overlap is False
        if cores >= 2:
            with Engine(starter_model_path, n_ctx=256, n_threads=cores - 1,
                        n_gpu_layers=0) as fewer:
                assert fewer.overlap is True
    finally:
        paths.set_base(None)
