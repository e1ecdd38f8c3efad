"""A step's records built in compiled calls: the same records as Python's.

The engine builds each step's raw top-K as Candidate tuples, a few dozen probabilities, the
stage records and the Step itself just after a decode, on cold caches; the extension's
candidates(), exp_scaled() and step_record() do each in one call. These tests hold them to
the plain Python lines they replace, on made-up lists and on the real starter model's steps,
with every kind of decision (split or not, penalties, a forced token ranked past the
candidates shown).
"""

from __future__ import annotations

import gc
import math
import random
import sys

import pytest

from tokenwise.core.engine import extension
from tokenwise.core.engine import stages as engine_stages
from tokenwise.core.engine.vocab import _LazyTable
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.sampling.settings import PRESETS, SamplerSettings
from tokenwise.core.trace.records import Candidate, Stage, Step

candidates = extension.CANDIDATES


def _python(ids, pieces, logits, probs) -> tuple[Candidate, ...]:
    return tuple(Candidate(i, pieces[i], v, p) for i, v, p in zip(ids, logits, probs,
                                                                   strict=True))


def test_the_records_are_those_python_builds() -> None:
    reads: list[int] = []

    def read(token_id: int) -> bytes:
        reads.append(token_id)
        return f"<{token_id}>".encode()

    pieces = _LazyTable(read)  # the engine's: read the first time a token is asked for
    ids = [7, 3, 900, 3, 0]
    logits = [2.5, 1.0, -0.5, 1.0, -3.25]
    probs = [0.5, 0.25, 0.125, 0.0625, 1e-9]
    built = candidates(Candidate, ids, pieces, logits, probs)
    assert built == _python(ids, pieces, logits, probs)
    assert all(type(c) is Candidate for c in built)
    assert built[2].piece == b"<900>" and built[2].label == "<900>"
    assert sorted(set(reads)) == [0, 3, 7, 900]  # each read once, through __missing__
    assert candidates(Candidate, [], pieces, [], []) == ()


def test_records_of_numbers_are_left_out_of_the_cycle_collector() -> None:
    """A record of numbers and bytes can be in no reference cycle, so the cycle collector
    need not visit it: a long reply's thousands of records keep a full collection short. A
    record holding a container stays tracked."""
    built = candidates(Candidate, [1, 2], {1: b"a", 2: b"b"}, [0.5, 0.25], [0.6, 0.4])
    assert not any(gc.is_tracked(c) for c in built)
    holder: list[object] = []
    odd = candidates(Candidate, [1], {1: holder}, [0.5], [0.6])
    assert gc.is_tracked(odd[0])
    holder.append(odd)  # a cycle through the record: collected all the same
    del holder, odd
    assert gc.collect() >= 0


def test_bad_arguments_raise_and_leak_nothing() -> None:
    piece = b"piece-held-by-the-table"
    pieces = {1: piece}
    before = sys.getrefcount(piece)
    with pytest.raises(KeyError):
        candidates(Candidate, [1, 2], pieces, [0.0, 0.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="differ in length"):
        candidates(Candidate, [1, 1], pieces, [0.0], [0.5, 0.5])
    with pytest.raises(TypeError):
        candidates(Candidate, (1,), pieces, [0.0], [0.5])
    with pytest.raises(TypeError):
        candidates(dict, [1], pieces, [0.0], [0.5])
    gc.collect()
    assert sys.getrefcount(piece) == before
    held = candidates(Candidate, [1, 1], pieces, [0.0, 1.0], [0.5, 0.5])
    assert sys.getrefcount(piece) == before + 2
    del held
    assert sys.getrefcount(piece) == before


def test_exp_scaled_is_the_python_line_to_the_bit() -> None:
    exp_scaled = extension.EXP_SCALED
    rng = random.Random(4)
    values = [rng.gauss(0.0, 6.0) for _ in range(500)] + [-math.inf, 0.0, -0.0, 3]
    for offset, scale, factor in [(2.5, 1.0, 1.0), (11.0, 1.25, 1 / 7.3), (-3.0, 0.5, 2.0)]:
        expected = [math.exp((v - offset) * scale) * factor for v in values]
        assert exp_scaled(values, offset, scale, factor) == expected
    assert exp_scaled([], 0.0, 1.0, 1.0) == []
    with pytest.raises(TypeError):
        exp_scaled((1.0,), 0.0, 1.0, 1.0)
    with pytest.raises(TypeError):
        exp_scaled(["a"], 0.0, 1.0, 1.0)


PENALTIES = dict(repeat_penalty=1.1, presence_penalty=0.5, frequency_penalty=0.3,
                 repeat_last_n=64)


@pytest.mark.parametrize("overlap", [False, True], ids=["whole", "split"])
@pytest.mark.parametrize("settings", [
    PRESETS["Greedy"], PRESETS["Balanced"], PRESETS["Creative"],
    SamplerSettings(temperature=0.8, top_k=0, top_p=1.0, min_p=0.0, **PENALTIES),
    SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, **PENALTIES),
    SamplerSettings(temperature=1.3, top_k=0, top_p=1.0, min_p=0.0),
    SamplerSettings(temperature=1.0, top_k=0, top_p=0.9, min_p=0.0),
    SamplerSettings(temperature=0.9, top_k=0, top_p=1.0, min_p=0.05),
], ids=["greedy", "balanced", "creative", "untruncated-penalties", "penalties-t1",
        "temperature", "top-p", "min-p"])
