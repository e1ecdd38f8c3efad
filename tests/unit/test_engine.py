"""The engine on the real starter model: steps, stages, draws, stop reasons, streaming."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from tokenwise.core.errors import ContextOverflowError
from tokenwise.core.interface import (
    TOKEN_BYTE,
    TOKEN_SPECIAL,
    ChatMessage,
    GenerationRequest,
)
from tokenwise.core.sampling.pipeline import run_stages
from tokenwise.core.sampling.settings import PRESETS, SamplerSettings
from tokenwise.core.sampling.stages import STAGE_ORDER
from tokenwise.core.trace.json import trace_from_json, trace_to_json
from tokenwise.core.trace.packed import pack_steps, unpack_steps
from tokenwise.core.trace.records import (
    STOP_CANCELLED,
    STOP_EOG,
    STOP_MAX_TOKENS,
    STOP_STRING,
    Trace,
)


def _prompt(engine, text: str) -> list[int]:
    return engine.render_chat([ChatMessage("user", text)]).token_ids


def _run(engine, ids, settings, **kw):
    stream = engine.generate(GenerationRequest(ids, settings, **kw))
    steps = list(stream)
    return steps, stream.result


def test_model_info(engine) -> None:
    info = engine.info
    assert info.name == "SmolLM2-135M-Instruct"
    assert info.architecture == "llama"
    assert info.vocab_size == 49152
    assert info.quantization == "Q4_1"
    assert info.layers == 30
    assert info.has_chat_template
    assert info.backend == "CPU" or info.gpu_layers > 0
    assert 130e6 < info.parameters < 140e6


def test_step_records_are_consistent(engine) -> None:
    steps, result = _run(engine, _prompt(engine, "Name three colours."),
                         PRESETS["Balanced"].with_(seed=11, max_tokens=24), top_k_display=32)
    assert result.n_tokens == len(steps) > 0
    for step in steps:
        probs = [c.prob for c in step.candidates]
        assert probs == sorted(probs, reverse=True)
        assert len(step.candidates) == 32
        assert 0 < sum(probs) <= 1.0 + 1e-6
        # raw probabilities are the softmax over the whole vocabulary
        for c in step.candidates[:5]:
            assert c.prob == pytest.approx(math.exp(c.logit - step.log_z), rel=1e-5)
        assert step.prob == pytest.approx(math.exp(step.logit - step.log_z), rel=1e-5)
        if step.rank <= 32:
            assert step.candidates[step.rank - 1].token_id == step.token_id
        assert step.entropy >= 0
        assert [s.name for s in step.stages] == list(STAGE_ORDER)
        survivors = [s.survivors for s in step.stages]
        assert survivors == sorted(survivors, reverse=True)
        final = step.stages[-1]
        assert step.token_id in final.ids or final.survivors > 32
        assert sum(final.probs) == pytest.approx(1.0, abs=1e-4) or final.survivors > 32
        assert step.final_prob == pytest.approx(final.prob_of(step.token_id), rel=1e-5)
    assert "".join(s.text for s in steps) == result.text


def test_native_stages_agree_with_numpy_pipeline(engine) -> None:
    """llama.cpp's own samplers and the what-if pipeline keep the same survivors."""
    settings = PRESETS["Balanced"].with_(seed=5, max_tokens=16, top_k=30, min_p=0.02)
    steps, _ = _run(engine, _prompt(engine, "Tell me about rivers."), settings,
                    top_k_display=50)
    for step in steps:
        ids = np.array([c.token_id for c in step.candidates], dtype=np.int32)
        logits = np.array([c.logit for c in step.candidates], dtype=np.float32)
        preview = {r.name: r for r in run_stages(ids, logits, settings)}
        for stage in step.stages[1:]:
            mine = preview[stage.name]
            assert mine.survivors == stage.survivors, stage.name
            assert mine.ids[: len(stage.ids)].tolist() == list(stage.ids)
            assert mine.probs[: len(stage.probs)].tolist() == pytest.approx(
                list(stage.probs), rel=1e-4, abs=1e-6)


def test_greedy_is_argmax(engine) -> None:
    steps, _ = _run(engine, _prompt(engine, "What is 2 + 2?"), PRESETS["Greedy"].with_(
        max_tokens=20))
    for step in steps:
        assert step.rank == 1
        assert step.token_id == step.candidates[0].token_id
        assert step.final_prob == 1.0


