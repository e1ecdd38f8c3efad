"""The guided tour of one real generation: its stops and what each says, from the run's data.

Seven stops, each at most about 60 words (120 Chinese characters), each filled with the
numbers of the generation the tour has just run (the prompt's tokens, the vocabulary, the
candidates and stages of a step, the drawn token, the stop reason). The window places each
stop beside its panel (``anchor``) and drives the run in step mode; ``phase`` says how far
the run must have gone before a stop can be shown: the first step drawn (0), the second
(1), the reply finished (2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tokenwise.core.formatting import number, percent
from tokenwise.core.i18n import CHINESE, N_, _, join_list, language
from tokenwise.core.interface import TOKEN_BYTE, TOKEN_SPECIAL, Token
from tokenwise.core.sampling.stages import stage_label
from tokenwise.core.trace.records import STOP_REASON_TEXT, Step

#: the example each language's tour writes from ("人工智能是" -> "一门" -> "强大的" -> "技术")
EXAMPLE_PROMPTS = {"en": "Artificial intelligence is", CHINESE: "人工智能是"}
#: (key, anchor, phase, title)
STOPS = (
    ("tokens", "tokens", 0, N_("The prompt becomes tokens")),
    ("distribution", "stages", 0, N_("A probability for every token")),
    ("stages", "stages", 0, N_("The sampler reshapes, then draws")),
    ("append", "timeline", 1, N_("The token joins the context")),
    ("stop", "chat", 2, N_("Generation stops")),
    ("temperature", "sampling", 2, N_("Greedy, sampling and temperature")),
    ("branch", "stages", 2, N_("Another choice, another text")),
)


@dataclass(frozen=True, slots=True)
class TourRun:
    """What the tour's generation produced so far."""

    prompt_tokens: Sequence[Token]
    steps: Sequence[Step]
    vocab_size: int
    finished: bool = False


@dataclass(frozen=True, slots=True)
class TourStop:
    key: str
    anchor: str  # "tokens", "stages", "timeline", "chat", "sampling"
    phase: int
    title: str
    text: str


def example_prompt(lang: str | None = None) -> str:
    return EXAMPLE_PROMPTS.get(lang or language(), EXAMPLE_PROMPTS["en"])


def _q(label: str) -> str:
    return f"'{label}'"


def _top(step: Step, n: int = 3) -> str:
    return join_list([f"{_q(c.label)} {percent(c.prob)}" for c in step.candidates[:n]])


def _text(key: str, run: TourRun) -> str:
    steps = run.steps
    first = steps[0] if steps else None
    if key == "tokens":
        tokens = run.prompt_tokens
        special = sum(1 for t in tokens if t.kind == TOKEN_SPECIAL)
        pieces = sum(1 for t in tokens if t.kind == TOKEN_BYTE)
        return _("The model never sees letters: your message and the chat template became "
                 "{count} tokens. {special} are special tokens that mark the turns; {bytes} "
                 "are byte tokens, each only a part of one character (Chinese shows many). "
                 "Most others are sub-words: pieces of frequent words.").format(
            count=number(len(tokens)), special=special, bytes=pieces)
    if first is None:
        return ""
    if key == "distribution":
        return _("At step 1 the model gave each of its {vocab} tokens a probability, P(w_t | "
                 "w_1..w_t-1): everything before decides what may come next. The most "
                 "probable: {top}. The bars show them; the rest share {other}.").format(
            vocab=number(run.vocab_size), top=_top(first), other=percent(first.other_mass))
    if key == "stages":
        path = " → ".join(_("{stage}: {count} left").format(
            stage=stage_label(s.name, s.label), count=number(s.survivors))
            for s in first.stages)
        return _("Then the sampler's stages cut and reshape that distribution, in llama.cpp's "
                 "order: {path}. From the final one, one token was drawn: {token}, which had "
                 "{raw} before the stages and {final} after them.").format(
            path=path or "—", token=_q(first.label), raw=percent(first.prob),
            final=percent(first.final_prob))
    if key == "append":
        second = steps[1] if len(steps) > 1 else first
        n_prompt = len(run.prompt_tokens)
        return _("{token} was appended: the context grew from {before} to {after} tokens, and "
                 "step 2 was computed on all of them. Its candidates changed: now {top}. One "
                 "token per step, each conditioned on every token before it: that is why a "
                 "model writes one token at a time.").format(
            token=_q(first.label), before=number(n_prompt), after=number(n_prompt + 1),
            top=_top(second))
    if key == "stop":
        last = steps[-1]
        reason = STOP_REASON_TEXT.get(last.stop_reason or "", last.stop_reason or "—")
        return _("After {count} tokens the generation stopped: {reason}. A reply ends when "
                 "the model draws its end-of-turn token, at the length limit (Max tokens), at "
                 "a stop string, or when you press Stop (Esc).").format(
            count=number(len(steps)), reason=reason)
    if key == "temperature":
        unsure = max(steps, key=lambda s: s.entropy)
        return _("Greedy decoding always takes the top token and tends to repeat itself; "
                 "sampling draws by probability. Step {index} was the least certain "
                 "({entropy} nats of entropy, {token} {prob}): move the temperature slider "
                 "and the preview recomputes its distribution from the stored logits.").format(
            index=unsure.index + 1, entropy=f"{unsure.entropy:.2f}", token=_q(unsure.label),
            prob=percent(unsure.prob))
    if key == "branch":
        runner_up = next((c for c in first.candidates if c.token_id != first.token_id), None)
        other = _q(runner_up.label) if runner_up is not None else "—"
        return _("Click a candidate (or right-click it) to continue the reply from there with "
                 "another token, say {other} instead of {token} at step 1. An early "
                 "different choice changes everything after it: errors accumulate, because "
                 "each step builds on all the ones before.").format(
            other=other, token=_q(first.label))
    raise KeyError(key)


def tour_stops(run: TourRun) -> list[TourStop]:
    """Every stop, its text filled from ``run`` (stops whose data has not arrived: "")."""
    return [TourStop(key, anchor, phase, _(title), _text(key, run))
            for key, anchor, phase, title in STOPS]


def stop_at(index: int, run: TourRun) -> TourStop:
    key, anchor, phase, title = STOPS[index]
    return TourStop(key, anchor, phase, _(title), _text(key, run))