def test_the_engine_steps_are_the_same_either_way(engine, settings, overlap,
                                                  monkeypatch) -> None:
    ids = engine.render_chat([ChatMessage("user", "Name three rivers.")]).token_ids
    # a token far down the list, forced first: ranked past the candidates shown
    far = engine.token_ids(" zebra")[0]

    def steps() -> list:
        engine._trim(0)
        engine.overlap = overlap
        try:
            request = GenerationRequest(ids, settings.with_(max_tokens=12, seed=11),
                                        top_k_display=24, forced_first_token=far,
                                        extra={"ignore_eog": True})
            return list(engine.generate(request))
        finally:
            engine.overlap = False

    compiled_steps = steps()
    for name in ("STEP_RECORD", "UNTRUNCATED_NUMBERS"):
        monkeypatch.setattr(engine_stages, name, None)
    python_steps = steps()
    assert len(compiled_steps) == len(python_steps) == 12
    assert compiled_steps[0].forced and compiled_steps[0].rank > 24
    for a, b in zip(compiled_steps, python_steps, strict=True):
        assert type(a) is type(b) is Step
        assert a.candidates == b.candidates
        assert len(a.candidates) == 24
        assert all(type(c) is Candidate for c in a.candidates)
        assert all(type(s) is Stage for s in a.stages)
        for field in ("index", "token_id", "piece", "text", "prob", "rank", "logit", "log_z",
                      "entropy", "stages", "final_prob", "forced", "stop_reason"):
            assert getattr(a, field) == getattr(b, field), field
        assert a.elapsed_ms > 0.0


def test_step_record_refuses_bad_arguments_and_leaks_nothing() -> None:
    step_record = extension.STEP_RECORD
    piece = b"piece-held-by-the-table"
    pieces = {1: piece, 2: b"two"}
    consts = (Step, Candidate, Stage, pieces, "penalties", "Penalties", 3, None)
    args = [consts, 0, "x", None, False, 1, 1, 0.5, 0.5, 2.0, 1.0, [1, 2], [0.5, -1.0],
            [1, 2], None, 0.0, [], None, 1.0]
    before = sys.getrefcount(piece)
    step = step_record(*args)
    assert step.piece is piece and step.candidates[0].piece is piece
    assert step.stages[0] == Stage("penalties", "Penalties", 3, (1, 2),
                                   tuple(c.prob for c in step.candidates))
    assert step.log_z == 0.5 + math.log(2.0)
    del step
    gc.collect()
    assert sys.getrefcount(piece) == before
    for at, bad in [(0, consts[:7]), (11, (1, 2)), (14, (0.5,)), (16, None)]:
        wrong = list(args)
        wrong[at] = bad
        with pytest.raises(TypeError):
            step_record(*wrong)
    wrong = list(args)
    wrong[0] = (Step, dict, Stage, *consts[3:])
    with pytest.raises(TypeError):
        step_record(*wrong)
    wrong = list(args)
    wrong[11] = [1, 5]  # a token without a piece
    with pytest.raises(KeyError):
        step_record(*wrong)
    wrong = list(args)
    wrong[17] = 2.0  # the untruncated draw's records: (1 / T, labels) needed
    wrong[0] = (*consts[:7], (1.25, ()))
    with pytest.raises(TypeError):
        step_record(*wrong)
    gc.collect()
    assert sys.getrefcount(piece) == before