def test_same_seed_same_tokens(engine) -> None:
    ids = _prompt(engine, "Write a short poem about the sea.")
    s = PRESETS["Creative"].with_(seed=1234, max_tokens=30)
    first, _ = _run(engine, ids, s)
    second, _ = _run(engine, ids, s)
    other, _ = _run(engine, ids, s.with_(seed=99))
    assert [x.token_id for x in first] == [x.token_id for x in second]
    assert [x.token_id for x in first] != [x.token_id for x in other]


def test_draws_follow_the_recorded_final_distribution(engine) -> None:
    """Thousands of draws from one step's distribution: a chi-square goodness-of-fit test."""
    from tokenwise.core.engine.stages import StepSampler

    ids = _prompt(engine, "Pick a random animal.")
    engine._prepare(ids)
    engine._decode(ids[len(engine._cached):], len(engine._cached), None)
    logits = engine._logits().copy()
    settings = SamplerSettings(temperature=1.5, top_k=8, top_p=1.0, min_p=0.0)
    sampler = StepSampler(engine._buffer, engine.n_vocab, settings, 42, [], 8)
    try:
        first = sampler.step(logits)
        final = first.stages[-1]
        counts = dict.fromkeys(final.ids, 0)
        n = 4000
        for _ in range(n):
            counts[sampler.step(logits).token_id] += 1
    finally:
        sampler.close()
    expected = np.array(final.probs) * n
    observed = np.array([counts[t] for t in final.ids])
    assert expected.min() > 5, "test needs every cell populated"
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    dof = len(final.ids) - 1
    # Wilson-Hilferty: the chi-square quantile at p = 0.999
    z = 3.09
    critical = dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3
    assert chi2 < critical, (chi2, critical, observed.tolist(), expected.round(1).tolist())
    # and it is not just the argmax: the second candidate was drawn often
    assert observed[1] > 0.5 * expected[1]


def test_stop_on_end_of_generation(engine) -> None:
    steps, result = _run(engine, _prompt(engine, "Say just the word: yes"),
                         PRESETS["Greedy"].with_(max_tokens=200))
    assert result.stop_reason == STOP_EOG
    assert steps[-1].stop_reason == STOP_EOG
    assert engine.is_eog(steps[-1].token_id)
    assert steps[-1].text == ""


def test_stop_on_max_tokens(engine) -> None:
    steps, result = _run(engine, _prompt(engine, "Write a long story."),
                         PRESETS["Greedy"].with_(max_tokens=7))
    assert len(steps) == 7
    assert result.stop_reason == STOP_MAX_TOKENS == steps[-1].stop_reason


def test_stop_string(engine) -> None:
    ids = engine.token_ids("1, 2, 3, 4, 5, 6,", add_special=True)
    _, result = _run(engine, ids, PRESETS["Greedy"].with_(max_tokens=40),
                     stop_strings=("9",))
    assert result.stop_reason == STOP_STRING
    assert "9" not in result.text
    assert "8" in result.text


def test_cancel_between_tokens(engine) -> None:
    cancel = threading.Event()
    stream = engine.generate(GenerationRequest(
        _prompt(engine, "Write a long story."), PRESETS["Greedy"].with_(max_tokens=100)), cancel)
    got = [next(stream), next(stream), next(stream)]
    cancel.set()
    assert list(stream) == []
    assert stream.result is not None
    assert stream.result.stop_reason == STOP_CANCELLED
    assert stream.result.n_tokens == len(got) == 3


