"""The remote engine against llama.cpp's own llama-server on loopback, starter model."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from llamaservers import TEST_API_KEY, RunningServer
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.remote import RemoteEngine, connect
from tokenwise.core.remote.client import AuthError, RemoteError, UnknownModelError
from tokenwise.core.sampling.settings import PRESETS
from tokenwise.core.trace.records import (
    STOP_CANCELLED,
    STOP_MAX_TOKENS,
    STOP_SERVER_CLOSED,
)

MESSAGES = [ChatMessage("system", "You are brief."),
            ChatMessage("user", "Name three colours of the rainbow.")]
GREEDY = PRESETS["Greedy"]
TOLERANCE = 2e-3


@pytest.fixture
def remote(llama_server: RunningServer) -> Iterator[RemoteEngine]:
    engine = connect(llama_server.base_url, server_name="loopback")
    yield engine
    engine.close()


def test_probe_says_what_the_server_is(remote: RemoteEngine) -> None:
    probe = remote.probe
    assert probe.kind == "llama-server"
    assert probe.context_length == 2048
    assert remote.info.n_ctx == 2048
    assert probe.tokenize and probe.apply_template and probe.prompt_ids == "completion"
    caps = remote.info.capabilities
    assert caps.branching and caps.step_mode and caps.tokenizer
    assert not caps.stage_view and "sampler stage" in caps.reason("stage_view")
    assert not caps.full_vocabulary and "top 20" in caps.reason("full_vocabulary")
    lines = "\n".join(probe.summary())
    assert "llama-server" in lines and "2,048" in lines and "before sampling" in lines


def test_apply_template_matches_the_local_rendering(remote: RemoteEngine, local) -> None:
    mine = local.render_chat(MESSAGES)
    theirs = remote.render_chat(MESSAGES)
    assert theirs.text == mine.text
    assert theirs.token_ids == mine.token_ids
    described = remote.describe(theirs.token_ids)
    assert b"".join(t.piece for t in described).decode() == mine.text
    assert described[0].kind == "special"  # <|im_start|>


def test_greedy_reply_matches_the_local_engine(remote: RemoteEngine, local) -> None:
    ids = local.render_chat(MESSAGES).token_ids
    settings = GREEDY.with_(max_tokens=24)
    mine = list(local.generate(GenerationRequest(ids, settings, top_k_display=5)))
    stream = remote.generate(GenerationRequest(ids, settings, top_k_display=5))
    theirs = list(stream)
    assert [s.token_id for s in theirs] == [s.token_id for s in mine]
    assert "".join(s.text for s in theirs) == "".join(s.text for s in mine)
    for a, b in zip(theirs, mine, strict=True):
        assert abs(a.prob - b.prob) <= TOLERANCE, (a.index, a.prob, b.prob)
        assert a.rank == 1
        for ca, cb in zip(a.candidates[:3], b.candidates[:3], strict=True):
            if abs(ca.prob - cb.prob) > TOLERANCE:  # near-ties may swap places
                other = next(c for c in b.candidates if c.token_id == ca.token_id)
                assert abs(ca.prob - other.prob) <= TOLERANCE
        assert math.isnan(a.entropy) and math.isnan(a.log_z)  # not reported: not invented
    assert theirs[-1].stop_reason == mine[-1].stop_reason
    result = stream.result
    assert result is not None and result.n_tokens == len(mine)
    honoured = result.details["honoured"]
    assert isinstance(honoured, dict) and honoured["temperature"] == 0
    assert "before sampling" in str(result.details["probabilities"])


def test_branch_forces_the_first_token(remote: RemoteEngine, local) -> None:
    ids = local.render_chat(MESSAGES).token_ids
    settings = GREEDY.with_(max_tokens=6)
    first = next(iter(local.generate(GenerationRequest(ids, settings, top_k_display=5))))
    alternative = first.candidates[1]
    mine = list(local.generate(GenerationRequest(ids, settings, top_k_display=5,
                                                 forced_first_token=alternative.token_id)))
    theirs = list(remote.generate(GenerationRequest(ids, settings, top_k_display=5,
                                                    forced_first_token=alternative.token_id)))
    assert theirs[0].forced and theirs[0].token_id == alternative.token_id
    assert abs(theirs[0].prob - alternative.prob) <= TOLERANCE
    assert [s.token_id for s in theirs] == [s.token_id for s in mine]
    assert theirs[-1].stop_reason == STOP_MAX_TOKENS


def test_cancel_closes_the_stream_at_once(remote: RemoteEngine, local) -> None:
    ids = local.render_chat([ChatMessage("user", "Write a long story about a ship.")]).token_ids
    cancel = threading.Event()
    stream = remote.generate(GenerationRequest(ids, PRESETS["Balanced"].with_(max_tokens=1500),
                                               extra={}), cancel)
    seen = []
    for step in stream:
        seen.append(step)
        if len(seen) == 3:
            cancel.set()
    assert 3 <= len(seen) <= 4
    assert stream.result is not None and stream.result.stop_reason == STOP_CANCELLED
    # the server is free again: a one-slot server would queue this behind a running reply
    again = list(remote.generate(GenerationRequest(ids, GREEDY.with_(max_tokens=2))))
    assert len(again) == 2


def test_wrong_key_and_missing_key_are_refused(keyed_llama_server: RunningServer) -> None:
    with pytest.raises(AuthError, match="refused the API key"):
        connect(keyed_llama_server.base_url, api_key="not-the-key")
    with pytest.raises(AuthError):
        connect(keyed_llama_server.base_url)
    engine = connect(keyed_llama_server.base_url, api_key=TEST_API_KEY)
    try:
        steps = list(engine.generate(GenerationRequest(
            engine.render_chat([ChatMessage("user", "Hi")]).token_ids,
            GREEDY.with_(max_tokens=3))))
        assert len(steps) == 3
    finally:
        engine.close()


def test_unknown_model_is_named(llama_server: RunningServer) -> None:
    with pytest.raises(UnknownModelError, match="no-such-model"):
        connect(llama_server.base_url, "no-such-model")


def test_server_killed_mid_stream_keeps_the_partial_reply(
        doomed_llama_server: RunningServer) -> None:
    engine = connect(doomed_llama_server.base_url)
    try:
        ids = engine.render_chat([ChatMessage("user", "Tell me a long story.")]).token_ids
        stream = engine.generate(GenerationRequest(ids, GREEDY.with_(max_tokens=1500)))
        steps = []
        for step in stream:
            steps.append(step)
            if len(steps) == 4:
                doomed_llama_server.kill()
        assert len(steps) >= 4
        assert steps[-1].stop_reason == STOP_SERVER_CLOSED
        result = stream.result
        assert result is not None and result.stop_reason == STOP_SERVER_CLOSED
        assert result.text == "".join(s.text for s in steps) and result.text
        assert "closed the connection" in str(result.details["error"])
        with pytest.raises(RemoteError, match="refused"):
            engine.render_chat([ChatMessage("user", "Hi")])
    finally:
        engine.close()


def test_tokenize_gives_pieces_and_detects_specials(remote: RemoteEngine, local) -> None:
    text = "<|im_start|>user\nnaïve café ✓"
    theirs = remote.tokenize(text)
    mine = local.tokenize(text)
    assert [t.token_id for t in theirs] == [t.token_id for t in mine]
    assert [t.piece for t in theirs] == [t.piece for t in mine]
    assert theirs[0].kind == "special" and theirs[1].kind == "normal"


def test_the_servers_context_is_respected(starter_model_path: Path, tmp_path: Path) -> None:
    from llamaservers import llama_server_binary, start_llama_server

    if llama_server_binary() is None:
        pytest.skip("llama-server is not built here: run tests/servers/build_llama_server.sh")
    server = start_llama_server(starter_model_path, tmp_path, n_ctx=256)
    try:
        with connect(server.base_url) as engine:
            assert engine.info.n_ctx == 256
            long_turn = "Tell me about the sea and the ships that sail on it. " * 6
            chat = []
            for i in range(6):
                chat += [ChatMessage("user", f"{i}: {long_turn}"),
                         ChatMessage("assistant", "Sure.")]
            chat.append(ChatMessage("user", "And now?"))
            rendered = engine.render_chat(chat, reserve=64)
            assert rendered.dropped_messages > 0
            assert len(rendered.token_ids) <= 256 - 64
            assert "256-token context" in rendered.note
            steps = list(engine.generate(GenerationRequest(rendered.token_ids,
                                                           GREEDY.with_(max_tokens=1000),
                                                           extra={"ignore_eog": True})))
            assert len(rendered.token_ids) + len(steps) <= 256
            assert steps[-1].stop_reason == "context_full"
    finally:
        server.stop()
