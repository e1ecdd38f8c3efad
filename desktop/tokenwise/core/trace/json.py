"""The JSON form of steps and traces: export and import round-trip exactly."""

from __future__ import annotations

import json
from typing import Any

from tokenwise.core.trace.records import Candidate, Stage, Step, Trace


def step_to_dict(step: Step) -> dict[str, Any]:
    """The JSON object of one step (the `tokenwise trace --json` line)."""
    return {
        "step": step.index,
        "token_id": step.token_id,
        "piece": step.label,
        "piece_bytes": step.piece.hex(),
        "text": step.text,
        "prob": step.prob,
        "rank": step.rank,
        "logit": step.logit,
        "log_z": step.log_z,
        "entropy": step.entropy,
        "final_prob": step.final_prob,
        "forced": step.forced,
        "stop_reason": step.stop_reason,
        "elapsed_ms": step.elapsed_ms,
        "candidates": [
            {
                "token_id": c.token_id,
                "piece": c.label,
                "piece_bytes": c.piece.hex(),
                "logit": c.logit,
                "prob": c.prob,
            }
            for c in step.candidates
        ],
        "stages": [
            {
                "name": s.name,
                "label": s.label,
                "survivors": s.survivors,
                "candidates": [
                    {"token_id": i, "prob": p} for i, p in zip(s.ids, s.probs, strict=True)
                ],
            }
            for s in step.stages
        ],
    }


def step_from_dict(data: dict[str, Any]) -> Step:
    return Step(
        index=int(data["step"]),
        token_id=int(data["token_id"]),
        piece=bytes.fromhex(data["piece_bytes"]),
        text=data["text"],
        prob=float(data["prob"]),
        rank=int(data["rank"]),
        logit=float(data["logit"]),
        log_z=float(data["log_z"]),
        entropy=float(data["entropy"]),
        final_prob=float(data.get("final_prob", 1.0)),
        forced=bool(data.get("forced", False)),
        stop_reason=data.get("stop_reason"),
        elapsed_ms=float(data.get("elapsed_ms", 0.0)),
        candidates=tuple(
            Candidate(
                int(c["token_id"]), bytes.fromhex(c["piece_bytes"]),
                float(c["logit"]), float(c["prob"]),
            )
            for c in data["candidates"]
        ),
        stages=tuple(
            Stage(
                name=s["name"],
                label=s.get("label", s["name"]),
                survivors=int(s["survivors"]),
                ids=tuple(int(c["token_id"]) for c in s["candidates"]),
                probs=tuple(float(c["prob"]) for c in s["candidates"]),
            )
            for s in data["stages"]
        ),
    )


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    return {
        "format": "tokenwise-trace",
        "version": 1,
        "model": trace.model,
        "settings": trace.settings,
        "prompt_tokens": trace.prompt_tokens,
        "stop_reason": trace.stop_reason,
        "text": trace.text,
        "tokens_per_second": trace.tokens_per_second,
        "first_token_s": trace.first_token_s,
        "steps": [step_to_dict(s) for s in trace.steps],
    }


def trace_from_dict(data: dict[str, Any]) -> Trace:
    if data.get("format") != "tokenwise-trace":
        raise ValueError("not a Tokenwise trace (missing format: tokenwise-trace)")
    if int(data.get("version", 0)) > 1:
        raise ValueError(f"trace version {data['version']} is newer than this Tokenwise reads")
    return Trace(
        steps=[step_from_dict(s) for s in data["steps"]],
        model=data.get("model", ""),
        settings=dict(data.get("settings", {})),
        prompt_tokens=int(data.get("prompt_tokens", 0)),
        stop_reason=data.get("stop_reason"),
        text=data.get("text", ""),
        tokens_per_second=float(data.get("tokens_per_second", 0.0)),
        first_token_s=float(data.get("first_token_s", 0.0)),
    )


def trace_to_json(trace: Trace) -> str:
    return json.dumps(trace_to_dict(trace), ensure_ascii=False)


def trace_from_json(text: str) -> Trace:
    return trace_from_dict(json.loads(text))
