"""Seeded mutations of a real GGUF model's header, loaded the way the app loads a model.

Each mutant is the real model with its header region (metadata and tensor infos, where the
structure lives) changed: a field aimed at (magic, version, counts, key lengths, value
types, array lengths, tensor counts, dimensions, types, offsets, alignment) or random bytes.
Mutations keep the file's length, so one copy of the model serves every mutant: the mutated
header is written over the copy and the original header put back afterwards.

The load runs in a worker process that stands in for the app (reader, then the preflight
child, then the engine load): a signal there is counted, not fatal to the sweep.
Kept independent of tokenwise.core.models.gguf: the field map below is walked here.
"""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import struct
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
KINDS = (
    "magic", "version", "tensor_count", "kv_count", "key_length", "value_type",
    "array_type", "array_length", "string_length", "n_dims", "dimension", "tensor_type",
    "offset", "alignment", "random_bytes",
)
OUTCOMES = ("rejected by the reader", "rejected in the preflight", "loaded", "anything else")


@dataclass
class FieldMap:
    """Where each structural field of a GGUF header sits (byte offsets)."""

    header_end: int = 0
    key_lengths: list[int] = field(default_factory=list)
    value_types: list[int] = field(default_factory=list)
    array_types: list[int] = field(default_factory=list)
    array_lengths: list[int] = field(default_factory=list)
    string_lengths: list[int] = field(default_factory=list)  # inside string arrays (sampled)
    n_dims: list[int] = field(default_factory=list)
    dimensions: list[int] = field(default_factory=list)
    tensor_types: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    # a string entry large enough to be replaced by general.alignment plus a filler entry
    spare_entry: tuple[int, int] | None = None  # (start, end)


def map_fields(head: bytes, rng: random.Random, sampled_strings: int = 4000) -> FieldMap:
    fm = FieldMap()
    pos = 8
    n_tensors, n_kv = struct.unpack_from("<QQ", head, pos)
    pos += 16

    def string(pos: int) -> int:
        return pos + 8 + _U64.unpack_from(head, pos)[0]

    for _ in range(n_kv):
        start = pos
        fm.key_lengths.append(pos)
        key = head[pos + 8 : string(pos)]
        pos = string(pos)
        fm.value_types.append(pos)
        tag = _U32.unpack_from(head, pos)[0]
        pos += 4
        if tag == 8:
            pos = string(pos)
        elif tag == 9:
            fm.array_types.append(pos)
            item, count = struct.unpack_from("<IQ", head, pos)
            fm.array_lengths.append(pos + 4)
            pos += 12
            if item == 8:
                chosen = set(rng.sample(range(count), min(count, sampled_strings)))
                for i in range(count):
                    if i in chosen:
                        fm.string_lengths.append(pos)
                    pos = string(pos)
            else:
                pos += count * _SCALAR_SIZES[item]
        else:
            pos += _SCALAR_SIZES[tag]
        if pos - start >= 60 and key.startswith(b"general.") and key not in (
            b"general.architecture", b"general.alignment"
        ):
            fm.spare_entry = (start, pos)
    for _ in range(n_tensors):
        pos = string(pos)
        fm.n_dims.append(pos)
        dims = _U32.unpack_from(head, pos)[0]
        pos += 4
        fm.dimensions.extend(pos + 8 * i for i in range(dims))
        pos += 8 * dims
        fm.tensor_types.append(pos)
        fm.offsets.append(pos + 4)
        pos += 12
    fm.header_end = pos
    return fm


def _interesting(rng: random.Random, old: int, bits: int) -> int:
    top = (1 << bits) - 1
    return rng.choice([
        0, 1, 2, 3, 7, 31, 32, 33, 255, 256, 4096, 1 << 16, 1 << 31, top, top - 1,
        (old + 1) & top, (old - 1) & top, (old * 2) & top, old // 2,
        old ^ (1 << rng.randrange(bits)),
        rng.getrandbits(bits), rng.getrandbits(min(bits, 20)),
    ])