@pytest.mark.parametrize("settings", [
    PRESETS["Balanced"],  # tw_truncated
    SamplerSettings(temperature=0.8, top_k=0, top_p=1.0, min_p=0.0, **PENALTIES),  # untruncated
    SamplerSettings(temperature=1.0, top_k=0, top_p=0.9, min_p=0.0),  # tw_nucleus_draw
], ids=["truncated", "untruncated", "nucleus-draw"])
def test_the_decisions_are_the_same_through_ctypes(engine, settings, monkeypatch) -> None:
    """The one-call decisions go through the extension's own calls, which convert their
    arguments in C; their ctypes bindings take the same arguments: the same steps."""
    from tokenwise.core.engine import compiled

    ids = engine.render_chat([ChatMessage("user", "Name three rivers.")]).token_ids
    calls: dict[str, int] = {}

    def counting(name: str, fn):
        def call(*args):
            calls[name] = calls.get(name, 0) + 1
            return fn(*args)
        return call

    def steps() -> list:
        engine._trim(0)
        request = GenerationRequest(ids, settings.with_(max_tokens=16, seed=5),
                                    top_k_display=24, extra={"ignore_eog": True})
        return list(engine.generate(request))

    names = ("_UNTRUNCATED", "_TRUNCATED", "_NUCLEUS_DRAW")
    for name in names:
        assert type(getattr(compiled, name)).__name__ == "builtin_function_or_method"
        monkeypatch.setattr(engine_stages, name, counting(name, getattr(compiled, name)))
    own = steps()
    used = set(calls)
    assert len(used) == 1 and calls[next(iter(used))] >= 15
    calls.clear()
    for name in names:
        monkeypatch.setattr(engine_stages, name,
                            counting(name, getattr(compiled, name + "_CTYPES")))
    through_ctypes = steps()
    assert set(calls) == used
    assert len(own) == len(through_ctypes) == 16
    for a, b in zip(own, through_ctypes, strict=True):
        a.elapsed_ms = b.elapsed_ms = 0.0
        assert a == b


def test_the_decision_calls_refuse_what_does_not_convert() -> None:
    untruncated = extension.function("untruncated")
    with pytest.raises(TypeError, match="takes 29 arguments"):
        untruncated(1, 2, 3)
    with pytest.raises(TypeError, match="argument 2 does not convert"):
        untruncated(0, "n", *([0] * 27))
    with pytest.raises(TypeError, match="argument 9 does not convert"):
        untruncated(0, 0, 0, None, 0, 0, 0, 0, "T", *([0] * 20))
    truncated, nucleus_draw = extension.function("truncated"), extension.function("nucleus_draw")
    with pytest.raises(TypeError, match="takes 23 arguments"):
        truncated()
    with pytest.raises(TypeError, match="takes 21 arguments"):
        nucleus_draw(*([0] * 22))


def test_the_logits_row_is_llama_cpps(engine) -> None:
    """The loop asks llama.cpp for the last token's logits through the extension: the same
    address as through ctypes."""
    from tokenwise.core.engine import local

    assert local._LOGITS_ROW is not None
    ids = engine.render_chat([ChatMessage("user", "Hello")]).token_ids
    engine._trim(0)
    assert engine._decode(ids, 0, None)
    via_c = local._LOGITS_ROW(local._LOGITS_FN, engine._ctx_address, -1)
    assert via_c == local._LOGITS_ADDRESS(engine.ctx, -1) != 0
    assert engine._logits().ctypes.data == via_c
    with pytest.raises(ValueError, match="no function"):
        local._LOGITS_ROW(0, engine._ctx_address, -1)
    with pytest.raises(TypeError, match="does not convert"):
        local._LOGITS_ROW(local._LOGITS_FN, "ctx", -1)
    engine._trim(0)


def test_untruncated_numbers_reads_what_the_call_wrote() -> None:
    import numpy as np

    read = extension.UNTRUNCATED_NUMBERS
    k = 4
    out = np.zeros(10 + 4 * k)
    out[:10] = [2.5, 7, 0.25, 5, 3.0, 1.5, 2.0, -0.125, 3, 2]
    out[10:13] = [7, 1, 9]
    out[14:17] = [3.0, 2.5, -1.0]
    out[18:20] = [1, 9]
    out[22:24] = [2.5, -1.5]
    with_pen = read(out.ctypes.data, k, 1, 1)
    assert with_pen == (True, 2.5, 7.0, 0.25, 3.0, 1.5, 2.0, -0.125, [7, 1, 9],
                        [3.0, 2.5, -1.0], [1, 9], [2.5, -1.5])
    assert all(type(i) is int for i in with_pen[8] + with_pen[10])
    plain = read(out.ctypes.data, k, 0, 0)
    assert plain[5] is None and plain[6] is None and plain[11] is None
    assert plain[10] is plain[8]  # no penalties: the best after them are the candidates
    out[5] = float("nan")
    assert read(out.ctypes.data, k, 1, 0)[0] is False  # z not a positive number
    assert read(out.ctypes.data, k, 0, 0)[0] is True  # not computed: not checked
    out[4] = float("inf")
    assert read(out.ctypes.data, k, 0, 0)[0] is False  # the max is not finite
    out[8] = k + 1
    with pytest.raises(ValueError, match="counts past"):
        read(out.ctypes.data, k, 1, 1)
    with pytest.raises(ValueError, match="no numbers"):
        read(0, k, 1, 1)
    with pytest.raises(TypeError):
        read(out.ctypes.data, k, 1)
