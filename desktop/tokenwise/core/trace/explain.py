"""One plain paragraph (in the user's language) that explains how one token was chosen.

The inspector shows it above the stage bars, so a reader who does not know what top-p
means still learns what happened at this step. It works on stored stages (what the engine
did) and on preview stages (what the sliders would do), so it takes the stages explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tokenwise.core.formatting import number, percent
from tokenwise.core.i18n import _, gap, join_list
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.sampling.stages import (
    STAGE_GREEDY,
    STAGE_MIN_P,
    STAGE_PENALTIES,
    STAGE_TEMPERATURE,
    STAGE_TOP_K,
    STAGE_TOP_P,
    stage_label,
)
from tokenwise.core.trace.records import STOP_REASON_TEXT, Stage, Step

_TRUNCATION = (STAGE_TOP_K, STAGE_TOP_P, STAGE_MIN_P)


def quoted(label: str) -> str:
    """A token label in quotes, so a leading space stays visible: ' the'."""
    return f"'{label}'"


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
    if not math.isfinite(step.prob):  # a server that sent no probabilities
        opening = _("The server sent {token} without its probability.").format(token=label)
    elif lead is None:
        opening = _("The model gave {token} {prob}.").format(token=label, prob=percent(step.prob))
    elif step.rank == 1:
        opening = _("The model gave {token} {prob} (rank 1).").format(
            token=label, prob=percent(step.prob))
    elif step.rank == 0:  # a server's top-N that leaves out the drawn token
        opening = _("The model gave {token} {prob} (outside the {count} candidates the server "
                    "reported; {lead} led with {lead_prob}).").format(
                        token=label, prob=percent(step.prob), count=len(step.candidates),
                        lead=quoted(lead.label), lead_prob=percent(lead.prob))
    else:
        opening = _("The model gave {token} {prob} (rank {rank}; {lead} led with "
                    "{lead_prob}).").format(token=label, prob=percent(step.prob), rank=step.rank,
                                            lead=quoted(lead.label),
                                            lead_prob=percent(lead.prob))
    parts.append((_("Preview with the sliders' settings:") + " " if preview else "") + opening)
    if not stages and not preview and not math.isfinite(step.log_z):
        parts.append(_("How each sampler stage shaped it is not known: a server reports one "
                       "distribution per token."))
        return _with_stop(gap().join(parts), step, preview)

    penalties = by_name.get(STAGE_PENALTIES)
    if penalties is not None and settings.penalties_active:
        after = penalties.prob_of(step.token_id)
        if after and abs(after - step.prob) >= 0.005:
            text = (_("Repetition penalties lowered it to {prob}.") if after < step.prob
                    else _("Repetition penalties raised it to {prob}."))
            parts.append(text.format(prob=percent(after)))

    if STAGE_GREEDY in by_name or settings.greedy:
        if preview:
            top = by_name.get(STAGE_GREEDY)
            winner = top.ids[0] if top is not None and top.ids else None
            who = label if winner in (None, step.token_id) else _("another token")
            parts.append(_("Greedy decoding would take the most probable token: {token}.")
                         .format(token=who))
        elif step.forced:
            parts.append(_("{token} was forced by a branch; greedy decoding would have taken "
                           "the most probable token.").format(token=label))
        else:
            parts.append(_("Greedy decoding takes the most probable token, so {token} was "
                           "chosen.").format(token=label))
        return _with_stop(gap().join(parts), step, preview)

    active = [stage_label(n, by_name[n].label) for n in _TRUNCATION if n in by_name and not
              by_name[n].label.endswith(" off")]
    last_cut = next((by_name[n] for n in reversed(_TRUNCATION) if n in by_name), None)
    survivors = last_cut.survivors if last_cut is not None else 0
    if active and survivors == 1:
        sentence = (_("After {stages}, only one candidate would remain") if preview
                    else _("After {stages}, only one candidate remained")).format(
            stages=join_list(active))
    elif active:
        sentence = (_("After {stages}, {count} candidates would remain") if preview
                    else _("After {stages}, {count} candidates remained")).format(
            stages=join_list(active), count=number(survivors))
    elif vocab_size:
        sentence = _("With no truncation, all {count} tokens stayed in play").format(
            count=number(vocab_size))
    else:
        sentence = _("With no truncation, every token stayed in play")

    t = settings.temperature
    if survivors == 1 and active:
        parts.append(sentence + _(", so temperature had nothing to choose between;"))
    elif abs(t - 1.0) < 1e-9:
        parts.append(sentence + _("; temperature {t} left them as they were;").format(t=f"{t:g}"))
    else:
        shaped = (_("; temperature {t} sharpened them;") if t < 1.0
                  else _("; temperature {t} flattened them;"))
        parts.append(sentence + shaped.format(t=f"{t:g}"))

    final = by_name.get(STAGE_TEMPERATURE) or (stages[-1] if stages else None)
    final_prob = final.prob_of(step.token_id) if final is not None else step.final_prob
    final_rank = _rank_in(final, step.token_id) if final is not None else None
    where = (_("rank {rank}, {prob}").format(rank=final_rank, prob=percent(final_prob))
             if final_rank else _("it had been cut"))
    stored_ids = {c.token_id for c in step.candidates}
    if preview and step.token_id not in stored_ids:
        tail = _("{token} lies outside the {count} stored candidates, so the preview cannot "
                 "place it.").format(token=label, count=len(stored_ids))
    elif preview and final_rank:
        tail = _("{token} would have {prob} (rank {rank}).").format(
            token=label, prob=percent(final_prob), rank=final_rank)
    elif preview:
        tail = _("{token} would have been cut, so it could not be drawn.").format(token=label)
    elif step.forced:
        tail = _("{token} was forced by a branch ({where}).").format(token=label, where=where)
    else:
        tail = _("{token} was drawn ({where}).").format(token=label, where=where)
    parts[-1] += gap() + tail
    return _with_stop(gap().join(parts), step, preview)


def _with_stop(text: str, step: Step, preview: bool) -> str:
    if step.stop_reason and not preview:
        reason = STOP_REASON_TEXT.get(step.stop_reason, step.stop_reason)
        return text + gap() + _("Generation stopped here: {reason}.").format(reason=reason)
    return text