def mutate(head: bytes, fm: FieldMap, rng: random.Random, kind: str) -> bytearray:
    """One mutation of the given kind; the result has the length of ``head``."""
    out = bytearray(head)

    def set_u32(pos: int) -> None:
        _U32.pack_into(out, pos, _interesting(rng, _U32.unpack_from(out, pos)[0], 32))

    def set_u64(pos: int) -> None:
        _U64.pack_into(out, pos, _interesting(rng, _U64.unpack_from(out, pos)[0], 64))

    if kind == "magic":
        at = rng.randrange(4)
        out[at] = rng.randrange(256)
    elif kind == "version":
        _U32.pack_into(out, 4, rng.choice([0, 1, 2, 4, 0x03000000, rng.getrandbits(32)]))
    elif kind == "tensor_count":
        set_u64(8)
    elif kind == "kv_count":
        set_u64(16)
    elif kind == "key_length":
        set_u64(rng.choice(fm.key_lengths))
    elif kind == "value_type":
        _U32.pack_into(out, rng.choice(fm.value_types), rng.choice([*range(16), 1 << 31]))
    elif kind == "array_type":
        _U32.pack_into(out, rng.choice(fm.array_types), rng.choice([*range(16), 1 << 31]))
    elif kind == "array_length":
        set_u64(rng.choice(fm.array_lengths))
    elif kind == "string_length":
        set_u64(rng.choice(fm.string_lengths))
    elif kind == "n_dims":
        _U32.pack_into(out, rng.choice(fm.n_dims), rng.choice([0, 1, 2, 3, 4, 5, 8, 1 << 31]))
    elif kind == "dimension":
        set_u64(rng.choice(fm.dimensions))
    elif kind == "tensor_type":
        _U32.pack_into(out, rng.choice(fm.tensor_types), rng.choice([*range(45), 64, 1 << 31]))
    elif kind == "offset":
        at = rng.choice(fm.offsets)
        if rng.random() < 0.3:
            _U64.pack_into(out, at, _U64.unpack_from(out, rng.choice(fm.offsets))[0])
        else:
            set_u64(at)
    elif kind == "alignment":
        _set_alignment(out, fm, rng)
    elif kind == "random_bytes":
        for _ in range(rng.randint(1, 4)):
            width = rng.choice([1, 2, 4, 8])
            at = rng.randrange(0, fm.header_end - width)
            out[at : at + width] = rng.randbytes(width)
    else:
        raise ValueError(kind)
    return out


def _set_alignment(out: bytearray, fm: FieldMap, rng: random.Random) -> None:
    """Replace a spare string entry by general.alignment (u32) and a filler of equal size."""
    if fm.spare_entry is None:
        raise ValueError("no string entry large enough to hold general.alignment")
    start, end = fm.spare_entry
    value = rng.choice([0, 1, 3, 8, 16, 32, 48, 64, 4096, 1 << 31, rng.getrandbits(32)])
    entry = _U64.pack(17) + b"general.alignment" + _U32.pack(4) + _U32.pack(value)
    room = end - start - len(entry) - 8 - 1 - 4 - 8
    filler = _U64.pack(1) + b"x" + _U32.pack(8) + _U64.pack(room) + b"y" * room
    out[start:end] = entry + filler


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)  # of "anything else"
    messages: dict[str, list[str]] = field(default_factory=dict)  # a few of each rejection
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            **{name: self.counts[name] for name in OUTCOMES},
            "examples of anything else": self.examples[:10],
            "sample messages": self.messages,
            "seconds": round(self.seconds, 1),
        }


def clear_message(text: str) -> bool:
    """A message a user can read: a sentence, no traceback, no bare library text."""
    return len(text) >= 40 and "Traceback" not in text and not text.startswith(
        "Failed to load model"
    )


