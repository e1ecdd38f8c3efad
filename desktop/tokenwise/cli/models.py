"""`tokenwise models ...`: the model library on the command line.

The same core as the Models window: list, search the hub, download (resumable, verified),
import, remove, details. Errors end in one line on stderr and exit status 2, as everywhere
in the command line.
HF_ENDPOINT and HF_TOKEN are honoured, so a test server can drive it end to end.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from tokenwise.core.errors import TokenwiseError
from tokenwise.core.formatting import format_size
from tokenwise.core.models import download, hub
from tokenwise.core.models.fit import estimate_memory
from tokenwise.core.models.library import Library, model_record


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `models` command tree to a parent parser's subparsers."""
    models = subparsers.add_parser(
        "models", help="list, search, download, import and remove models",
        description="Manage the models Tokenwise can run.",
    )
    models.set_defaults(func=run, handler=run)
    sub = models.add_subparsers(dest="models_command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="installed models")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("catalogue", help="curated models ready to download")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("search", help="search the hub for GGUF repositories")
    p.add_argument("text", help="words to look for, e.g. 'qwen 0.5b'")
    p.add_argument("--limit", type=int, default=20)

    p = sub.add_parser("files", help="the GGUF files of a hub repository")
    p.add_argument("repo_id", help="owner/name")

    p = sub.add_parser("download", help="download a model (resumes an interrupted download)")
    p.add_argument("repo_id", help="owner/name on the hub, or a catalogue name")
    p.add_argument("filename", nargs="?", help="the .gguf file (or first part) to fetch")
    p.add_argument("--revision", default="main")

    p = sub.add_parser("import", help="add a local .gguf file")
    p.add_argument("path")
    p.add_argument("--copy", action="store_true",
                   help="copy it into Tokenwise's models folder instead of using it in place")

    p = sub.add_parser("remove", help="remove a model and free its disk space")
    p.add_argument("name")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    p = sub.add_parser("info", help="details of an installed model")
    p.add_argument("name")
    p.add_argument("--ctx", type=int, default=None, help="context length for the memory estimate")
    p.add_argument("--template", action="store_true", help="print the chat template")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return models  # type: ignore[no-any-return]


def run(args: argparse.Namespace) -> int:
    """Errors raise TokenwiseError: the command line's one handler prints them (status 2)."""
    return int(_COMMANDS[args.models_command](args))


def _list(args: argparse.Namespace) -> int:
    models = Library().list_models()
    if args.json:
        print(json.dumps([model_record(m) for m in models], indent=2, default=str))
        return 0
    rows = [("NAME", "SIZE", "QUANT", "CONTEXT", "LICENSE", "SOURCE", "LOCATION")]
    for m in models:
        rows.append((
            m.name, format_size(m.size) if m.size else "-", m.quantization or "-",
            f"{m.context_length:,}" if m.context_length else "-", m.license or "-",
            m.source + ("" if m.usable else " (unusable)"), str(m.path),
        ))
    _table(rows)
    for m in models:
        if m.problem:
            print(f"  ! {m.name}: {m.problem}")
    for note, have in download.pending_downloads():
        total = format_size(note.size) if note.size else "?"
        print(f"  … unfinished download: {note.repo_id} {note.filename} "
              f"({format_size(have)} of {total}); run `tokenwise models download "
              f"{note.repo_id} {note.filename}` to continue")
    return 0


def _catalogue(args: argparse.Namespace) -> int:
    entries = hub.load_catalogue()
    if args.json:
        from dataclasses import asdict

        print(json.dumps([asdict(e) for e in entries], indent=2))
        return 0
    rows = [("NAME", "PARAMS", "QUANT", "SIZE", "CONTEXT", "LICENSE", "ID")]
    for e in entries:
        size = e.approx_size
        rows.append((e.name, f"{e.parameters / 1e9:.2f} B", e.quantization,
                     ("~" if e.size_bytes is None else "") + (format_size(size) if size else "?"),
                     f"{e.context_length:,}", e.license, e.id))
    _table(rows)
    print("download one with: tokenwise models download ID")
    return 0


def _search(args: argparse.Namespace) -> int:
    repos = hub.search_models(args.text, limit=args.limit)
    if not repos:
        print(f"No GGUF repositories match {args.text!r}.")
        return 0
    rows = [("REPOSITORY", "DOWNLOADS", "LIKES", "ACCESS")]
    rows += [(r.repo_id, f"{r.downloads:,}", str(r.likes), "gated" if r.gated else "open")
             for r in repos]
    _table(rows)
    print("list a repository's files with: tokenwise models files REPO_ID")
    return 0


def _files(args: argparse.Namespace) -> int:
    models = hub.list_gguf_models(args.repo_id)
    if not models:
        print(f"{args.repo_id} has no .gguf files.")
        return 0
    rows = [("FILE", "QUANT", "SIZE")]
    rows += [(m.name if len(m.parts) > 1 else m.first_filename, m.quantization or "?",
              format_size(m.size) if m.size else "?") for m in models]
    _table(rows)
    print(f"download one with: tokenwise models download {args.repo_id} FILE")
    return 0


def _download(args: argparse.Namespace) -> int:
    repo_id, filename = args.repo_id, args.filename
    files: tuple[str, ...]
    entry = hub.find_catalogue_entry(repo_id) if filename is None else None
    if entry is not None:
        repo_id, files = entry.repo_id, entry.files
    elif filename is None:
        models = hub.list_gguf_models(repo_id, revision=args.revision)
        if len(models) != 1:
            names = ", ".join(m.first_filename for m in models) or "none"
            raise TokenwiseError(
                f"{repo_id} has {len(models)} GGUF models; name one of: {names}")
        files = tuple(p.filename for p in models[0].parts)
    else:
        files = _with_split_parts(repo_id, filename, args.revision)
    printer = _ProgressPrinter()
    path = None
    for name in files:
        path_i = download.download_file(repo_id, name, revision=args.revision,
                                        progress=printer, cancel=threading.Event())
        printer.finish()
        path = path or path_i
    print(f"ready: {path}")
    return 0


def _with_split_parts(repo_id: str, filename: str, revision: str) -> tuple[str, ...]:
    """For the first part of a split model, every part; otherwise the file alone."""
    if not hub.SPLIT_RE.match(filename):
        return (filename,)
    for model in hub.list_gguf_models(repo_id, revision=revision):
        names = tuple(p.filename for p in model.parts)
        if filename in names:
            return names
    return (filename,)


def _import(args: argparse.Namespace) -> int:
    model = Library().import_model(args.path, copy=args.copy)
    how = "copied into the models folder" if model.copied else "used in place"
    print(f"imported {model.name} ({format_size(model.size)}, {model.quantization}), {how}: "
          f"{model.path}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    library = Library()
    model = library.get(args.name)
    if not args.yes:
        what = ("delete its file" if model.source == "downloaded" or model.copied
                else "forget it (the file itself stays where it is)")
        if not sys.stdin.isatty():
            raise TokenwiseError(f"removing {model.name} would {what}; add --yes to confirm.")
        answer = input(f"Remove {model.name} ({format_size(model.size)}) and {what}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("kept.")
            return 1
    freed = library.remove(model.name)
    print(f"removed {model.name}" + (f", {format_size(freed)} freed" if freed else ""))
    return 0


def _info(args: argparse.Namespace) -> int:
    model = Library().get(args.name)
    if model.info is None:
        raise TokenwiseError(model.problem)
    info = model.info
    estimate = estimate_memory(info, args.ctx)
    if args.json:
        record = model_record(model)
        record.update(chat_template=info.chat_template, memory_needed=estimate.total,
                      kv_cache_bytes=estimate.kv_bytes, free_ram=estimate.free_ram,
                      free_vram=estimate.free_vram, n_ctx=estimate.n_ctx)
        print(json.dumps(record, indent=2, default=str))
        return 0
    if args.template:
        print(info.chat_template or "(this model has no chat template)")
        return 0
    lines = [
        ("Name", model.name), ("File", str(model.path)), ("Source", model.source),
        ("Repository", model.repo_id or "-"), ("Architecture", info.architecture),
        ("Parameters", f"{info.parameters / 1e6:,.1f} M"), ("Quantization", info.quantization),
        ("Size", format_size(model.size)), ("Layers", str(info.layers)),
        ("Context length", f"{info.context_length:,}"), ("Vocabulary", f"{info.vocab_size:,}"),
        ("License", info.license or "-"),
        ("Chat template", "yes (show it with --template)" if info.chat_template else "none"),
        ("Memory", estimate.summary()),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key:<{width}}  {value}")
    return 0


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


class _ProgressPrinter:
    """A one-line progress display on a terminal; a line every few seconds otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, p: download.DownloadProgress) -> None:
        now = time.monotonic()
        if p.phase == "connecting" and not self.tty:
            return
        if p.phase == "downloading" and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        total = format_size(p.total) if p.total else "?"
        eta = f", {p.eta_s:.0f} s left" if p.eta_s is not None else ""
        resumed = f", resumed at {format_size(p.resumed_from)}" if p.resumed_from else ""
        text = (f"{p.filename}: {p.phase} {format_size(p.done)} of {total} "
                f"at {format_size(p.speed)}/s{eta}{resumed}")
        if self.tty:
            print(f"\r{text[:120]:<120}", end="", file=sys.stderr, flush=True)
            self.shown = True
        else:
            print(text, file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.shown:
            print(file=sys.stderr)
            self.shown = False


_COMMANDS = {
    "list": _list, "catalogue": _catalogue, "search": _search, "files": _files,
    "download": _download, "import": _import, "remove": _remove, "info": _info,
}

