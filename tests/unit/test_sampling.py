"""The numpy stage pipeline against expectations computed independently, by plain loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokenwise.core.sampling.pipeline import approximation_note, penalize, run_stages
from tokenwise.core.sampling.settings import PRESETS, SamplerSettings
from tokenwise.core.sampling.stages import STAGE_GREEDY, STAGE_ORDER


def _softmax(values: list[float]) -> list[float]:
    m = max(values)
    e = [math.exp(v - m) for v in values]
    return [x / sum(e) for x in e]


def _reference(ids: list[int], logits: list[float], s: SamplerSettings,
               history: list[int]) -> dict[str, list[int]]:
    """A straightforward re-statement of llama.cpp's rules, one token at a time."""
    window = history[-s.repeat_last_n:] if s.repeat_last_n > 0 else []
    counts = {t: window.count(t) for t in set(window)}
    pen = []
    for t, x in zip(ids, logits, strict=True):
        c = counts.get(t, 0)
        if c:
            x = x * s.repeat_penalty if x <= 0 else x / s.repeat_penalty
            x -= c * s.frequency_penalty + s.presence_penalty
        pen.append((x, t))
    pen.sort(key=lambda p: -p[0])
    out = {"penalties": [t for _, t in pen]}
    cur = pen[: s.top_k] if s.top_k > 0 else pen
    out["top_k"] = [t for _, t in cur]
    if s.top_p < 1.0:
        probs = _softmax([x for x, _ in cur])
        total, keep = 0.0, len(cur)
        for i, p in enumerate(probs):
            total += p
            if total >= s.top_p:
                keep = i + 1
                break
        cur = cur[:keep]
    out["top_p"] = [t for _, t in cur]
    if s.min_p > 0:
        probs = _softmax([x for x, _ in cur])
        cur = [c for c, p in zip(cur, probs, strict=True) if p >= s.min_p * probs[0]]
    out["min_p"] = [t for _, t in cur]
    out["temperature"] = out["min_p"]
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("preset", ["Precise", "Balanced", "Creative"])
def test_stages_match_independent_reference(seed: int, preset: str) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    ids = rng.permutation(5000)[:n].astype(np.int32)
    logits = (rng.standard_normal(n) * 3).astype(np.float32)
    history = rng.choice(ids, size=40).tolist()
    settings = PRESETS[preset].with_(repeat_penalty=1.3, presence_penalty=0.4,
                                     frequency_penalty=0.2, repeat_last_n=32)
    got = {r.name: r.ids.tolist() for r in run_stages(ids, logits, settings, history)}
    expected = _reference(ids.tolist(), logits.astype(float).tolist(), settings, history)
    for name in STAGE_ORDER:
        assert got[name] == expected[name], name


def test_temperature_sharpens_and_flattens() -> None:
    ids = np.arange(5, dtype=np.int32)
    logits = np.array([3.0, 2.0, 1.0, 0.5, 0.0], dtype=np.float32)
    base = SamplerSettings(top_k=0, top_p=1.0, min_p=0.0)
    cold = run_stages(ids, logits, base.with_(temperature=0.5))[-1].probs
    warm = run_stages(ids, logits, base.with_(temperature=2.0))[-1].probs
    plain = _softmax([3.0, 2.0, 1.0, 0.5, 0.0])
    assert cold[0] > plain[0] > warm[0]
    assert cold.sum() == pytest.approx(1.0)
    assert warm.tolist() == pytest.approx(_softmax([1.5, 1.0, 0.5, 0.25, 0.0]), rel=1e-6)


def test_greedy_keeps_only_the_best() -> None:
    ids = np.array([7, 8, 9], dtype=np.int32)
    logits = np.array([0.1, 2.0, 1.9], dtype=np.float32)
    stages = run_stages(ids, logits, PRESETS["Greedy"])
    assert stages[-1].name == STAGE_GREEDY
    assert stages[-1].ids.tolist() == [8]


def test_penalize_follows_llama_cpp_sign_rule() -> None:
    ids = np.array([1, 2, 3], dtype=np.int32)
    logits = np.array([2.0, -2.0, 1.0], dtype=np.float32)
    s = SamplerSettings(repeat_penalty=2.0, frequency_penalty=0.5, presence_penalty=0.25)
    out = penalize(ids, logits, [1, 1, 2], s)
    assert out.tolist() == pytest.approx([2.0 / 2 - 1.0 - 0.25, -2.0 * 2 - 0.5 - 0.25, 1.0])


def test_settings_validation_messages() -> None:
    with pytest.raises(ValueError, match="top-p"):
        SamplerSettings(top_p=0.0).validate()
    with pytest.raises(ValueError, match="temperature"):
        SamplerSettings(temperature=-1).validate()
    SamplerSettings().validate()
    restored = SamplerSettings.from_dict({**PRESETS["Creative"].to_dict(), "unknown": 1})
    assert restored == PRESETS["Creative"]


def test_approximation_note() -> None:
    s = SamplerSettings(top_k=0)
    note = approximation_note(s, stored=50, vocab_size=49152, stored_mass=0.97)
    assert note is not None and "97.0%" in note and "3.0%" in note
    assert approximation_note(SamplerSettings(top_k=40), 50, 49152, 0.9) is None
