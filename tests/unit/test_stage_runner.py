"""StageRunner: llama.cpp's samplers of a step applied in one call (tw_apply_stages)."""

from __future__ import annotations

import llama_cpp
import numpy as np
import pytest

from stepping import counted, run_steps
from tokenwise.core.engine import compiled
from tokenwise.core.engine.compiled import CandidateBuffer, StageRunner
from tokenwise.core.sampling.settings import PRESETS, SamplerSettings


def test_the_five_stages_in_one_call_are_llama_cpps_own() -> None:
    """tw_apply_stages calls llama.cpp's llama_sampler_apply in order: the same sizes after
    each stage, the same probabilities and the same draws as five calls from Python."""
    rng = np.random.default_rng(8)
    n = 500
    logits = np.sort((rng.standard_normal(n) * 2.0).astype(np.float32))[::-1].copy()
    ids = rng.permutation(n).astype(np.int32)
    outcomes = []
    for one_call in (True, False):
        buf = CandidateBuffer(n)
        samplers = [llama_cpp.llama_sampler_init_top_k(40),
                    llama_cpp.llama_sampler_init_top_p(0.95, 1),
                    llama_cpp.llama_sampler_init_min_p(0.05, 1), None,  # a stage that is off
                    llama_cpp.llama_sampler_init_temp(0.7),
                    llama_cpp.llama_sampler_init_dist(1234)]
        runner = StageRunner(buf, samplers)
        assert (runner._args is not None) == (compiled._APPLY_STAGES is not None)
        if not one_call:
            runner._args = None
        try:
            seen = []
            for _ in range(50):
                buf.load(ids, logits, is_sorted=True)
                sizes = runner.apply()
                size = int(buf.array.size)
                seen.append((sizes, int(buf.array.selected), buf.ids[:size].tolist(),
                             buf.probs[:size].tobytes()))
            outcomes.append(seen)
        finally:
            for sampler in samplers:
                if sampler is not None:
                    llama_cpp.llama_sampler_free(sampler)
    assert outcomes[0] == outcomes[1]
    sizes = outcomes[0][0][0]
    assert sizes[0] == 40 and sizes[1] <= 40 and sizes[2] <= sizes[1]
    assert sizes[3] == sizes[2] and sizes[5] == sizes[4]  # the skipped stage, then dist
    assert len({selected for _, selected, _, _ in outcomes[0]}) > 1  # it draws


def _top_k_logits(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 2.0).astype(np.float32)
    best = np.argsort(-x, kind="stable")
    x[best[35:45]] = x[best[35]]  # ties across top-k 40's cut
    x[rng.integers(0, n, 50)] = -np.inf  # masked tokens
    return x