class Worker:
    """The app stand-in: a child process that loads each path it is sent, as the app does."""

    def __init__(self, home: Path, timeout_s: float) -> None:
        self.home = home
        self.timeout_s = timeout_s
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ, TOKENWISE_HOME=str(self.home))
        desktop = str(Path(__file__).resolve().parents[1] / "desktop")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (desktop, env.get("PYTHONPATH")) if p)
        return subprocess.Popen(
            [sys.executable, __file__, "--worker", str(self.timeout_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env,
        )

    def load(self, path: Path) -> tuple[str, str]:
        """(outcome, detail) for one file."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout_s + 30)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            return "anything else", f"hang: no answer within {self.timeout_s + 30:.0f} s"
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return "anything else", f"the app process ended with code {code} (a signal if < 0)"
        answer = json.loads(line)
        return str(answer["outcome"]), str(answer["detail"])

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait()


def _worker_main(timeout_s: float) -> None:
    """Load each path read from stdin through Engine; answer one JSON line per path."""
    from tokenwise.core import paths
    from tokenwise.core.engine import preflight
    from tokenwise.core.engine.local import Engine
    from tokenwise.core.errors import ModelFileError, TokenwiseError

    preflight.TIMEOUT_S = timeout_s
    for line in sys.stdin:
        path = line.strip()
        # every mutant has the same path and size: forget earlier verdicts
        paths.preflight_cache_path().unlink(missing_ok=True)
        outcome, detail = "loaded", ""
        try:
            from tokenwise.core.models.gguf import inspect_gguf

            inspect_gguf(path)
        except ModelFileError as exc:
            outcome, detail = "rejected by the reader", str(exc)
        except Exception as exc:
            outcome, detail = "anything else", f"reader: {type(exc).__name__}: {exc}"
        if outcome == "loaded":
            try:
                # as the app: the load runs alongside the check, the first decode waits for it
                engine = Engine(path, n_ctx=256, n_gpu_layers=0)
                try:
                    engine.wait_checked()
                finally:
                    engine.close()
            except TokenwiseError as exc:
                preflight_failed = not preflight.passed_before(Path(path))
                outcome = "rejected in the preflight" if preflight_failed else "anything else"
                detail = str(exc) if preflight_failed else f"engine after preflight: {exc}"
            except Exception as exc:
                outcome, detail = "anything else", f"{type(exc).__name__}: {exc}"
        if outcome != "anything else" and outcome != "loaded" and not clear_message(detail):
            outcome, detail = "anything else", f"unclear message: {detail!r}"
        print(json.dumps({"outcome": outcome, "detail": detail[:400]}), flush=True)  # noqa: T201


def sweep(model: Path, count: int, seed: int, workdir: Path, *, timeout_s: float = 60.0,
          header_bytes: int | None = None) -> Tally:
    """Load ``count`` seeded mutants of ``model``; the tally of their outcomes."""
    started = time.monotonic()
    rng = random.Random(seed)
    with model.open("rb") as f:
        head = f.read(header_bytes or 16 << 20)
    fm = map_fields(head, rng)
    head = head[: fm.header_end + 64]
    copy = workdir / model.name
    shutil.copyfile(model, copy)
    worker = Worker(workdir / "home", timeout_s)
    tally = Tally()
    try:
        for i in range(count):
            kind = KINDS[i % len(KINDS)]
            mutant = mutate(head, fm, rng, kind)
            with copy.open("r+b") as f:
                f.write(mutant)
            outcome, detail = worker.load(copy)
            tally.counts[outcome] += 1
            if outcome == "anything else":
                tally.examples.append(f"#{i} {kind}: {detail}")
            elif outcome.startswith("rejected"):
                shown = tally.messages.setdefault(outcome, [])
                if len(shown) < 3 and not any(m.startswith(f"{kind}:") for m in shown):
                    shown.append(f"{kind}: {detail}")
            with copy.open("r+b") as f:
                f.write(head)
    finally:
        worker.close()
        copy.unlink(missing_ok=True)
    tally.seconds = time.monotonic() - started
    return tally


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    _worker_main(float(sys.argv[2]))
