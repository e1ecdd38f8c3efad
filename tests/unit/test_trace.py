"""The packed binary form of steps: exact round trips, older blobs, damaged blobs."""

from __future__ import annotations

import random
import struct
import zlib

import pytest

from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS
from tokenwise.core.trace.packed import pack_steps, unpack_steps
from tokenwise.core.trace.records import STOP_EOG, STOP_MAX_TOKENS, Candidate, Stage, Step

# Made by the TWT1 code before TWT2 existed, from OLD_FORMAT_STEPS below: files written
# then hold blobs like this one, so it must stay readable whatever happens to the writer.
OLD_FORMAT_BLOB = bytes.fromhex(
    "789c0b090f3164628080e51c10da9e8161912303c30a203e00642bd8830499181998189e6e87a9022960b0"
    "0789c881f5cc01f21bec5818144a32521959194af20be2b3d941946eb68211c80226903e885a908107ec18"
    "81acad40ccccc0e00014d80034608b23c4f60620f670646464606458ca0cb4622917436e62457c497e766a"
    "5ef156b01920e50ef640790600f9e722ad"
)
GONG = "工".encode()  # SmolLM2 writes it as two byte tokens: b"\xe5\xb7" + b"\xa5"
OLD_FORMAT_STEPS = [
    Step(0, 2215, GONG[:2], "", 0.5, 1, 20.25, 21.0, 1.5,
         (Candidate(2215, GONG[:2], 20.25, 0.5), Candidate(30, b" the", 19.5, 0.25)),
         (Stage("top_k", "top-k 2", 2, (2215, 30), (0.625, 0.375)),), 0.625),
    Step(1, 181, GONG[2:], "工", 0.75, 1, 22.0, 22.5, 0.5,
         (Candidate(181, GONG[2:], 22.0, 0.75),), (), 1.0, forced=True,
         stop_reason=STOP_MAX_TOKENS, elapsed_ms=12.5),
]


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def as_stored(step: Step) -> Step:
    """What a round trip must give: the same step with every float rounded to float32."""
    return Step(
        step.index, step.token_id, step.piece, step.text, f32(step.prob), step.rank,
        f32(step.logit), f32(step.log_z), f32(step.entropy),
        tuple(Candidate(c.token_id, c.piece, f32(c.logit), f32(c.prob))
              for c in step.candidates),
        tuple(Stage(s.name, s.label, s.survivors, tuple(s.ids), tuple(map(f32, s.probs)))
              for s in step.stages),
        f32(step.final_prob), step.forced, step.stop_reason, f32(step.elapsed_ms),
    )


def varied_steps(rng: random.Random, n: int) -> list[Step]:
    """Steps unlike the engine's in every way the format allows."""
    pieces = [b" the", b"\n", GONG[:2], GONG[2:], "你好".encode(), b"\xff", b"", b"x" * 300,
              " 令牌".encode()]
    stage_names = [("penalties", "repeat 1.1"), ("top_k", "top-k 40"), ("top_p", "top-p 0.9"),
                   ("min_p", "最小 p 0.05"), ("temperature", "temperature 0.7")]
    steps = []
    for i in range(n):
        k = rng.choice([0, 1, 5, 32])
        probs = sorted((rng.random() / 8 for _ in range(k)), reverse=True)
        cands = tuple(Candidate(rng.randrange(-5, 262_144), rng.choice(pieces),
                                rng.uniform(-30, 30), p) for p in probs)
        stages = []
        ids, stage_probs = [c.token_id for c in cands], list(probs)
        for name, label in stage_names[:rng.randrange(len(stage_names) + 1)]:
            m = rng.randrange(len(ids) + 1) if ids else 0
            how = rng.random()
            if how < 0.3:  # reordered, as repetition penalties do
                ids = rng.sample(ids, len(ids))
            elif how < 0.4:  # more ids than the step has candidates
                ids = [*ids, *(rng.randrange(49152) for _ in range(3))]
                stage_probs = [*stage_probs, 0.001, 0.002, 0.003]
                m = len(ids)
            if rng.random() < 0.5:  # renormalised
                stage_probs = [p * 1.5 for p in stage_probs]
            ids, stage_probs = ids[:m], stage_probs[:m]
            stages.append(Stage(name, label, rng.randrange(1, 262_144), tuple(ids),
                                tuple(stage_probs)))
        piece = rng.choice(pieces)
        steps.append(Step(
            index=i + rng.choice([0, 1000]), token_id=rng.randrange(262_144), piece=piece,
            text=rng.choice(["", " 世界", "\n", "tab\there", "\x00", "😀"]),
            prob=rng.random(), rank=rng.randrange(1, 50_000), logit=rng.uniform(-50, 50),
            log_z=rng.uniform(0, 40), entropy=rng.uniform(0, 11), candidates=cands,
            stages=tuple(stages), final_prob=rng.random(), forced=rng.random() < 0.2,
            stop_reason=rng.choice([None, None, STOP_EOG, STOP_MAX_TOKENS]),
            elapsed_ms=rng.uniform(0, 1e4),
        ))
    return steps


@pytest.mark.parametrize("seed", range(8))
def test_varied_steps_round_trip_at_float32_precision(seed: int) -> None:
    steps = varied_steps(random.Random(seed), 60)
    back = unpack_steps(pack_steps(steps))
    assert back == [as_stored(s) for s in steps]
    assert back != steps  # float64 inputs: the comparison above would see a lost rounding


