"""The numbers behind the stage view, as plain data (no Qt: testable and cheap to rebuild).

A StageTable has one row per candidate and one column per distribution: the raw one and
each sampler stage in order. Rows follow the order the truncation stages see (after the
penalties), so every stage's survivors are a prefix and the top-p cut is one line.
What-if previews come from :func:`preview_stages`, which re-runs the stages on the stored
raw top-K logits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QCoreApplication

from tokenwise.core.sampling.pipeline import approximation_note, run_stages
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.sampling.stages import (
    STAGE_MIN_P,
    STAGE_PENALTIES,
    STAGE_RAW,
    STAGE_TEMPERATURE,
    STAGE_TITLES,
    STAGE_TOP_K,
    STAGE_TOP_P,
)
from tokenwise.core.trace.records import Stage, Step, piece_label

RAW = STAGE_RAW
UNKNOWN = math.nan  # a cell whose token was not among the stage's stored candidates


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # "raw" or a stage name
    title: str  # short header: "top-p"
    label: str  # with its setting: "top-p 0.9"
    survivors: int  # tokens still in play; 0 = unknown


@dataclass(frozen=True, slots=True)
class Row:
    token_id: int
    label: str
    raw_rank: int  # 1-based rank in the raw distribution; 0 = outside the stored top-K
    probs: tuple[float | None, ...]  # one per column; None: cut; NaN: not stored (small)
    chosen: bool
    cumulative: float | None = None  # mass of the top-p stage's input up to this row


@dataclass(frozen=True, slots=True)
class StageTable:
    step_index: int
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    chosen_id: int
    other_mass: float  # raw probability of every token outside the stored candidates
    top_p: float | None  # the threshold when top-p is on
    top_p_keep: int | None  # rows kept by top-p (the cut line goes after this many rows)
    preview: bool = False
    note: str | None = None

    def column_index(self, name: str) -> int | None:
        for i, c in enumerate(self.columns):
            if c.name == name:
                return i
        return None

    def row_of(self, token_id: int) -> Row | None:
        return next((r for r in self.rows if r.token_id == token_id), None)


EMPTY_TABLE = StageTable(-1, (), (), -1, 0.0, None, None)


def build_table(
    step: Step,
    stages: Sequence[Stage] | None = None,
    *,
    limit: int = 32,
    vocab_size: int = 0,
    top_p: float | None = None,
    preview: bool = False,
    note: str | None = None,
) -> StageTable:
    """Rows for the first ``limit`` candidates the truncation stages saw, plus the chosen
    token where it ranks lower; cells hold each stage's stored probability."""
    stages = tuple(step.stages if stages is None else stages)
    raw = {c.token_id: (rank, c) for rank, c in enumerate(step.candidates, start=1)}
    # rows: the first candidates in the order the truncation stages see them (after the
    # penalties; the raw order when there are none), plus the chosen token
    order: list[int] = []
    first = stages[0] if stages and stages[0].name == STAGE_PENALTIES else None
    if first is not None:
        order = list(first.ids)
    seen = set(order)
    order += [c.token_id for c in step.candidates if c.token_id not in seen]
    order = order[:max(1, limit)]
    if step.token_id not in order:
        order.append(step.token_id)
    pieces = {c.token_id: c.piece for c in step.candidates}
    pieces.setdefault(step.token_id, step.piece)

    stage_maps = [dict(zip(s.ids, s.probs, strict=False)) for s in stages]
    columns = [Column(RAW, STAGE_TITLES[RAW], RAW, vocab_size)]
    columns += [Column(s.name, STAGE_TITLES.get(s.name, s.name), s.label, s.survivors)
                for s in stages]

    top_p_input = None
    keep = None
    if top_p is not None and top_p < 1.0:
        names = [s.name for s in stages]
        if STAGE_TOP_P in names:
            idx = names.index(STAGE_TOP_P)
            top_p_input = stage_maps[idx - 1] if idx > 0 else None
            keep = stages[idx].survivors
    cum = 0.0
    rows = []
    for token_id in order:
        rank, cand = raw.get(token_id, (0, None))
        raw_prob = cand.prob if cand is not None else step.prob if token_id == step.token_id \
            else UNKNOWN  # pushed into view by the penalties from beyond the stored raw top-K
        cells: list[float | None] = [raw_prob]
        for st, m in zip(stages, stage_maps, strict=True):
            prob = m.get(token_id)
            if prob is None and st.survivors > len(st.ids):
                prob = UNKNOWN  # may have survived, but lies beyond the stored candidates
            cells.append(prob)
        cumulative = None
        if top_p_input is not None:
            cum += top_p_input.get(token_id, 0.0)
            cumulative = cum if token_id in top_p_input else None
        if token_id == step.token_id and rank == 0:
            rank = step.rank
        label = piece_label(pieces[token_id]) if token_id in pieces else f"⟨id {token_id}⟩"
        rows.append(Row(token_id, label, rank, tuple(cells),
                        token_id == step.token_id, cumulative))
    return StageTable(step.index, tuple(columns), tuple(rows), step.token_id, step.other_mass,
                      top_p if keep is not None else None, keep, preview, note)


