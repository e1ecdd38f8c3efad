"""The request bodies each server takes, and the sampler settings each one honours.

A setting a server does not take is left out of the request and out of the record kept with
the reply: the record says what the server was asked to do and could do, nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenwise.core.interface import ChatMessage
from tokenwise.core.remote.probe import (
    LLAMA_CPP_PYTHON,
    LLAMA_SERVER,
    OLLAMA,
    SGLANG,
    VLLM,
)
from tokenwise.core.sampling.settings import SamplerSettings

MAX_TOP_LOGPROBS = 20  # several servers refuse more

#: the settings each server's OpenAI layer takes beyond OpenAI's own
_EXTRA = {
    LLAMA_SERVER: ("top_k", "min_p", "repeat_penalty", "repeat_last_n"),
    LLAMA_CPP_PYTHON: ("top_k", "min_p", "repeat_penalty"),
    VLLM: ("top_k", "min_p", "repetition_penalty"),
    SGLANG: ("top_k", "min_p", "repetition_penalty"),
}


def top_n(requested: int) -> int:
    return max(1, min(MAX_TOP_LOGPROBS, requested))


def honoured(kind: str, settings: SamplerSettings, max_tokens: int) -> dict[str, Any]:
    """The sampler settings sent to a ``kind`` server's OpenAI layer (and taken by it)."""
    out: dict[str, Any] = {"temperature": settings.temperature, "top_p": settings.top_p,
                           "max_tokens": max_tokens,
                           "presence_penalty": settings.presence_penalty,
                           "frequency_penalty": settings.frequency_penalty}
    if settings.seed is not None:
        out["seed"] = settings.seed
    for name in _EXTRA.get(kind, ()):
        if name == "repetition_penalty":
            out[name] = settings.repeat_penalty
        else:
            out[name] = getattr(settings, name)
    if kind == OLLAMA:  # its OpenAI layer takes no top_k or min_p; OpenAI's penalties only
        pass
    return out


def chat_body(kind: str, model: str, messages: Sequence[ChatMessage],
              settings: SamplerSettings, max_tokens: int, top: int,
              stops: Sequence[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model, "stream": True, "logprobs": True, "top_logprobs": top_n(top),
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        **honoured(kind, settings, max_tokens),
    }
    if kind in (LLAMA_SERVER, VLLM, SGLANG):
        body["stream_options"] = {"include_usage": True}
    if kind == VLLM:
        body["return_tokens_as_token_ids"] = True  # ids, not just text, for each token
    if stops:
        body["stop"] = list(stops)
    return body


def completion_body(kind: str, model: str, prompt_ids: Sequence[int],
                    settings: SamplerSettings, max_tokens: int, top: int,
                    stops: Sequence[str], *, stream: bool = True,
                    post_sampling: bool = False) -> dict[str, Any]:
    """llama-server's /completion or vLLM's /v1/completions, the prompt as token ids."""
    body: dict[str, Any]
    if kind == LLAMA_SERVER:
        body = {
            "prompt": list(prompt_ids), "n_predict": max_tokens, "n_probs": top_n(top),
            "stream": stream, "cache_prompt": True, "return_tokens": True,
            "post_sampling_probs": post_sampling,
            "temperature": settings.temperature, "top_k": settings.top_k,
            "top_p": settings.top_p, "min_p": settings.min_p,
            "repeat_penalty": settings.repeat_penalty, "repeat_last_n": settings.repeat_last_n,
            "presence_penalty": settings.presence_penalty,
            "frequency_penalty": settings.frequency_penalty,
            "seed": settings.seed if settings.seed is not None else -1,
        }
    else:
        body = {"model": model, "prompt": list(prompt_ids), "stream": stream,
                "logprobs": top_n(top), "return_tokens_as_token_ids": True,
                **honoured(kind, settings, max_tokens)}
    if stops:
        body["stop"] = list(stops)
    return body


def completion_honoured(kind: str, settings: SamplerSettings, max_tokens: int) -> dict[str, Any]:
    if kind == LLAMA_SERVER:
        return {"temperature": settings.temperature, "top_k": settings.top_k,
                "top_p": settings.top_p, "min_p": settings.min_p,
                "repeat_penalty": settings.repeat_penalty,
                "repeat_last_n": settings.repeat_last_n,
                "presence_penalty": settings.presence_penalty,
                "frequency_penalty": settings.frequency_penalty, "max_tokens": max_tokens,
                **({"seed": settings.seed} if settings.seed is not None else {})}
    return honoured(kind, settings, max_tokens)


#: llama-server's generation_settings names for what Tokenwise calls them
_SERVER_NAMES = {"n_predict": "max_tokens", "penalty_repeat": "repeat_penalty",
                 "penalty_last_n": "repeat_last_n", "penalty_present": "presence_penalty",
                 "penalty_freq": "frequency_penalty"}
_KEEP = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n",
         "presence_penalty", "frequency_penalty", "seed", "max_tokens", "samplers",
         "n_probs", "post_sampling_probs")


def server_reported(generation_settings: dict[str, Any]) -> dict[str, Any]:
    """The sampler settings llama-server says it used (its final chunk), Tokenwise's names."""
    out: dict[str, Any] = {}
    for key, value in generation_settings.items():
        name = _SERVER_NAMES.get(key, key)
        if name in _KEEP:
            out[name] = value
    return out
