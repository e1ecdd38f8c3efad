"""A compact, lossless binary form of a reply's steps, for the database.

TWT2 is columnar so that a whole reply packs and unpacks in a few bulk calls instead of
one struct call per field: every integer field of every step, candidate and stage sits in
one int32 array, every float field in one float32 array, and byte pieces and strings
(texts, stage names and labels, stop reasons) are interned in two tables. A stage whose
ids or probabilities are the first ones of the stage before it (or of the candidates, for
the first stage) stores none of its own: truncation keeps the order, so in measured
replies every stage shared its ids and 42% their probabilities. Only what compresses is
compressed: the ints, the tables and the sign-and-exponent byte of each float; zlib gains
11% on a float's three low bytes and spends most of its time there, so they go raw.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import operator
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from tokenwise.core.trace.packed_v1 import unpack_steps_v1
from tokenwise.core.trace.records import Candidate, Stage, Step

# blob: b"TWT2", codec (u8), crc32 of body + low (u32), len(zlib(body)) (u32), zlib(body), low
# body: counts (9 x u32), int32 columns, float high bytes, piece bytes, string bytes
# low:  the float low bytes, three per float

_MAGIC = b"TWT2"
_HEAD = struct.Struct("<4sBII")
_COUNTS = struct.Struct("<9I")
_OWN_IDS, _OWN_PROBS = 1, 2  # stage flags: stored here, not a prefix of the stage before
_CODEC = 1
_ZLIB_LEVEL = 1  # level 6 takes ~2.5x as long for ~2% less
_STEP_INTS = ("index", "token_id", "rank", "forced")
_STEP_FLOATS = ("prob", "logit", "log_z", "entropy", "final_prob", "elapsed_ms")
_step_ints = operator.attrgetter(*_STEP_INTS)
_step_floats = operator.attrgetter(*_STEP_FLOATS)


def pack_steps(steps: Sequence[Step]) -> bytes:
    """A compact, lossless binary form of steps for the database (float32 precision)."""
    n = len(steps)
    n_cands = [len(s.candidates) for s in steps]
    n_stages = [len(s.stages) for s in steps]
    # one flat list of every candidate's fields (every stage's), sliced into columns
    flat: list[Any] = list(_flatten(_flatten(s.candidates for s in steps)))
    c_ids, c_pieces, c_logits, c_probs = (flat[i::4] for i in range(4))
    flat = list(_flatten(_flatten(s.stages for s in steps)))
    st_names, st_labels, st_survivors, st_ids, st_probs = (flat[i::5] for i in range(5))
    n_ids = [len(ids) for ids in st_ids]
    if n_ids != [len(probs) for probs in st_probs]:
        raise ValueError("a stage has a different number of ids and probabilities")
    own, own_ids, own_probs = _own_stage_values(steps, n_cands, tuple(c_ids), tuple(c_probs))

    step_pieces = [s.piece for s in steps]
    texts = [s.text for s in steps]
    stops = [s.stop_reason for s in steps]
    pieces = _Interned(step_pieces, c_pieces)
    strings = _Interned(texts, st_names, st_labels, [r for r in stops if r is not None])
    ints = np.fromiter(_flatten((
        *_columns(list(map(_step_ints, steps)), len(_STEP_INTS)),
        n_cands, n_stages, pieces.refs(step_pieces), strings.refs(texts),
        [-1 if r is None else strings.ref[r] for r in stops],
        c_ids, pieces.refs(c_pieces),
        strings.refs(st_names), strings.refs(st_labels), st_survivors, n_ids, own,
        own_ids, pieces.lengths, strings.lengths,
    )), dtype="<i4")
    floats = np.fromiter(_flatten((
        *_columns(list(map(_step_floats, steps)), len(_STEP_FLOATS)),
        c_logits, c_probs, own_probs,
    )), dtype="<f4")
    float_bytes = floats.view(np.uint8).reshape(-1, 4)
    body = b"".join((
        _COUNTS.pack(n, len(c_ids), len(st_ids), sum(n_ids), len(own_ids), len(own_probs),
                     len(pieces.lengths), len(strings.lengths), len(ints)),
        ints.tobytes(), float_bytes[:, 3].tobytes(), pieces.blob, strings.blob,
    ))
    low = float_bytes[:, :3].tobytes()
    packed = zlib.compress(body, _ZLIB_LEVEL)
    head = _HEAD.pack(_MAGIC, _CODEC, zlib.crc32(low, zlib.crc32(body)), len(packed))
    return b"".join((head, packed, low))


def unpack_steps(blob: bytes) -> list[Step]:
    """The steps of a blob from :func:`pack_steps` (or of the older TWT1 form)."""
    if not blob.startswith(_MAGIC):
        return unpack_steps_v1(blob)
    try:
        with _gc_paused():
            return _unpack_v2(blob)
    except (ValueError, IndexError, TypeError, OverflowError, struct.error, zlib.error) as exc:
        raise ValueError(f"damaged packed Tokenwise trace: {exc}") from exc


def _unpack_v2(blob: bytes) -> list[Step]:
    _, codec, crc, z_len = _HEAD.unpack_from(blob)
    if codec != _CODEC:
        raise ValueError(f"unknown codec {codec}")
    body = zlib.decompress(blob[_HEAD.size:_HEAD.size + z_len])
    low = blob[_HEAD.size + z_len:]
    if zlib.crc32(low, zlib.crc32(body)) != crc:
        raise ValueError("checksum mismatch")
    n, n_c, n_s, n_e, n_x, n_y, n_p, n_q, n_i = _COUNTS.unpack_from(body)
    n_f = len(_STEP_FLOATS) * n + 2 * n_c + n_y
    if n_i != (len(_STEP_INTS) + 5) * n + 2 * n_c + 5 * n_s + n_x + n_p + n_q:
        raise ValueError("inconsistent counts")
    pos = _COUNTS.size
    ints = _Reader(np.frombuffer(body, "<i4", n_i, pos))
    pos += 4 * n_i
    float_bytes = np.empty((n_f, 4), np.uint8)
    float_bytes[:, 3] = np.frombuffer(body, np.uint8, n_f, pos)
    float_bytes[:, :3] = np.frombuffer(low, np.uint8).reshape(n_f, 3)
    floats = _Reader(float_bytes.view("<f4").reshape(n_f))
    tables = body[pos + n_f:]

    step_ints = [ints.take(n) for _ in _STEP_INTS]
    n_cands, n_stages = ints.take(n, array=True), ints.take(n, array=True)
    step_piece_refs, text_refs, stop_refs = ints.take(n), ints.take(n), ints.take(n)
    c_ids, c_piece_refs = ints.take(n_c), ints.take(n_c)
    name_refs, label_refs, survivors = ints.take(n_s), ints.take(n_s), ints.take(n_s)
    n_ids, own = ints.take(n_s, array=True), ints.take(n_s, array=True)
    own_ids, piece_lens, string_lens = ints.take(n_x), ints.take(n_p), ints.take(n_q)
    step_floats = [floats.take(n) for _ in _STEP_FLOATS]
    c_logits, c_probs, own_probs = floats.take(n_c), floats.take(n_c), floats.take(n_y)

    if ((int(n_cands.sum()), int(n_stages.sum()), int(n_ids.sum()),
         int(n_ids[own & _OWN_IDS != 0].sum()), int(n_ids[own & _OWN_PROBS != 0].sum()))
            != (n_c, n_s, n_e, n_x, n_y)
            or np.any(n_cands < 0) or np.any(n_stages < 0) or np.any(n_ids < 0)
            or min(piece_lens + string_lens, default=0) < 0
            or sum(piece_lens) + sum(string_lens) != len(tables)):
        raise ValueError("inconsistent counts")
    pieces = _split(tables, piece_lens)
    strings = [b.decode("utf-8") for b in _split(tables[sum(piece_lens):], string_lens)]

    candidates = tuple(map(tuple.__new__, itertools.repeat(Candidate), zip(
        c_ids, map(pieces.__getitem__, c_piece_refs), c_logits, c_probs, strict=True)))
    cand_starts = _starts(n_cands)
    shared = _Prefixes(n_cands, n_stages, n_ids, cand_starts)
    stages = tuple(map(tuple.__new__, itertools.repeat(Stage), zip(
        map(strings.__getitem__, name_refs), map(strings.__getitem__, label_refs), survivors,
        _slices((*c_ids, *own_ids), shared.starts(own & _OWN_IDS != 0), n_ids),
        _slices((*c_probs, *own_probs), shared.starts(own & _OWN_PROBS != 0), n_ids),
        strict=True)))
    index, token_id, rank, forced = step_ints
    prob, logit, log_z, entropy, final_prob, elapsed_ms = step_floats
    return list(map(
        Step, index, token_id, map(pieces.__getitem__, step_piece_refs),
        map(strings.__getitem__, text_refs), prob, rank, logit, log_z, entropy,
        _slices(candidates, cand_starts, n_cands), _slices(stages, _starts(n_stages), n_stages),
        final_prob, map(bool, forced),
        [None if r < 0 else strings[r] for r in stop_refs], elapsed_ms,
    ))


def _own_stage_values(steps: Sequence[Step], n_cands: list[int], c_ids: tuple[int, ...],
                      c_probs: tuple[float, ...]) -> tuple[list[int], list[int], list[float]]:
    """Per stage, whether its ids and probs are its own; and those own ids and probs."""
    own: list[int] = []
    own_ids: list[int] = []
    own_probs: list[float] = []
    for s, start, count in zip(steps, _offsets(n_cands), n_cands, strict=True):
        prev_ids = c_ids[start:start + count]
        prev_probs = c_probs[start:start + count]
        for st in s.stages:
            ids, probs = tuple(st.ids), tuple(st.probs)
            flags = 0
            if prev_ids[:len(ids)] != ids:
                flags |= _OWN_IDS
                own_ids.extend(ids)
            if prev_probs[:len(probs)] != probs:
                flags |= _OWN_PROBS
                own_probs.extend(probs)
            own.append(flags)
            prev_ids, prev_probs = ids, probs
    return own, own_ids, own_probs


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Build many small tuples without the cyclic collector rescanning them as they grow.

    Measured: its repeated passes over the growing young generation cost about a third of
    an unpack. Nothing built here forms a cycle, so pausing it loses nothing; it is turned
    back on only if it was on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Prefixes:
    """Where each stage's ids (or probs) start in candidates + own values, as numpy arrays.

    A stage that does not store its own is a prefix of the stage before it, or of its
    step's candidates when it is the first stage: follow it back to the last one stored.
    """

    def __init__(self, n_cands: np.ndarray, n_stages: np.ndarray, n_ids: np.ndarray,
                 cand_starts: np.ndarray) -> None:
        self.n_ids = n_ids
        step_of_stage = np.repeat(np.arange(len(n_stages)), n_stages)
        self.first = np.zeros(len(n_ids), dtype=bool)
        self.first[_starts(n_stages)[n_stages > 0]] = True
        self.cand_starts = cand_starts[step_of_stage]
        before = np.empty_like(n_ids)  # the length of what a stage may be a prefix of
        before[1:] = n_ids[:-1]
        self.before = np.where(self.first, n_cands[step_of_stage], before)
        self.n_cands = int(n_cands.sum())

    def starts(self, own: np.ndarray) -> np.ndarray:
        if np.any(~own & (self.n_ids > self.before)):
            raise ValueError("a stage is longer than the stage it continues")
        anchor_starts = np.where(own, self.n_cands + _starts(self.n_ids * own),
                                 self.cand_starts)
        anchors = np.where(own | self.first, np.arange(len(own)), 0)
        return anchor_starts[np.maximum.accumulate(anchors)] if len(own) else anchors


class _Interned:
    """A table of distinct values (bytes or str) in first-seen order, for refs by index."""

    def __init__(self, *groups: Iterable[Any]) -> None:
        values = list(dict.fromkeys(itertools.chain(*groups)))
        self.ref = {v: i for i, v in enumerate(values)}
        raw = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
        self.lengths = list(map(len, raw))
        self.blob = b"".join(raw)

    def refs(self, values: Iterable[Any]) -> list[int]:
        return list(map(self.ref.__getitem__, values))


class _Reader:
    """Consecutive columns of one array, as lists (or int64 arrays for arithmetic)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.pos = 0

    def take(self, count: int, *, array: bool = False) -> Any:
        part = self.array[self.pos:self.pos + count]
        if len(part) != count:
            raise ValueError("inconsistent counts")
        self.pos += count
        return part.astype(np.int64) if array else part.tolist()


_flatten = itertools.chain.from_iterable


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[tuple[Any, ...]]:
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _offsets(counts: list[int]) -> list[int]:
    return [0, *itertools.accumulate(counts)][:len(counts)]


def _starts(counts: np.ndarray) -> np.ndarray:
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts


def _slices(values: tuple[Any, ...], starts: np.ndarray, counts: np.ndarray) -> Iterator[Any]:
    return map(values.__getitem__, map(slice, starts.tolist(), (starts + counts).tolist()))


def _split(blob: bytes, lengths: list[int]) -> list[bytes]:
    ends = list(itertools.accumulate(lengths))
    return [blob[a:b] for a, b in zip([0, *ends], ends, strict=False)]
