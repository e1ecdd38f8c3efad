"""vLLM, SGLang and Ollama (which cannot run here) through the real client code: their
documented responses replayed by a loopback server; and the transport errors, each with a
clear message (refused, TLS, timeout, a server that ignores logprobs)."""

from __future__ import annotations

import math
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import recorded

from llamaservers import free_port
from replayserver import ReplayServer, Reply
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.remote import RemoteClient, connect, probe
from tokenwise.core.remote.client import RemoteError, UnknownModelError
from tokenwise.core.sampling.settings import PRESETS

GREEDY = PRESETS["Greedy"]


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    yield server
    server.stop()


def test_vllm_prompt_ids_and_token_id_logprobs(replay: ReplayServer) -> None:
    recorded.vllm(replay)
    engine = connect(replay.base_url, server_name="gpu box")
    try:
        assert engine.probe.kind == "vllm" and engine.probe.version == "0.11.0"
        assert engine.info.n_ctx == 32768
        assert engine.info.capabilities.branching
        assert "raw log-probabilities" in engine.probability_label
        rendered = engine.render_chat([ChatMessage("user", "Hi")])
        assert rendered.token_ids == [151644, 872, 198, 13048, 151645, 198]
        assert rendered.text.startswith("<|im_start|>user")
        stream = engine.generate(GenerationRequest(rendered.token_ids,
                                                   GREEDY.with_(max_tokens=3)))
        steps = list(stream)
    finally:
        engine.close()
    assert [s.token_id for s in steps] == [9707, 0, 2585]
    assert "".join(s.text for s in steps) == "Hello! How"
    assert steps[0].prob == pytest.approx(math.exp(-0.0212))
    assert [c.token_id for c in steps[0].candidates] == [9707, 13048]
    assert steps[-1].stop_reason == "max_tokens"
    sent = replay.requests_to("/v1/completions")[-1].body
    assert sent["prompt"] == rendered.token_ids and sent["logprobs"] == 20
    assert sent["return_tokens_as_token_ids"] is True and sent["model"] == recorded.VLLM_MODEL
    assert sent["repetition_penalty"] == 1.0 and "repeat_penalty" not in sent
    assert stream.result is not None
    assert stream.result.details["honoured"]["repetition_penalty"] == 1.0  # type: ignore[index]


def test_vllm_unknown_model_error_is_named(replay: ReplayServer) -> None:
    recorded.vllm(replay)
    recorded.vllm_unknown_model(replay)
    engine = connect(replay.base_url)
    try:
        stream = engine.generate(GenerationRequest([1, 2, 3], GREEDY.with_(max_tokens=2)))
        with pytest.raises(UnknownModelError, match="does not exist"):
            list(stream)
    finally:
        engine.close()


def test_sglang_chat_stream(replay: ReplayServer) -> None:
    recorded.sglang(replay)
    engine = connect(replay.base_url)
    try:
        assert engine.probe.kind == "sglang" and engine.info.n_ctx == 131072
        assert not engine.info.capabilities.branching
        assert engine.probability_label == "as reported by the server"
        engine.render_chat([ChatMessage("user", "Colours?")])
        stream = engine.generate(GenerationRequest([], GREEDY.with_(max_tokens=5)))
        steps = list(stream)
    finally:
        engine.close()
    assert [s.text for s in steps] == ["Blue", ","]
    assert [s.token_id for s in steps] == [-1, -1]  # SGLang's chat sends no ids
    assert steps[0].candidates[1].piece == b"Red" and steps[0].rank == 1
    assert steps[-1].stop_reason == "eog"
    sent = replay.requests_to("/v1/chat/completions")[-1].body
    assert sent["logprobs"] is True and sent["top_logprobs"] == 20
    assert sent["messages"] == [{"role": "user", "content": "Colours?"}]
    assert stream.result is not None and stream.result.details["usage"]["total_tokens"] == 14  # type: ignore[index]


def test_ollama_chat_stream_and_labels(replay: ReplayServer) -> None:
    recorded.ollama(replay)
    engine = connect(replay.base_url)
    try:
        assert engine.probe.kind == "ollama" and engine.probe.version == "0.12.11"
        assert "not scaled by the temperature" in engine.probability_label
        assert engine.info.n_ctx == 0  # not reported: not invented
        engine.render_chat([ChatMessage("user", "Hi")])
        steps = list(engine.generate(GenerationRequest([], GREEDY.with_(max_tokens=9))))
    finally:
        engine.close()
    assert [s.text for s in steps] == ["Hello", "!"]
    assert steps[1].prob == pytest.approx(math.exp(-0.25))
    sent = replay.requests_to("/v1/chat/completions")[-1].body
    assert "top_k" not in sent and "min_p" not in sent  # its OpenAI layer takes neither


def test_ollama_model_not_pulled(replay: ReplayServer) -> None:
    recorded.ollama(replay)
    recorded.ollama_not_pulled(replay)
    engine = connect(replay.base_url)
    try:
        engine.render_chat([ChatMessage("user", "Hi")])
        with pytest.raises(UnknownModelError, match="not found, try pulling"):
            list(engine.generate(GenerationRequest([], GREEDY)))
    finally:
        engine.close()


def test_server_that_ignores_logprobs_says_so(replay: ReplayServer) -> None:
    recorded.ollama(replay, with_logprobs=False)
    engine = connect(replay.base_url)
    try:
        engine.render_chat([ChatMessage("user", "Hi")])
        stream = engine.generate(GenerationRequest([], GREEDY))
        steps = list(stream)
    finally:
        engine.close()
    assert "".join(s.text for s in steps) == "Hello!"
    assert all(math.isnan(s.prob) and not s.candidates for s in steps)
    assert stream.result is not None and "sent no probabilities" in str(
        stream.result.details["note"])


def test_connection_refused_is_clear() -> None:
    client = RemoteClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RemoteError, match="Connection refused"):
        probe(client)


def test_a_stalled_server_times_out(replay: ReplayServer) -> None:
    replay.routes[("GET", "/v1/models")] = Reply({"data": []}, hold=threading.Event())
    client = RemoteClient(replay.base_url, timeout=0.3)
    with pytest.raises(RemoteError, match="did not answer /v1/models within"):
        probe(client)


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_tls_untrusted_then_trusted_with_its_ca_certificate(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ReplayServer().start(tls=context)
    recorded.ollama(server)
    try:
        with pytest.raises(RemoteError, match=r"TLS failed.*CA certificate"):
            probe(RemoteClient(server.base_url))
        with RemoteClient(server.base_url, ca_cert=str(cert)) as client:
            assert probe(client).kind == "ollama"
        with pytest.raises(RemoteError, match="cannot be read"):
            RemoteClient(server.base_url, ca_cert=str(tmp_path / "missing.pem"))
    finally:
        server.stop()


def test_plain_http_server_asked_for_tls(replay: ReplayServer) -> None:
    recorded.ollama(replay)
    with pytest.raises(RemoteError, match="TLS failed"):
        probe(RemoteClient(replay.base_url.replace("http://", "https://")))
