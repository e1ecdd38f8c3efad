"""A beam search's hypothesis as the Steps of a reply, so the chat can show it as a version
whose every token is inspectable: its raw candidates, probability, rank and entropy (and no
sampler stages: a beam search has none)."""

from __future__ import annotations

import codecs
import math

from tokenwise.core.trace.beams import BeamExtension, BeamHypothesis, BeamResult, BeamRow
from tokenwise.core.trace.records import STOP_EOG, STOP_MAX_TOKENS, Step


def hypothesis_steps(result: BeamResult, hypothesis: BeamHypothesis) -> list[Step]:
    """One Step per token of ``hypothesis``, from the rows its beams read."""
    lineage = result.lineage()
    path = [hypothesis.beam]
    while path[-1] in lineage and lineage[path[-1]] != 0:
        path.append(lineage[path[-1]])
    path.reverse()
    found: dict[int, tuple[BeamExtension, BeamRow]] = {}
    for step in result.steps:
        rows = {r.beam: r for r in step.rows}
        for ext in step.extensions:
            if ext.beam in path:
                found[ext.beam] = (ext, rows[ext.parent])
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    steps: list[Step] = []
    for i, beam in enumerate(path):
        ext, row = found[beam]
        ids = [c.token_id for c in row.candidates]
        rank = ids.index(ext.token_id) + 1 if ext.token_id in ids else len(ids) + 1
        last = i == len(path) - 1
        special = hypothesis.ended and last
        text = "" if special else decoder.decode(ext.piece, final=last)
        steps.append(Step(
            index=i, token_id=ext.token_id, piece=ext.piece, text=text,
            prob=math.exp(ext.logprob), rank=rank, logit=ext.logprob + row.log_z,
            log_z=row.log_z, entropy=row.entropy, candidates=row.candidates, stages=(),
            final_prob=1.0,
            stop_reason=(STOP_EOG if hypothesis.ended else STOP_MAX_TOKENS) if last else None))
    return steps
