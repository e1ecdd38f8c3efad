"""One plain-English paragraph that explains how one token was chosen.

The inspector shows it above the stage bars, so a reader who does not know what top-p
means still learns what happened at this step. It works on stored stages (what the engine
did) and on preview stages (what the sliders would do), so it takes the stages explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tokenwise.core.formatting import percent
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.sampling.stages import (
    STAGE_GREEDY,
    STAGE_MIN_P,
    STAGE_PENALTIES,
    STAGE_TEMPERATURE,
    STAGE_TOP_K,
    STAGE_TOP_P,
)
from tokenwise.core.trace.records import STOP_REASON_TEXT, Stage, Step

_TRUNCATION = (STAGE_TOP_K, STAGE_TOP_P, STAGE_MIN_P)


def quoted(label: str) -> str:
    """A token label in quotes, so a leading space stays visible: ' the'."""
    return f"'{label}'"


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _rank_in(stage: Stage, token_id: int) -> int | None:
    try:
        return stage.ids.index(token_id) + 1
    except ValueError:
        return None


def explain_step(
    step: Step,
    settings: SamplerSettings,
    stages: Sequence[Stage] | None = None,
    *,
    vocab_size: int = 0,
    preview: bool = False,
) -> str:
    """Explain one step in a few sentences.

    ``stages`` defaults to the step's stored stages; pass preview stages (and
    ``preview=True``) to explain what the given settings would do to the same logits.
    """
    stages = tuple(step.stages if stages is None else stages)
    by_name = {s.name: s for s in stages}
    label = quoted(step.label)
    parts: list[str] = []

    lead = step.candidates[0] if step.candidates else None
    opening = f"The model gave {label} {percent(step.prob)}"
    if not math.isfinite(step.prob):  # a server that sent no probabilities
        opening = f"The server sent {label} without its probability."
    elif step.rank == 1 or lead is None:
        opening += " (rank 1)." if lead is not None else "."
    elif step.rank == 0:  # a server's top-N that leaves out the drawn token
        opening += (f" (outside the {len(step.candidates)} candidates the server reported; "
                    f"{quoted(lead.label)} led with {percent(lead.prob)}).")
    else:
        opening += f" (rank {step.rank}; {quoted(lead.label)} led with {percent(lead.prob)})."
    parts.append(("Preview with the sliders' settings: " if preview else "") + opening)
    if not stages and not preview and not math.isfinite(step.log_z):
        parts.append("How each sampler stage shaped it is not known: a server reports one "
                     "distribution per token.")
        return _with_stop(" ".join(parts), step, preview)

    penalties = by_name.get(STAGE_PENALTIES)
    if penalties is not None and settings.penalties_active:
        after = penalties.prob_of(step.token_id)
        if after and abs(after - step.prob) >= 0.005:
            verb = "lowered" if after < step.prob else "raised"
            parts.append(f"Repetition penalties {verb} it to {percent(after)}.")

    if STAGE_GREEDY in by_name or settings.greedy:
        if preview:
            top = by_name.get(STAGE_GREEDY)
            winner = top.ids[0] if top is not None and top.ids else None
            who = label if winner in (None, step.token_id) else "another token"
            parts.append(f"Greedy decoding would take the most probable token: {who}.")
        elif step.forced:
            parts.append(f"{label} was forced by a branch; greedy decoding would have taken "
                         "the most probable token.")
        else:
            parts.append(f"Greedy decoding takes the most probable token, so {label} was chosen.")
        return _with_stop(" ".join(parts), step, preview)

    active = [by_name[n].label for n in _TRUNCATION if n in by_name and not
              by_name[n].label.endswith(" off")]
    last_cut = next((by_name[n] for n in reversed(_TRUNCATION) if n in by_name), None)
    survivors = last_cut.survivors if last_cut is not None else 0
    verb_remain = "would remain" if preview else "remained"
    if active and survivors == 1:
        sentence = f"After {_join(active)}, only one candidate {verb_remain}"
    elif active:
        sentence = f"After {_join(active)}, {survivors:,} candidates {verb_remain}"
    else:
        everyone = f"all {vocab_size:,} tokens" if vocab_size else "every token"
        sentence = f"With no truncation, {everyone} stayed in play"

    t = settings.temperature
    if survivors == 1 and active:
        parts.append(sentence + ", so temperature had nothing to choose between;")
    elif abs(t - 1.0) < 1e-9:
        parts.append(sentence + f"; temperature {t:g} left them as they were;")
    else:
        shaped = "sharpened" if t < 1.0 else "flattened"
        parts.append(sentence + f"; temperature {t:g} {shaped} them;")

    final = by_name.get(STAGE_TEMPERATURE) or (stages[-1] if stages else None)
    final_prob = final.prob_of(step.token_id) if final is not None else step.final_prob
    final_rank = _rank_in(final, step.token_id) if final is not None else None
    where = f"rank {final_rank}, {percent(final_prob)}" if final_rank else "it had been cut"
    stored_ids = {c.token_id for c in step.candidates}
    if preview and step.token_id not in stored_ids:
        parts[-1] += (f" {label} lies outside the {len(stored_ids)} stored candidates, so the "
                      "preview cannot place it.")
    elif preview:
        if final_rank:
            parts[-1] += f" {label} would have {percent(final_prob)} (rank {final_rank})."
        else:
            parts[-1] += f" {label} would have been cut, so it could not be drawn."
    elif step.forced:
        parts[-1] += f" {label} was forced by a branch ({where})."
    else:
        parts[-1] += f" {label} was drawn ({where})."
    return _with_stop(" ".join(parts), step, preview)


def _with_stop(text: str, step: Step, preview: bool) -> str:
    if step.stop_reason and not preview:
        reason = STOP_REASON_TEXT.get(step.stop_reason, step.stop_reason)
        return f"{text} Generation stopped here: {reason}."
    return text
