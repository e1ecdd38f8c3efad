"""Responses of servers that cannot run here, in the shapes their documentation records:

- vLLM: the OpenAI-compatible server's protocol (ChatCompletionLogProbsContent: token, logprob,
  bytes, top_logprobs; the legacy completions logprobs with ``return_tokens_as_token_ids``
  keys "token_id:N"), its /version, /tokenize (count, max_model_len, tokens) and /detokenize
  (prompt), its /v1/models entries (owned_by "vllm", max_model_len), its error object.
- SGLang: /v1/models (owned_by "sglang"), /get_model_info (model_path), OpenAI chat chunks.
- Ollama 0.12.11+: /v1/models (owned_by "library"), /api/version, OpenAI chat chunks with
  logprobs.content, its OpenAI-layer error for a model that is not pulled.
Values (ids, log-probabilities) are those of the documentation's examples' kind: made to be
checked against, not measured.
"""

from __future__ import annotations

from typing import Any

from replayserver import ReplayServer, Reply

VLLM_MODEL = "Qwen/Qwen2.5-1.5B-Instruct"


def _entry(token: str, logprob: float, top: list[tuple[str, float]],
           *, byte_values: bool = True) -> dict[str, Any]:
    return {"token": token, "logprob": logprob,
            "bytes": list(token.encode()) if byte_values else None,
            "top_logprobs": [{"token": t, "logprob": lp,
                              "bytes": list(t.encode()) if byte_values else None}
                             for t, lp in top]}


def _chat_chunk(model: str, content: str | None, entries: list[dict[str, Any]] | None,
                finish: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {} if content is None else {"content": content}
    return {"id": "chatcmpl-8f2", "object": "chat.completion.chunk", "created": 1762892000,
            "model": model, "choices": [{
                "index": 0, "delta": delta,
                "logprobs": None if entries is None else {"content": entries},
                "finish_reason": finish}]}


def vllm(server: ReplayServer) -> None:
    model = {"id": VLLM_MODEL, "object": "model", "created": 1762892000, "owned_by": "vllm",
             "root": VLLM_MODEL, "parent": None, "max_model_len": 32768, "permission": []}
    server.routes[("GET", "/v1/models")] = Reply({"object": "list", "data": [model]})
    server.routes[("GET", "/version")] = Reply({"version": "0.11.0"})
    server.routes[("POST", "/tokenize")] = Reply(
        {"count": 6, "max_model_len": 32768, "tokens": [151644, 872, 198, 13048, 151645, 198],
         "token_strs": None})
    server.routes[("POST", "/detokenize")] = Reply(
        {"prompt": "<|im_start|>user\nHi<|im_end|>\n"})
    events: list[Any] = []
    for tid, lp, text, alt in ((9707, -0.0212, "Hello", (13048, -3.96)),
                               (0, -0.4812, "!", (11, -1.12)),
                               (2585, -0.0031, " How", (3555, -6.02))):
        events.append({"id": "cmpl-1a", "object": "text_completion", "created": 1762892000,
                       "model": VLLM_MODEL, "choices": [{
                           "index": 0, "text": text, "logprobs": {
                               "text_offset": [0], "token_logprobs": [lp],
                               "tokens": [f"token_id:{tid}"],
                               "top_logprobs": [{f"token_id:{tid}": lp,
                                                 f"token_id:{alt[0]}": alt[1]}]},
                           "finish_reason": None, "stop_reason": None}], "usage": None})
    events.append({"id": "cmpl-1a", "object": "text_completion", "created": 1762892000,
                   "model": VLLM_MODEL, "choices": [{
                       "index": 0, "text": "", "logprobs": None, "finish_reason": "length",
                       "stop_reason": None}], "usage": None})
    server.routes[("POST", "/v1/completions")] = Reply(events=events)


def vllm_unknown_model(server: ReplayServer) -> None:
    server.routes[("POST", "/v1/completions")] = Reply(
        {"object": "error", "message": "The model `other-model` does not exist.",
         "type": "NotFoundError", "param": None, "code": 404}, status=404)


def sglang(server: ReplayServer) -> None:
    name = "meta-llama/Llama-3.1-8B-Instruct"
    server.routes[("GET", "/v1/models")] = Reply({"object": "list", "data": [
        {"id": name, "object": "model", "created": 1762892000, "owned_by": "sglang",
         "root": name, "max_model_len": 131072}]})
    server.routes[("GET", "/get_model_info")] = Reply(
        {"model_path": name, "tokenizer_path": name, "is_generation": True})
    server.routes[("POST", "/v1/chat/completions")] = Reply(events=[
        _chat_chunk(name, "", None),
        _chat_chunk(name, "Blue", [_entry("Blue", -0.105, [("Blue", -0.105), ("Red", -2.4)])]),
        _chat_chunk(name, ",", [_entry(",", -0.02, [(",", -0.02), (" and", -4.1)])]),
        _chat_chunk(name, None, None, "stop"),
        {"id": "chatcmpl-8f2", "object": "chat.completion.chunk", "created": 1762892000,
         "model": name, "choices": [],
         "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}},
    ])


def ollama(server: ReplayServer, *, with_logprobs: bool = True) -> None:
    name = "gemma3:latest"
    server.routes[("GET", "/v1/models")] = Reply({"object": "list", "data": [
        {"id": name, "object": "model", "created": 1762892000, "owned_by": "library"}]})
    server.routes[("GET", "/api/version")] = Reply({"version": "0.12.11"})
    words = [("Hello", -0.0123, [("Hello", -0.0123), ("Hi", -4.52)]),
             ("!", -0.25, [("!", -0.25), (".", -1.51)])]
    server.routes[("POST", "/v1/chat/completions")] = Reply(events=[
        *(_chat_chunk(name, w, [_entry(w, lp, top)] if with_logprobs else None)
          for w, lp, top in words),
        _chat_chunk(name, "", None, "stop"),
    ])


def ollama_not_pulled(server: ReplayServer) -> None:
    server.routes[("POST", "/v1/chat/completions")] = Reply(
        {"error": {"message": 'model "llama9" not found, try pulling it first',
                   "type": "api_error", "param": None, "code": None}}, status=404)
