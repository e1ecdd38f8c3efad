"""The older TWT1 form of packed steps, row by row: read only, for databases written
before TWT2. Nothing writes it any more."""

from __future__ import annotations

import struct
import zlib

from tokenwise.core.trace.records import Candidate, Stage, Step

MAGIC = b"TWT1"


def unpack_steps_v1(blob: bytes) -> list[Step]:
    try:
        data = zlib.decompress(blob)
    except zlib.error as exc:
        raise ValueError(f"not a packed Tokenwise trace: {exc}") from exc
    if data[:4] != MAGIC:
        raise ValueError("not a packed Tokenwise trace (unknown format)")
    try:
        return _read_v1(data)
    except (ValueError, struct.error) as exc:
        raise ValueError(f"damaged packed Tokenwise trace: {exc}") from exc


def _read_v1(data: bytes) -> list[Step]:
    pos = 4
    (n,) = struct.unpack_from("<I", data, pos)
    pos += 4
    steps: list[Step] = []
    head = struct.Struct("<IiBffffffBH")
    for _ in range(n):
        (index, token_id, flags, prob, logit, log_z, entropy, final_prob, elapsed, n_cand,
         rank) = head.unpack_from(data, pos)
        pos += head.size
        piece, pos = _read_bytes(data, pos)
        text_b, pos = _read_bytes(data, pos)
        stop = None
        if flags & 2:
            stop_b, pos = _read_bytes(data, pos)
            stop = stop_b.decode("ascii")
        cands = []
        for _ in range(n_cand):
            cid, clogit, cprob = struct.unpack_from("<iff", data, pos)
            pos += 12
            cpiece, pos = _read_bytes(data, pos)
            cands.append(Candidate(cid, cpiece, clogit, cprob))
        (n_stages,) = struct.unpack_from("<B", data, pos)
        pos += 1
        stages = []
        for _ in range(n_stages):
            name, pos = _read_bytes(data, pos)
            label, pos = _read_bytes(data, pos)
            survivors, k = struct.unpack_from("<IB", data, pos)
            pos += 5
            ids = struct.unpack_from(f"<{k}i", data, pos)
            pos += 4 * k
            probs = struct.unpack_from(f"<{k}f", data, pos)
            pos += 4 * k
            stages.append(Stage(name.decode(), label.decode(), survivors, ids, probs))
        steps.append(Step(
            index=index, token_id=token_id, piece=piece, text=text_b.decode("utf-8"),
            prob=prob, rank=rank, logit=logit, log_z=log_z, entropy=entropy,
            candidates=tuple(cands), stages=tuple(stages), final_prob=final_prob,
            forced=bool(flags & 1), stop_reason=stop, elapsed_ms=elapsed,
        ))
    return steps


def _read_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = struct.unpack_from("<H", data, pos)
    pos += 2
    return data[pos:pos + n], pos + n

