"""`tokenwise trace --server URL`: the same step lines, from a model on an inference server.

The API key comes from the environment variable named by --api-key-env, else from the
secrets store for a server saved in the app with that address; never from the command line
(it would show in the process list and the shell history). Fields the server does not
report are null, not invented.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

from tokenwise.core.errors import TokenwiseError


def _null_unknown(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        out = {k: _null_unknown(v) for k, v in value.items()}
        if out.get("token_id") == -1:
            out["token_id"] = None
        if out.get("rank") == 0 and "candidates" in out:
            out["rank"] = None
        return out
    if isinstance(value, list):
        return [_null_unknown(v) for v in value]
    return value


def api_key(args: argparse.Namespace) -> str | None:
    """The key from --api-key-env's variable, else the saved server's, else none."""
    if args.api_key_env:
        value = os.environ.get(args.api_key_env)
        if not value:
            raise TokenwiseError(f"The environment variable {args.api_key_env} is not set.")
        return value
    from tokenwise.core.remote.client import normalise_url
    from tokenwise.core.remote.servers import load_servers

    url = normalise_url(args.server)
    saved = next((s for s in load_servers() if s.base_url == url), None)
    return saved.api_key() if saved is not None else None


def cmd_trace_remote(args: argparse.Namespace, settings: Any) -> int:
    from tokenwise.core.interface import ChatMessage, GenerationRequest
    from tokenwise.core.remote import connect
    from tokenwise.core.trace.json import step_to_dict
    from tokenwise.core.trace.records import STOP_REASON_TEXT

    if args.raw:
        raise TokenwiseError("--raw is not available with --server: the server applies its "
                             "chat template.")
    model = "" if args.model == "starter" else args.model
    with connect(args.server, model, api_key=api_key(args)) as engine:
        messages = ([ChatMessage("system", args.system)] if args.system else [])
        messages.append(ChatMessage("user", args.prompt))
        rendered = engine.render_chat(messages, reserve=min(settings.max_tokens, 1024))
        if rendered.note and not args.json:
            print(f"note: {rendered.note}", file=sys.stderr)
        if not args.json:
            print(f"probabilities: {engine.probability_label}", file=sys.stderr)
        stream = engine.generate(GenerationRequest(
            rendered.token_ids, settings, stop_strings=tuple(args.stop or ()),
            top_k_display=max(args.show, 1)))
        if not args.json:
            print(f"{'step':>4}  {'token':<18} {'prob':>7} {'rank':>4}  top candidates")
        for step in stream:
            if args.json:
                data = step_to_dict(step)
                data["candidates"] = data["candidates"][: args.show]
                print(json.dumps(_null_unknown(data), ensure_ascii=False), flush=True)
            else:
                alts = "  ".join(f"{c.label!r} {c.prob:.0%}" for c in step.candidates[:args.show])
                prob = f"{step.prob:>7.2%}" if math.isfinite(step.prob) else f"{'?':>7}"
                rank = f"{step.rank:>4}" if step.rank else f"{'>' + str(args.show):>4}"
                print(f"{step.index:>4}  {step.label!r:<18} {prob} {rank}  {alts}", flush=True)
        result = stream.result
        assert result is not None
        final = {
            "stop_reason": result.stop_reason, "text": result.text,
            "n_tokens": result.n_tokens, "prompt_tokens": result.prompt_tokens or None,
            "tokens_per_second": round(result.tokens_per_second, 2),
            "first_token_s": round(result.first_token_s, 4),
            "seed": settings.seed, "backend": engine.info.backend,
            "vocabulary_pass": None, "model": engine.model,
            "probabilities": engine.probability_label,
            "sampler_honoured": result.details.get("honoured"),
        }
        if "error" in result.details:
            final["error"] = result.details["error"]
        if args.json:
            print(json.dumps(final, ensure_ascii=False))
        else:
            print(f"\n{result.text}\n")
            print(f"stopped: {STOP_REASON_TEXT.get(result.stop_reason, result.stop_reason)}; "
                  f"{result.n_tokens} tokens at {result.tokens_per_second:.1f} tok/s "
                  f"({engine.info.backend})")
    return 0