def test_round_trip_gives_the_same_kinds_of_objects() -> None:
    back = unpack_steps(pack_steps(varied_steps(random.Random(1), 40)))
    step = next(s for s in back if s.candidates and s.stages and s.stages[0].ids)
    assert type(step) is Step
    assert type(step.candidates) is tuple and type(step.stages) is tuple
    cand, stage = step.candidates[0], step.stages[0]
    assert type(cand) is Candidate and type(stage) is Stage
    assert [type(v) for v in cand] == [int, bytes, float, float]
    assert type(stage.ids) is tuple and type(stage.ids[0]) is int
    assert type(stage.probs) is tuple and type(stage.probs[0]) is float
    assert [type(v) for v in (step.prob, step.logit, step.elapsed_ms)] == [float] * 3
    assert type(step.forced) is bool and type(step.rank) is int


def test_stored_steps_pack_to_the_same_bytes() -> None:
    steps = [as_stored(s) for s in varied_steps(random.Random(2), 30)]
    blob = pack_steps(steps)
    assert unpack_steps(blob) == steps
    assert pack_steps(unpack_steps(blob)) == blob


@pytest.mark.parametrize("steps", [
    [],
    [Step(0, 5, b"", "", 0.0, 1, 0.0, 0.0, 0.0, ())],
    [Step(3, 7, b"\xe5", "", 1.0, 1, 1.0, 1.0, 0.0, (), (Stage("top_k", "", 0, (), ()),))],
], ids=["no steps", "bare step", "stage without candidates"])
def test_edge_cases_round_trip(steps: list[Step]) -> None:
    assert unpack_steps(pack_steps(steps)) == [as_stored(s) for s in steps]


def test_stage_ids_and_probs_are_checked_for_length() -> None:
    step = Step(0, 1, b"a", "a", 1.0, 1, 0.0, 0.0, 0.0, (),
                (Stage("top_k", "top-k", 2, (1, 2), (0.5,)),))
    with pytest.raises(ValueError, match="different number"):
        pack_steps([step])


def test_old_format_blob_is_still_read() -> None:
    assert OLD_FORMAT_BLOB[:2] == b"\x78\x9c"  # zlib, level 6, as TWT1 wrote
    assert zlib.decompress(OLD_FORMAT_BLOB)[:4] == b"TWT1"
    assert unpack_steps(OLD_FORMAT_BLOB) == OLD_FORMAT_STEPS
    assert unpack_steps(pack_steps(OLD_FORMAT_STEPS)) == OLD_FORMAT_STEPS


def _damaged(blob: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(blob))
    return blob[:at] + bytes([blob[at] ^ (1 << rng.randrange(8))]) + blob[at + 1:]


def test_damaged_blobs_raise_value_error() -> None:
    blob = pack_steps(varied_steps(random.Random(3), 20))
    assert blob[:4] == b"TWT2"
    broken = [
        b"", b"TWT2", blob[:len(blob) // 2], blob[:-1], blob + b"\x00",
        blob[:4] + b"\x07" + blob[5:],  # unknown codec
        b"TWT9" + blob[4:], b"not a trace at all",
        zlib.compress(b"TWT1" + b"\xff" * 40),  # an old-form blob cut short
    ]
    for bad in broken:
        with pytest.raises(ValueError, match="packed Tokenwise trace"):
            unpack_steps(bad)


def test_a_flipped_bit_never_gives_other_steps() -> None:
    blob = pack_steps(varied_steps(random.Random(3), 20))
    intact = unpack_steps(blob)
    rng = random.Random(4)
    errors = []
    for _ in range(300):
        try:
            steps = unpack_steps(_damaged(blob, rng))
        except ValueError as exc:
            errors.append(str(exc))
        else:  # a bit deflate ignores (padding of its last block): the data is whole
            assert steps == intact
    assert len(errors) >= 290
    assert all(e.startswith(("damaged packed Tokenwise trace: ", "not a packed Tokenwise trace"))
               for e in errors)


def test_damage_message_says_what_is_wrong() -> None:
    blob = pack_steps(varied_steps(random.Random(5), 10))
    flipped = blob[:-1] + bytes([blob[-1] ^ 0x10])  # a float's raw low byte
    with pytest.raises(ValueError, match="damaged packed Tokenwise trace: checksum mismatch"):
        unpack_steps(flipped)
    with pytest.raises(ValueError, match="unknown codec 7"):
        unpack_steps(blob[:4] + b"\x07" + blob[5:])


def test_real_steps_round_trip(engine) -> None:
    """Steps from the starter model, with penalties on so that stages reorder the ids."""
    settings = PRESETS["Balanced"].with_(seed=5, max_tokens=40, repeat_penalty=1.3)
    prompt = engine.render_chat([ChatMessage("user", "用中文说说天气")]).token_ids
    steps = list(engine.generate(GenerationRequest(prompt, settings)))
    assert steps[-1].stop_reason is not None
    blob = pack_steps(steps)
    back = unpack_steps(blob)
    assert back == [as_stored(s) for s in steps]
    assert "".join(s.text for s in back) == "".join(s.text for s in steps)
    assert len(blob) < 2000 * len(steps)  # the design's budget: well under 2 KB a step
