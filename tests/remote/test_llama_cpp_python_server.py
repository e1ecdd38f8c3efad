"""The remote engine against llama-cpp-python's server on loopback, starter model.

That server takes prompts as text only: the same token ids are sent as the local rendering's
text, and its /extras/tokenize shows that the server reads exactly those ids.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llamaservers import RunningServer
from tokenwise.core.interface import ChatMessage, GenerationRequest
from tokenwise.core.remote import RemoteEngine, connect
from tokenwise.core.remote.logprobs import chunk_tokens, make_step
from tokenwise.core.sampling.settings import PRESETS

MESSAGES = [ChatMessage("user", "Name three colours of the rainbow.")]
TOLERANCE = 2e-3


@pytest.fixture
def remote(lcp_server: RunningServer) -> Iterator[RemoteEngine]:
    engine = connect(lcp_server.base_url)
    yield engine
    engine.close()


def test_probe_and_capabilities(remote: RemoteEngine) -> None:
    assert remote.probe.kind == "llama-cpp-python"
    caps = remote.info.capabilities
    assert caps.tokenizer and not caps.branching and not caps.step_mode
    assert "token ids" in caps.reason("branching")
    rendered = remote.render_chat(MESSAGES)
    assert rendered.token_ids == [] and "applies its chat template" in rendered.note


def test_same_prompt_ids_give_the_local_tokens_and_probabilities(remote: RemoteEngine,
                                                                 local) -> None:
    rendered = local.render_chat(MESSAGES)
    served = remote.tokens.token_ids(rendered.text, add_special=True)
    if len(served) >= 2 and served[0] == served[1]:
        served = served[1:]
    assert served == rendered.token_ids  # the server reads the very same ids
    mine = list(local.generate(GenerationRequest(rendered.token_ids,
                                                 PRESETS["Greedy"].with_(max_tokens=16),
                                                 top_k_display=5)))
    body = {"prompt": rendered.text, "max_tokens": 16, "temperature": 0, "logprobs": 5,
            "stream": True}
    theirs = []
    for chunk in remote.client.stream("/v1/completions", body):
        reported, text, _finish = chunk_tokens(chunk)
        theirs += [make_step(len(theirs), r, text) for r in reported]
    assert [s.piece for s in theirs] == [s.piece for s in mine]
    for a, b in zip(theirs, mine, strict=True):
        assert abs(a.prob - b.prob) <= TOLERANCE, (a.index, a.prob, b.prob)


def test_chat_streams_with_probabilities(remote: RemoteEngine) -> None:
    remote.render_chat(MESSAGES)  # the messages for the chat endpoint
    stream = remote.generate(GenerationRequest([], PRESETS["Greedy"].with_(max_tokens=6),
                                               top_k_display=25))
    steps = list(stream)
    assert len(steps) == 6 and steps[-1].stop_reason == "max_tokens"
    assert all(0 < s.prob <= 1 and s.rank == 1 for s in steps)
    assert all(len(s.candidates) == 20 for s in steps)  # asked for 25: at most 20 are sent
    assert stream.result is not None
    assert stream.result.details["honoured"]["top_k"] == 0  # type: ignore[index]
