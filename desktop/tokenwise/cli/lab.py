"""`tokenwise compare` and `tokenwise score`: the decoding strategies lab on the command line.

  tokenwise compare --prompt TEXT --strategies greedy,beam:4,top-p:0.9 [--json]
  tokenwise score (--text TEXT | --file F) [--json]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tokenwise.core.errors import TokenwiseError


def _engine(args: argparse.Namespace) -> Any:
    from tokenwise.cli import _model_path
    from tokenwise.core.engine.local import Engine

    return Engine(_model_path(args.model), n_ctx=args.ctx, n_gpu_layers=args.gpu_layers)


def cmd_compare(args: argparse.Namespace) -> int:
    from tokenwise.core.interface import ChatMessage
    from tokenwise.core.lab.compare import run_strategy
    from tokenwise.core.lab.loops import LOOP_RULE
    from tokenwise.core.lab.strategies import parse_strategies

    if not args.prompt.strip():
        raise TokenwiseError("The prompt is empty: write something for the model to answer.")
    if args.max_tokens < 1:
        raise TokenwiseError("--max-tokens must be at least 1.")
    strategies = parse_strategies(args.strategies, max_tokens=args.max_tokens, seed=args.seed)
    with _engine(args) as engine:
        if args.raw:
            ids = engine.token_ids(args.prompt, add_special=True, parse_special=True)
        else:
            ids = engine.render_chat([ChatMessage("user", args.prompt)],
                                     reserve=args.max_tokens).token_ids
        for strategy in strategies:
            result = run_strategy(engine, ids, strategy)
            if args.json:
                print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)
                continue
            loops = result.loops
            print(f"== {result.strategy}  ({len(result.token_ids)} tokens, "
                  f"{result.seconds:.2f} s, stopped: {result.stop_reason}"
                  + (f", seed {result.seed}" if result.seed is not None else "") + ")")
            print(result.text.strip())
            print(f"   total log-probability {result.total_logprob:.3f} nats, perplexity "
                  f"{result.perplexity:.3f}"
                  + (f", {len(loops)} repetition loop(s)" if loops else ""), flush=True)
            if args.verbose_tokens:
                for tid, lp in zip(result.token_ids, result.logprobs, strict=True):
                    print(f"   {tid:>7} {lp:>9.4f}")
            print()
        if not args.json:
            print(f"Totals and perplexities use the model's own distribution (temperature 1, "
                  f"nothing cut, no penalties). {LOOP_RULE}")
    return 0


def add_parser(sub: Any) -> None:
    from tokenwise.cli import STARTER
    from tokenwise.core.lab.strategies import DEFAULT_STRATEGIES

    p = sub.add_parser("compare", help="one prompt written by several decoding strategies")
    _model_options(p, STARTER)
    p.add_argument("--prompt", "-p", required=True)
    p.add_argument("--strategies", "-s", default=DEFAULT_STRATEGIES,
                   help="comma-separated: greedy, beam:W[:ALPHA], temp:T, top-k:K, top-p:P, "
                        "min-p:M (sampling parts combine with '+'); default: "
                        f"{DEFAULT_STRATEGIES}")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--seed", type=int, default=None, help="seed of the sampling strategies")
    p.add_argument("--raw", action="store_true", help="no chat template: continue the text")
    p.add_argument("--tokens", dest="verbose_tokens", action="store_true",
                   help="also list every token's log-probability")
    p.add_argument("--json", action="store_true", help="one JSON object per strategy")
    p.set_defaults(func=cmd_compare)
    add_score_parser(sub)


def cmd_score(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.file is not None:
        try:
            text = Path(args.file).read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TokenwiseError(
                f"{args.file} is not UTF-8 text (byte {exc.start}: 0x{exc.object[exc.start]:02X})"
                "; save it as UTF-8 and try again.") from None
    else:
        text = args.text
    if not text.strip():
        raise TokenwiseError("The text is empty: there is nothing to score.")
    with _engine(args) as engine:
        ids, start = engine.text_for_scoring(text)
        result = engine.score(ids, start, top_k=args.show)
        if result.unscored_first and not args.json:
            print("note: this model uses no beginning-of-text token, so the first token has "
                  "nothing before it and is not scored.")
        for token in result.tokens:
            if args.json:
                print(json.dumps(token.to_dict(), ensure_ascii=False))
            else:
                alts = "  ".join(f"{c.label!r} {c.prob:.0%}" for c in token.candidates[:3])
                print(f"{token.index:>5}  {token.label!r:<18} {token.prob:>8.3%} "
                      f"{token.rank:>6} {token.entropy:>5.2f}  {alts}")
        summary = result.summary()
        if args.json:
            print(json.dumps(summary))
        else:
            print(f"\n{result.n_tokens} tokens scored in one pass in {result.seconds:.3f} s; "
                  f"perplexity {result.perplexity:.3f} "
                  f"(total log-probability {result.total_logprob:.3f} nats)")
    return 0


def add_score_parser(sub: Any) -> None:
    from tokenwise.cli import STARTER

    p = sub.add_parser("score", help="P(token | everything before) for every token of a text")
    _model_options(p, STARTER)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", "-t", help="the text to score")
    source.add_argument("--file", "-f", help="a UTF-8 text file to score")
    p.add_argument("--show", type=int, default=8, help="alternatives kept per token")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per token, then a summary object")
    p.set_defaults(func=cmd_score)


def _model_options(p: Any, starter: str) -> None:
    """The model and how it is loaded, as both lab commands take them."""
    p.add_argument("--model", "-m", default=starter,
                   help="a GGUF path, an installed model's name, or 'starter' (default)")
    p.add_argument("--ctx", type=int, default=4096, help="context length")
    p.add_argument("--gpu-layers", type=int, default=-1, help="layers to offload (-1: all)")