def history_before(steps: Sequence[Step], index: int, prompt_ids: Sequence[int] = ()) -> list[int]:
    """The tokens the penalties look back on at step ``index``."""
    return [*prompt_ids, *(s.token_id for s in steps[:index])]


PENALTY_FIELDS = ("repeat_penalty", "repeat_last_n", "presence_penalty", "frequency_penalty")
_PIPELINE = (STAGE_PENALTIES, STAGE_TOP_K, STAGE_TOP_P, STAGE_MIN_P, STAGE_TEMPERATURE)


def first_changed_stage(old: SamplerSettings, new: SamplerSettings) -> str | None:
    """The first stage whose result differs between two settings (None: none differs)."""
    if old.greedy != new.greedy:
        return STAGE_PENALTIES if any(getattr(old, f) != getattr(new, f)
                                      for f in PENALTY_FIELDS) else STAGE_TOP_K
    if any(getattr(old, f) != getattr(new, f) for f in PENALTY_FIELDS):
        return STAGE_PENALTIES
    if new.greedy:
        return None
    for name, attr in ((STAGE_TOP_K, "top_k"), (STAGE_TOP_P, "top_p"),
                       (STAGE_MIN_P, "min_p"), (STAGE_TEMPERATURE, "temperature")):
        if getattr(old, attr) != getattr(new, attr):
            return name
    return None


def preview_stages(
    step: Step,
    settings: SamplerSettings,
    history: Sequence[int] = (),
    *,
    vocab_size: int = 0,
    stored_settings: SamplerSettings | None = None,
) -> tuple[tuple[Stage, ...], str | None]:
    """The stages ``settings`` would give on this step's stored numbers, and an error note.

    Stages whose settings did not change are taken from the trace as they are; the rest are
    re-run from the last unchanged stage's candidates (exact when that stage's survivors
    were all stored), or from the raw top-K logits when the penalties change (exact as long
    as every survivor of top-k lies within the stored top-K).
    """
    stored = tuple(step.stages)
    names = [st.name for st in stored]
    changed = first_changed_stage(stored_settings, settings) \
        if stored_settings is not None and stored else STAGE_PENALTIES
    if changed is None:
        return stored, None
    if changed != STAGE_PENALTIES and changed in _PIPELINE and names[:1] == [STAGE_PENALTIES]:
        start = _PIPELINE.index(changed)
        prev_name = _PIPELINE[start - 1]
        if prev_name in names and (settings.greedy or names[-1] != "greedy"):
            return _rerun_from(step, stored, names.index(prev_name), changed, settings,
                               vocab_size)
    return _rerun_all(step, settings, history, vocab_size)


