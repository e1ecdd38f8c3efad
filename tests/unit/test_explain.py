"""The sentence that explains a step: its numbers come from the step, its words from the stages."""

from __future__ import annotations

import pytest

from tokenwise.core.formatting import percent
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.explain import explain_step
from tokenwise.core.trace.records import STOP_EOG, Candidate, Stage, Step


def make_step(*, token_id: int = 1, rank: int = 1, forced: bool = False,
              stages: tuple[Stage, ...] = (), stop: str | None = None) -> Step:
    cands = (
        Candidate(1, b" the", 5.0, 0.41),
        Candidate(2, b" a", 4.5, 0.25),
        Candidate(3, b" one", 3.0, 0.06),
    )
    chosen = next(c for c in cands if c.token_id == token_id)
    return Step(index=6, token_id=token_id, piece=chosen.piece, text=chosen.piece.decode(),
                prob=chosen.prob, rank=rank, logit=chosen.logit, log_z=6.0, entropy=2.1,
                candidates=cands, stages=stages, forced=forced, stop_reason=stop)


def sampled_stages(s: SamplerSettings, final: tuple[float, ...]) -> tuple[Stage, ...]:
    labels = s.stage_labels()
    return (
        Stage("penalties", labels["penalties"], 49152, (1, 2, 3), (0.41, 0.25, 0.06)),
        Stage("top_k", labels["top_k"], 40, (1, 2, 3), (0.45, 0.27, 0.07)),
        Stage("top_p", labels["top_p"], 12, (1, 2, 3), (0.5, 0.3, 0.08)),
        Stage("min_p", labels["min_p"], 3, (1, 2, 3), (0.55, 0.35, 0.1)),
        Stage("temperature", labels["temperature"], 3, (1, 2, 3), final),
    )


def test_sampled_step_names_every_number_from_its_stages() -> None:
    s = SamplerSettings(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05)
    step = make_step(stages=sampled_stages(s, (0.63, 0.3, 0.07)))
    text = explain_step(step, s, vocab_size=49152)
    assert text.startswith("The model gave ' the' 41% (rank 1).")
    assert "After top-k 40, top-p 0.9 and min-p 0.05, 3 candidates remained" in text
    assert "temperature 0.7 sharpened them" in text
    assert text.endswith("' the' was drawn (rank 1, 63%).")


def test_a_lower_ranked_draw_names_the_leader_and_flattening() -> None:
    s = SamplerSettings(temperature=1.3, top_k=40, top_p=0.9, min_p=0.05)
    step = make_step(token_id=2, rank=2, stages=sampled_stages(s, (0.5, 0.38, 0.12)))
    text = explain_step(step, s)
    assert "' a' 25% (rank 2; ' the' led with 41%)" in text
    assert "flattened" in text
    assert "' a' was drawn (rank 2, 38%)" in text


def test_greedy_forced_and_stop() -> None:
    s = SamplerSettings(temperature=0.0)
    greedy = (Stage("penalties", "penalties off", 49152, (1, 2), (0.41, 0.25)),
              Stage("greedy", "greedy (temperature 0)", 1, (1,), (1.0,)))
    text = explain_step(make_step(stages=greedy, stop=STOP_EOG), s)
    assert "Greedy decoding takes the most probable token, so ' the' was chosen." in text
    assert text.endswith("Generation stopped here: the model wrote its end-of-turn token.")
    forced = explain_step(make_step(token_id=3, rank=3, stages=greedy, forced=True), s)
    assert "' one' was forced by a branch" in forced


def test_no_truncation_and_the_preview_wording() -> None:
    s = SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    labels = s.stage_labels()
    stages = (Stage("penalties", labels["penalties"], 49152, (1, 2), (0.41, 0.25)),
              Stage("top_k", labels["top_k"], 49152, (1, 2), (0.41, 0.25)),
              Stage("top_p", labels["top_p"], 49152, (1, 2), (0.41, 0.25)),
              Stage("min_p", labels["min_p"], 49152, (1, 2), (0.41, 0.25)),
              Stage("temperature", labels["temperature"], 49152, (1, 2), (0.41, 0.25)))
    text = explain_step(make_step(stages=stages), s, stages, vocab_size=49152, preview=True)
    assert text.startswith("Preview with the sliders' settings:")
    assert "With no truncation, all 49,152 tokens stayed in play" in text
    assert "left them as they were" in text
    assert "' the' would have 41% (rank 1)." in text


def test_penalties_that_moved_the_token_are_mentioned() -> None:
    s = SamplerSettings(repeat_penalty=1.3)
    stages = list(sampled_stages(s, (0.63, 0.3, 0.07)))
    stages[0] = Stage("penalties", stages[0].label, 49152, (2, 1, 3), (0.3, 0.2, 0.06))
    text = explain_step(make_step(stages=tuple(stages)), s)
    assert "Repetition penalties lowered it to 20%." in text


@pytest.mark.parametrize(("p", "expected"), [
    (0.41, "41%"), (0.041, "4.1%"), (0.0031, "0.31%"), (0.00001, "<0.01%"), (0.0, "0%"),
    (1.0, "100%"), (0.9971, "99.7%"),
])
def test_percent(p: float, expected: str) -> None:
    assert percent(p) == expected


def test_a_preview_of_a_token_outside_the_stored_candidates_says_so() -> None:
    s = SamplerSettings(temperature=1.5, top_k=40, top_p=0.9, min_p=0.05)
    step = make_step(stages=sampled_stages(s, (0.5, 0.38, 0.12)))
    step.token_id, step.piece, step.rank = 999, b" rare", 80
    text = explain_step(step, s, sampled_stages(s, (0.5, 0.38, 0.12)), preview=True)
    assert "' rare' lies outside the 3 stored candidates" in text
