"""Trace export: JSON round-trips exactly; CSV has one row per step with its top candidates."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.export import (
    csv_columns,
    make_trace,
    trace_to_csv,
    write_trace_csv,
    write_trace_json,
)
from tokenwise.core.trace.json import trace_from_json
from tokenwise.core.trace.records import STOP_MAX_TOKENS, Candidate, Stage, Step


def steps() -> list[Step]:
    out = []
    pieces = [b" Hello", b"\xe5\xb7", b"\xa5", b",\n"]
    for i, piece in enumerate(pieces):
        cands = tuple(Candidate(100 + i * 10 + j, piece if j == 0 else f" w{j}".encode(),
                                8.0 - j, 0.5 / (j + 1)) for j in range(3))
        out.append(Step(
            index=i, token_id=100 + i * 10, piece=piece, text=["Hello", "", "工", ",\n"][i],
            prob=0.5, rank=1, logit=8.0, log_z=8.7, entropy=1.25 + i, candidates=cands,
            stages=(Stage("penalties", "penalties off", 49152, (100 + i * 10,), (0.5,)),),
            final_prob=0.75, stop_reason=STOP_MAX_TOKENS if i == 3 else None, elapsed_ms=3.5,
        ))
    return out


def test_make_trace_derives_text_and_stop() -> None:
    trace = make_trace(steps(), SamplerSettings(temperature=0.3), model="m", prompt_tokens=9)
    assert trace.text == "Hello工,\n"
    assert trace.stop_reason == STOP_MAX_TOKENS
    assert trace.settings["temperature"] == 0.3
    assert trace.prompt_tokens == 9


def test_json_round_trip(tmp_path: Path) -> None:
    trace = make_trace(steps(), SamplerSettings())
    path = write_trace_json(trace, tmp_path / "t.json")
    back = trace_from_json(path.read_text(encoding="utf-8"))
    assert back.steps == trace.steps
    assert back.text == trace.text


def test_csv_rows_hold_each_steps_numbers(tmp_path: Path) -> None:
    original = steps()
    trace = make_trace(original)
    rows = list(csv.DictReader(io.StringIO(trace_to_csv(trace, top=2))))
    assert list(rows[0].keys()) == csv_columns(2)
    assert len(rows) == len(original)
    for row, step in zip(rows, original, strict=True):
        assert int(row["token_id"]) == step.token_id
        assert row["piece"] == step.label
        assert float(row["prob"]) == step.prob
        assert float(row["entropy"]) == step.entropy
        assert int(row["cand2_id"]) == step.candidates[1].token_id
        assert float(row["cand2_prob"]) == step.candidates[1].prob
    assert rows[1]["piece"] == "<0xE5><0xB7>"
    assert rows[3]["stop_reason"] == STOP_MAX_TOKENS
    path = write_trace_csv(trace, tmp_path / "t.csv", top=2)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read UTF-8
    assert "工" in path.read_text(encoding="utf-8-sig")