def _rerun_from(step: Step, stored: tuple[Stage, ...], prev_index: int, changed: str,
                settings: SamplerSettings, vocab_size: int) -> tuple[tuple[Stage, ...], str | None]:
    prev = stored[prev_index]
    kept = stored[: prev_index + 1]
    labels = settings.stage_labels()
    ids = np.asarray(prev.ids, dtype=np.int32)
    probs = np.asarray(prev.probs, dtype=np.float64)
    x = np.log(np.maximum(probs, 1e-300)).astype(np.float32)  # logits up to a constant
    complete = prev.survivors <= len(prev.ids)
    if settings.greedy:
        greedy = Stage("greedy", labels["greedy"], 1, (int(ids[0]),), (1.0,))
        return (*kept, greedy), None
    # switch off the stages before `changed`; they are already applied to these candidates
    offs: dict[str, dict[str, float]] = {
        STAGE_TOP_K: {}, STAGE_TOP_P: {"top_k": 0}, STAGE_MIN_P: {"top_k": 0, "top_p": 1.0},
        STAGE_TEMPERATURE: {"top_k": 0, "top_p": 1.0, "min_p": 0.0},
    }
    off = offs[changed]
    partial = settings.with_(repeat_penalty=1.0, presence_penalty=0.0, frequency_penalty=0.0,
                             **off)
    results = [r for r in run_stages(ids, x, partial) if r.name != STAGE_PENALTIES]
    order = _PIPELINE.index(changed)
    results = [r for r in results if _PIPELINE.index(r.name) >= order]
    out = list(kept)
    for r in results:
        survivors = r.survivors
        rprobs = r.probs
        if r.name == STAGE_TOP_K and not complete:
            # top-k counts exactly even where not every candidate was stored
            survivors = min(settings.top_k, prev.survivors) if settings.top_k else prev.survivors
            if survivors > len(prev.ids):
                # keep the input's scale; the tail beyond the stored ones stays unknown
                rprobs = probs[: r.ids.size] / max(1e-12, _tail_mass(probs, survivors))
        out.append(Stage(r.name, labels[r.name], survivors, tuple(int(i) for i in r.ids),
                         tuple(float(p) for p in rprobs)))
    note = None
    top_k_stage = next((st for st in out if st.name == STAGE_TOP_K), None)
    incomplete = not complete and (
        changed != STAGE_TOP_K or (top_k_stage is not None and
                                   top_k_stage.survivors > len(prev.ids)))
    if incomplete:
        cut = next(st for st in out if st.name in (prev.name, STAGE_TOP_K)
                   and st.survivors > len(st.ids))
        note = QCoreApplication.translate(
            "StageTable", "Approximate: the {stage} stage keeps {kept} tokens but only its top "
            "{stored} were stored, so the later stages are computed on those alone.").format(
                stage=STAGE_TITLES.get(cut.name, cut.name), kept=f"{cut.survivors:,}",
                stored=len(cut.ids))
    return tuple(out), note


def _tail_mass(probs: np.ndarray, survivors: int) -> float:
    """Mass of the first ``survivors`` candidates when only the first len(probs) are known:
    the unknown ones are at most as probable as the last known one."""
    known = float(probs.sum())
    return min(1.0, known + (survivors - probs.size) * float(probs[-1]) * 0.5)


def _rerun_all(step: Step, settings: SamplerSettings, history: Sequence[int],
               vocab_size: int) -> tuple[tuple[Stage, ...], str | None]:
    """Re-run every stage from the stored raw top-K logits.

    Stages that still span the whole vocabulary (penalties, top-k off) are renormalised
    with the stored log-normaliser so they stay comparable with the raw column.
    """
    ids = np.fromiter((c.token_id for c in step.candidates), dtype=np.int32,
                      count=len(step.candidates))
    logits = np.fromiter((c.logit for c in step.candidates), dtype=np.float32,
                         count=len(step.candidates))
    log_z = step.log_z
    reported = bool(logits.size) and bool(np.isnan(logits).any())
    if reported:  # a server's top-N: log-probabilities are the logits up to a constant
        probs_in = np.fromiter((c.prob for c in step.candidates), dtype=np.float64,
                               count=len(step.candidates))
        logits = np.log(np.maximum(probs_in, 1e-300)).astype(np.float32)
        log_z = 0.0
    results = run_stages(ids, logits, settings, history)
    stored = ids.size
    full_vocab = vocab_size > stored
    rest = _rest_mass(logits, log_z)  # mass outside the stored candidates
    stages = []
    for r in results:
        probs = r.probs
        survivors = r.survivors
        whole = r.name == STAGE_PENALTIES or (
            r.name == STAGE_TOP_K and (settings.top_k == 0 or settings.top_k > stored))
        if whole and full_vocab and r.logits.size:
            z = np.exp(r.logits.astype(np.float64) - log_z)
            probs = z / (z.sum() + rest)
            survivors = vocab_size if r.name == STAGE_PENALTIES or settings.top_k == 0 \
                else min(settings.top_k, vocab_size)
        stages.append(Stage(r.name, r.label, survivors, tuple(int(i) for i in r.ids),
                            tuple(float(p) for p in probs)))
    note = approximation_note(settings, stored, vocab_size, 1.0 - step.other_mass) \
        if vocab_size else None
    if reported:
        note = QCoreApplication.translate(
            "StageTable", "Approximate: the server reported only its top {0} candidates "
            "(probabilities as it reports them); the stages are computed over those alone."
        ).format(stored)
    return tuple(stages), note


def _rest_mass(logits: np.ndarray, log_z: float) -> float:
    if not logits.size or not math.isfinite(log_z):
        return 0.0
    stored = float(np.exp(logits.astype(np.float64) - log_z).sum())
    return max(0.0, 1.0 - stored)