class _CancelAfter(threading.Event):
    """An Event that turns itself on after being asked n times (mid prompt evaluation)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.asked = 0
        self.n = n

    def is_set(self) -> bool:
        self.asked += 1
        return self.asked > self.n or super().is_set()


def test_cancel_during_long_prompt_evaluation(engine) -> None:
    long_text = " ".join(f"word{i}" for i in range(500))
    ids = engine.token_ids(long_text, add_special=True)
    engine._trim(0)
    cancel = _CancelAfter(20)
    stream = engine.generate(GenerationRequest(ids, PRESETS["Greedy"].with_(max_tokens=5)),
                             cancel)
    assert list(stream) == []
    assert stream.result.stop_reason == STOP_CANCELLED
    assert len(engine._cached) < len(ids)  # stopped part-way, the cache trimmed to match
    # the engine still works afterwards
    steps, _ = _run(engine, _prompt(engine, "Hi"), PRESETS["Greedy"].with_(max_tokens=3))
    assert len(steps) == 3


def test_follow_up_reuses_the_kv_cache(engine, starter_model_path) -> None:
    from tokenwise.core.engine.local import Engine

    first = _prompt(engine, "Name a fruit.")
    steps, _ = _run(engine, first, PRESETS["Greedy"].with_(max_tokens=10))
    reply = [s.token_id for s in steps]
    follow = first + reply + engine.token_ids("\nAnd a vegetable?", add_special=False)
    steps2, result2 = _run(engine, follow, PRESETS["Greedy"].with_(max_tokens=10))
    assert result2.reused_tokens >= len(first) + len(reply) - 1
    # the same tokens as a fresh context evaluating everything
    with Engine(starter_model_path, n_ctx=2048, preflight=False) as fresh:
        steps3, result3 = _run(fresh, follow, PRESETS["Greedy"].with_(max_tokens=10))
    assert result3.reused_tokens == 0
    assert [s.token_id for s in steps2] == [s.token_id for s in steps3]


def test_branch_forces_the_first_token(engine) -> None:
    ids = _prompt(engine, "What colour is the sky?")
    base, _ = _run(engine, ids, PRESETS["Greedy"].with_(max_tokens=5))
    alternative = base[0].candidates[3].token_id
    steps, _ = _run(engine, ids, PRESETS["Greedy"].with_(max_tokens=5),
                    forced_first_token=alternative)
    assert steps[0].token_id == alternative and steps[0].forced
    assert steps[0].rank == 4
    assert steps[0].candidates == base[0].candidates  # same context, same distribution
    assert not steps[1].forced


def test_context_full(starter_model_path) -> None:
    from tokenwise.core.engine.local import Engine
    from tokenwise.core.trace.records import STOP_CONTEXT_FULL

    with Engine(starter_model_path, n_ctx=64, preflight=False) as small:
        ids = small.token_ids("Count: 1 2 3 4 5 6 7 8 9 10", add_special=True)
        steps, result = _run(small, ids, PRESETS["Greedy"].with_(max_tokens=500))
        assert result.stop_reason == STOP_CONTEXT_FULL
        assert len(ids) + len(steps) == small.n_ctx
        with pytest.raises(ContextOverflowError, match="context"):
            small.generate(GenerationRequest(list(range(100, 100 + small.n_ctx)),
                                             PRESETS["Greedy"]))


def test_long_chat_drops_oldest_turns(starter_model_path) -> None:
    from tokenwise.core.engine.local import Engine

    with Engine(starter_model_path, n_ctx=256, preflight=False) as small:
        messages = [ChatMessage("system", "You are terse.")]
        for i in range(30):
            messages.append(ChatMessage("user", f"Question number {i} about apples?"))
            messages.append(ChatMessage("assistant", f"Answer {i}: apples are fruit."))
        messages.append(ChatMessage("user", "Last question?"))
        rendered = small.render_chat(messages, reserve=64)
        assert len(rendered.token_ids) <= small.n_ctx - 64
        assert rendered.dropped_messages > 0
        assert "left out" in rendered.note
        assert "You are terse." in rendered.text and "Last question?" in rendered.text
        assert "Question number 0 " not in rendered.text
        steps, result = _run(small, rendered.token_ids,
                             PRESETS["Greedy"].with_(max_tokens=8))
        assert steps and "\ufffd" not in result.text


def test_chinese_and_emoji_stream_without_replacement_characters(engine) -> None:
    text = "我喜欢学习中文。😀 我喜欢学习中文。😀 我喜欢学习中文。😀 我喜欢"
    ids = engine.token_ids(text, add_special=True)
    steps, result = _run(engine, ids, PRESETS["Greedy"].with_(max_tokens=40))
    generated = [s.token_id for s in steps if not engine.is_eog(s.token_id)]
    assert "".join(s.text for s in steps) == result.text == engine.detokenize(generated)
    assert "\ufffd" not in result.text
    assert any(s.piece and s.text == "" for s in steps) or "学" in result.text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in result.text)


def test_byte_fragments_and_special_tokens(engine) -> None:
    tokens = engine.tokenize("工")
    assert [t.kind for t in tokens] == [TOKEN_BYTE, TOKEN_BYTE]
    assert b"".join(t.piece for t in tokens) == "工".encode()
    assert all(t.builds == "工" for t in tokens)
    assert tokens[0].display == "<0xE5><0xB7>"
    rendered = engine.render_chat([ChatMessage("system", "Be brief."),
                                   ChatMessage("user", "Hi")])
    described = engine.describe(rendered.token_ids)
    specials = [t.display for t in described if t.kind == TOKEN_SPECIAL]
    assert specials.count("<|im_start|>") == 3 and "<|im_end|>" in specials
    assert engine.detokenize(rendered.token_ids, special=True) == rendered.text


def test_pieces_longer_than_32_bytes(engine) -> None:
    long_ids = [t for t in range(engine.n_vocab) if len(engine.piece(t)) > 32]
    assert long_ids, "the starter vocabulary has long pieces"
    piece = engine.piece(long_ids[0])
    text = piece.decode("utf-8")
    assert engine.detokenize(engine.token_ids(text)) == text


def test_trace_round_trips(engine) -> None:
    steps, result = _run(engine, _prompt(engine, "说一句中文"),
                         PRESETS["Balanced"].with_(seed=3, max_tokens=20))
    trace = Trace(steps=steps, model=engine.info.name, settings={"seed": 3},
                  prompt_tokens=result.prompt_tokens, stop_reason=result.stop_reason,
                  text=result.text)
    again = trace_from_json(trace_to_json(trace))
    assert again.steps == steps
    assert again.text == result.text
    packed = pack_steps(steps)
    assert len(packed) / len(steps) < 2048
    for a, b in zip(unpack_steps(packed), steps, strict=True):
        assert a.token_id == b.token_id and a.text == b.text and a.piece == b.piece
        assert a.prob == pytest.approx(b.prob, rel=1e-6)
        assert [c.token_id for c in a.candidates] == [c.token_id for c in b.candidates]
        assert [s.survivors for s in a.stages] == [s.survivors for s in b.stages]


def test_automatic_threads_give_one_up_when_decodes_stall(starter_model_path) -> None:
    import llama_cpp

    from tokenwise.core.engine.local import Engine
    from tokenwise.core.engine.threads import RETRY_AFTER

    with Engine(starter_model_path, n_ctx=256, n_threads=None, preflight=False) as eng:
        if eng.n_threads < 2:
            pytest.skip("one core: nothing to give up")
        start = eng.threads_now
        for _ in range(30):
            eng.watch_decode(0.007)
        assert eng.threads_now == start  # steady decodes keep every thread
        eng.watch_decode(0.5)
        eng.watch_decode(0.6)
        assert eng.threads_now == start - 1
        assert llama_cpp.llama_n_threads(eng.ctx) == start - 1
        for _ in range(RETRY_AFTER):
            eng.watch_decode(0.007)
        assert eng.threads_now == start  # tried again once the machine was quiet
    with Engine(starter_model_path, n_ctx=256, n_threads=2, preflight=False) as fixed:
        assert not fixed.adaptive_threads  # a number chosen in Settings is kept


def test_a_context_the_machine_cannot_hold_is_refused_before_loading(
        starter_model_path, monkeypatch) -> None:
    """The machine is made small by its memory probe (it cannot be made small for real)."""
    from tokenwise.core.engine.local import Engine
    from tokenwise.core.models import fit

    monkeypatch.setattr(fit, "free_ram_bytes", lambda: 300_000_000)
    loads: list[str] = []
    monkeypatch.setattr("llama_cpp.llama_model_load_from_file",
                        lambda *args: loads.append("loaded") or None)
    with pytest.raises(ContextOverflowError) as refused:
        Engine(starter_model_path, n_ctx=8192, n_gpu_layers=0, preflight=False)
    message = str(refused.value)
    assert "8,192 tokens of context" in message and "does not fit in 300 MB" in message
    assert "smaller context length" in message
    assert loads == []  # refused before llama.cpp was asked to load anything
    monkeypatch.undo()
    monkeypatch.setattr(fit, "free_ram_bytes", lambda: 300_000_000)
    with Engine(starter_model_path, n_ctx=512, n_gpu_layers=0, preflight=False) as small:
        assert small.n_ctx == 512  # a context that fits still loads
