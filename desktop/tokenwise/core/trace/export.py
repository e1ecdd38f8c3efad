"""Export a reply's trace as JSON (the full record) or CSV (one row per step, for a spreadsheet)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.json import trace_to_json
from tokenwise.core.trace.records import Step, Trace

CSV_BASE_COLUMNS = (
    "step", "token_id", "piece", "text", "prob", "rank", "final_prob", "logit", "entropy",
    "forced", "stop_reason", "elapsed_ms",
)


def make_trace(
    steps: Sequence[Step],
    settings: SamplerSettings | None = None,
    *,
    model: str = "",
    prompt_tokens: int = 0,
) -> Trace:
    """A Trace record for steps the inspector holds (text and stop reason derived from them)."""
    return Trace(
        steps=list(steps),
        model=model,
        settings=settings.to_dict() if settings is not None else {},
        prompt_tokens=prompt_tokens,
        stop_reason=steps[-1].stop_reason if steps else None,
        text="".join(s.text for s in steps),
    )


def csv_columns(top: int) -> list[str]:
    cols = list(CSV_BASE_COLUMNS)
    for i in range(1, top + 1):
        cols += [f"cand{i}_id", f"cand{i}_piece", f"cand{i}_prob"]
    return cols


def trace_to_csv(trace: Trace, top: int = 5) -> str:
    """One row per step with its ``top`` most probable raw candidates."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_columns(top))
    for s in trace.steps:
        row: list[object] = [
            s.index, s.token_id, s.label, s.text, f"{s.prob:.6g}", s.rank,
            f"{s.final_prob:.6g}", f"{s.logit:.6g}", f"{s.entropy:.6g}", int(s.forced),
            s.stop_reason or "", f"{s.elapsed_ms:.3f}",
        ]
        for i in range(top):
            if i < len(s.candidates):
                c = s.candidates[i]
                row += [c.token_id, c.label, f"{c.prob:.6g}"]
            else:
                row += ["", "", ""]
        writer.writerow(row)
    return out.getvalue()


def write_trace_json(trace: Trace, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(trace_to_json(trace), encoding="utf-8")
    return path


def write_trace_csv(trace: Trace, path: str | Path, top: int = 5) -> Path:
    path = Path(path)
    # utf-8-sig: spreadsheets then read Chinese pieces correctly
    path.write_text(trace_to_csv(trace, top), encoding="utf-8-sig", newline="")
    return path