@pytest.mark.parametrize("n", [49152, 262144])
@pytest.mark.parametrize("settings", [
    PRESETS["Balanced"],
    SamplerSettings(temperature=1.1, top_k=100, top_p=0.98, min_p=0.02),
    SamplerSettings(temperature=0.5, top_k=5, top_p=1.0, min_p=0.0),
    SamplerSettings(temperature=1.0, top_k=255, top_p=0.9, min_p=0.0),
], ids=["balanced", "top-k-100", "top-k-5", "top-k-255"])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
def test_a_top_k_decision_in_one_call_is_the_separate_calls(
        n: int, settings: SamplerSettings, split: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """tw_truncated (the pass, the stage records' weights and llama.cpp's stages in one call)
    gives every number the separate calls give: the same draws from the same seed, the same
    records to the bit, a branch's forced token included; split, the display half finishes
    on a copy."""
    from tokenwise.core.engine import stages as engine_stages
    from tokenwise.core.engine.stages import StepSampler

    if engine_stages._TRUNCATED is None:
        pytest.skip("the compiled pass was not built here")
    calls = counted(monkeypatch, engine_stages, "_TRUNCATED")
    x = _top_k_logits(n, n % 1000 + settings.top_k)
    forced = int(np.argsort(-x, kind="stable")[7])
    runs = []
    for one_call in (True, False):
        sampler = StepSampler(CandidateBuffer(n), n, settings, 23, [], 16)
        assert sampler._truncated_call
        sampler._truncated_call = one_call
        runs.append(run_steps(sampler, x, 30, split=split, forced_at=4, forced=forced))
    assert len(calls) == 30
    assert runs[0] == runs[1]
    assert len({s.token_id for s in runs[0]}) > 2  # drawn, not the same token each time
    assert runs[0][4].token_id == forced


@pytest.mark.parametrize("n", [49152, 262144])
@pytest.mark.parametrize(("settings", "scale"), [
    (SamplerSettings(temperature=1.0, top_k=0, top_p=0.9, min_p=0.0), 2.0),
    (SamplerSettings(temperature=0.7, top_k=0, top_p=0.5, min_p=0.0), 3.0),
    (SamplerSettings(temperature=1.3, top_k=0, top_p=0.99, min_p=0.0), 0.5),  # a wide nucleus
], ids=["top-p-0.9", "top-p-0.5", "wide"])
@pytest.mark.parametrize(("split", "shown"), [(False, 16), (True, 16), (True, 3)],
                         ids=["whole", "split", "split-3-shown"])
def test_a_top_p_decision_in_one_call_is_the_separate_calls(
        n: int, settings: SamplerSettings, scale: float, split: bool, shown: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """tw_nucleus_draw (the nucleus, the stage records and llama.cpp's stages in one call)
    gives every number the separate calls give: the same draws from the same seed, the same
    records to the bit, a branch's forced token included; split, the display half reads no
    logits (the rank of a token drawn past the candidates shown comes from the call)."""
    from tokenwise.core.engine import stages as engine_stages
    from tokenwise.core.engine.stages import StepSampler

    calls = counted(monkeypatch, engine_stages, "_NUCLEUS_DRAW")
    rng = np.random.default_rng(n % 97)
    x = (rng.standard_normal(n) * scale).astype(np.float32)
    x[rng.integers(0, n, 8)] += 6.0  # a few clear leaders
    x[rng.integers(0, n, 50)] = -np.inf  # masked tokens
    best = np.argsort(-x, kind="stable")
    x[best[20:30]] = x[best[20]]  # ties among the shown candidates
    forced = int(best[9])
    runs = []
    for one_call in (True, False):
        sampler = StepSampler(CandidateBuffer(n), n, settings, 31, [], shown)
        assert sampler._nucleus_call
        sampler._nucleus_call = one_call
        runs.append(run_steps(sampler, x, 30, split=split and one_call, forced_at=4,
                              forced=forced))
    assert len(calls) == 30
    assert runs[0] == runs[1]
    if shown == 3:  # drawn past the candidates shown, ranked all the same
        assert any(s.rank > 3 and s.token_id != forced for s in runs[0])
    assert len({s.token_id for s in runs[0]}) > 2  # drawn, not the same token each time
    assert runs[0][4].token_id == forced
    top_p = runs[0][0].stages[2]
    assert top_p.survivors < n and sum(runs[0][0].stages[3].probs) <= 1.0 + 1e-6


def test_top_p_with_min_p_or_penalties_keeps_the_separate_calls() -> None:
    """Where the records read past the shown candidates (min-p) or penalties change the
    logits, top-p without top-k takes the separate calls."""
    from tokenwise.core.engine.stages import StepSampler

    for settings in (SamplerSettings(temperature=1.0, top_k=0, top_p=0.9, min_p=0.05),
                     SamplerSettings(temperature=1.0, top_k=0, top_p=0.9, min_p=0.0,
                                     repeat_penalty=1.2)):
        sampler = StepSampler(CandidateBuffer(5000), 5000, settings, 1, [3, 4], 16)
        try:
            assert not sampler._nucleus_call
        finally:
            sampler.close()
