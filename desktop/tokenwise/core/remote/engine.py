"""The remote engine: the ChatEngine protocol over an inference server's HTTP API.

Where the server takes the prompt as token ids and applies its chat template on request
(llama-server, vLLM) the chat is rendered and tokenized by the server, then written through
the completion endpoint: the prompt's tokens show, a reply can branch, and step mode works.
Elsewhere the chat goes to ``/v1/chat/completions`` as messages and those views say why they
are unavailable. Each reply's steps carry what the server reported, nothing invented.
"""

from __future__ import annotations

import codecs
import logging
import math
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from tokenwise.core.errors import ContextOverflowError, TokenwiseError
from tokenwise.core.i18n import N_, _
from tokenwise.core.interface import (
    Capabilities,
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    GenerationStream,
    ModelInfo,
    RenderedPrompt,
    Token,
)
from tokenwise.core.remote import bodies
from tokenwise.core.remote.client import RemoteClient, RemoteError, StreamCutError
from tokenwise.core.remote.logprobs import UNKNOWN_ID, Reported, chunk_tokens, make_step
from tokenwise.core.remote.probe import LLAMA_CPP_PYTHON, LLAMA_SERVER, ServerProbe
from tokenwise.core.remote.servers import display_name
from tokenwise.core.remote.tokens import RemoteTokenizer
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.records import (
    STOP_CANCELLED,
    STOP_CONTEXT_FULL,
    STOP_EOG,
    STOP_MAX_TOKENS,
    STOP_SERVER_CLOSED,
    STOP_STRING,
    Candidate,
    Step,
)

log = logging.getLogger(__name__)

_FINISH = {"stop": STOP_EOG, "eos": STOP_EOG, "length": STOP_MAX_TOKENS,
           "limit": STOP_MAX_TOKENS, "word": STOP_STRING}


def capabilities(probe: ServerProbe) -> Capabilities:
    """What a reply through this server can show, and why the rest cannot."""
    ids = bool(probe.prompt_ids and probe.apply_template)
    why_ids = N_("This server takes no prompt as token ids, or does not apply its chat "
                 "template on request: a reply cannot be resumed from a chosen token.")
    reasons = (  # marked here, translated when read (Capabilities.reason)
        ("stage_view", N_("A server reports one distribution per token, not each sampler "
                          "stage.")),
        ("tokenizer", N_("This server has no /tokenize endpoint.")),
        ("step_mode", why_ids),
        ("branching", why_ids),
        ("beam_search", N_("Beam search runs only with a local model.")),
        ("scoring", N_("Scoring a text runs only with a local model.")),
        ("full_vocabulary", N_("A server reports only its top 20 candidates: no normaliser or "
                               "entropy over the whole vocabulary.")),
    )
    return Capabilities(stage_view=False, tokenizer=bool(probe.tokenize), step_mode=ids,
                        branching=ids, reasons=reasons)


class RemoteEngine:
    """One model on one server. Like the local engine: one thread uses it."""

    def __init__(self, client: RemoteClient, probe: ServerProbe, model: str, *,
                 server_name: str = "", post_sampling: bool = False, path: str = "") -> None:
        self.client = client
        self.probe = probe
        self.model = model
        self.server_name = server_name or probe.base_url
        self.post_sampling = post_sampling and probe.kind == LLAMA_SERVER
        self.tokens = RemoteTokenizer(client, probe, model)
        ctx = probe.context_for(model) or 0
        self.use_ids = bool(probe.prompt_ids and probe.apply_template)
        self.probability_label = (bodies_label(probe, self.post_sampling))
        self._messages: list[ChatMessage] = []
        self.info = ModelInfo(
            path=path or f"remote:{self.server_name}/{model}", name=display_name(model),
            architecture="remote",
            parameters=0, quantization="", file_size=0, context_length=ctx, n_ctx=ctx,
            vocab_size=0, layers=0, has_chat_template=True,
            backend=f"{probe.label} at {self.server_name}", gpu_layers=0,
            gpu_offload_supported=False, capabilities=capabilities(probe),
            probabilities=self.probability_label)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ tokens

    def tokenize(self, text: str, *, add_special: bool = False,
                 parse_special: bool = True) -> list[Token]:
        return self.tokens.tokenize(text, add_special=add_special, parse_special=parse_special)

    def describe(self, ids: Sequence[int]) -> list[Token]:
        return self.tokens.describe(ids)

    # ------------------------------------------------------------------ chat

    def render_chat(self, messages: Sequence[ChatMessage], *, reserve: int = 256
                    ) -> RenderedPrompt:
        """The prompt as the server renders it; the oldest turns left out to fit."""
        self._messages = list(messages)
        if not self.use_ids:
            return RenderedPrompt(text="", token_ids=[], note=_(
                "The server applies its chat template: the prompt's tokens are not shown."))
        n_ctx = self.info.n_ctx
        budget = max(16, n_ctx - reserve) if n_ctx else 0
        system = [m for m in messages if m.role == "system"][:1]
        turns = [m for m in messages if m.role != "system"]
        dropped = 0
        while True:
            text, ids = self.tokens.render(system + turns)
            if not budget or len(ids) <= budget or len(turns) <= 1:
                break
            cut = 2 if len(turns) > 2 and turns[0].role == "user" else 1
            turns = turns[cut:]
            dropped += cut
        if n_ctx and len(ids) > n_ctx - 1:
            raise ContextOverflowError(_(
                "This message needs {count} tokens but the server's context holds {n_ctx}. "
                "Shorten it.").format(count=f"{len(ids):,}", n_ctx=f"{n_ctx:,}"))
        note = ""
        if dropped:
            note = _("{count} earlier messages left out to fit the server's {n_ctx}-token "
                     "context.").format(count=dropped, n_ctx=f"{n_ctx:,}")
        self._messages = system + turns
        return RenderedPrompt(text=text, token_ids=ids, note=note, dropped_messages=dropped)

    # ------------------------------------------------------------------ generation

    def generate(self, request: GenerationRequest,
                 cancel: threading.Event | None = None) -> GenerationStream:
        settings = request.settings
        if not isinstance(settings, SamplerSettings):
            raise TypeError("request.settings must be a SamplerSettings")
        settings.validate()
        n_ctx = self.info.n_ctx
        prompt = list(request.prompt_ids)
        if self.use_ids and not prompt:
            raise ValueError("the prompt is empty")
        if not self.use_ids and (prompt or request.forced_first_token is not None):
            raise TokenwiseError(self.info.capabilities.reason("branching"))
        if n_ctx and len(prompt) >= n_ctx:
            raise ContextOverflowError(_(
                "The prompt has {count} tokens; the server's context holds {n_ctx}.").format(
                    count=f"{len(prompt):,}", n_ctx=f"{n_ctx:,}"))
        room = n_ctx - len(prompt) - (request.forced_first_token is not None) if n_ctx else 0
        max_tokens = min(settings.max_tokens, room) if room > 0 else settings.max_tokens
        return GenerationStream(self._generate(request, settings, max_tokens,
                                               max_tokens < settings.max_tokens, cancel))

    def _generate(self, request: GenerationRequest, settings: SamplerSettings,
                  max_tokens: int, clamped: bool, cancel: threading.Event | None
                  ) -> Generator[Step, None, GenerationResult]:
        t0 = time.perf_counter()
        kind = self.probe.kind
        prompt = list(request.prompt_ids)
        details: dict[str, Any] = {"server": self.server_name, "server_kind": kind,
                                   "model": self.model,
                                   "probabilities": self.probability_label}
        texts: list[str] = []
        n = 0
        first_s = 0.0
        stop = STOP_CANCELLED
        seed = settings.seed if settings.seed is not None else 0

        def result() -> GenerationResult:
            span = time.perf_counter() - t0 - first_s
            tps = (n - 1) / span if n > 1 and span > 0 else 0.0
            return GenerationResult(stop, "".join(texts), n, len(prompt), 0, first_s, tps,
                                    seed, details=details)

        held: Step | None = None  # the newest step waits for the stop reason
        forced = request.forced_first_token
        if forced is not None:
            first = self._forced_step(prompt, forced, settings, request.top_k_display)
            prompt.append(forced)
            max_tokens -= 1
            held = first
            n = 1
            first_s = time.perf_counter() - t0
        if self.use_ids:
            path = "/completion" if kind == LLAMA_SERVER else "/v1/completions"
            body = bodies.completion_body(kind, self.model, prompt, settings, max(1, max_tokens),
                                          request.top_k_display, request.stop_strings,
                                          post_sampling=self.post_sampling)
            details["honoured"] = bodies.completion_honoured(kind, settings, max_tokens)
            if request.extra.get("ignore_eog"):  # benchmarks: a reply of a fixed length
                body["ignore_eos"] = True
        else:
            path = "/v1/chat/completions"
            body = bodies.chat_body(kind, self.model, self._messages, settings, max_tokens,
                                    request.top_k_display, request.stop_strings)
            details["honoured"] = bodies.honoured(kind, settings, max_tokens)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        finish: str | None = None
        missing_probs = False
        events = self.client.stream(path, body, model=self.model, cancel=cancel)
        last_at = time.perf_counter()
        try:
            for chunk in _guard(events, cancel) if max_tokens > 0 else iter(()):
                if not isinstance(chunk, dict):
                    continue
                reported, text, reason = chunk_tokens(chunk)
                if isinstance(chunk.get("generation_settings"), dict):
                    details["honoured"] = bodies.server_reported(chunk["generation_settings"])
                if isinstance(chunk.get("usage"), dict):
                    details["usage"] = chunk["usage"]
                if not reported and text:
                    missing_probs = True
                    reported = [Reported(UNKNOWN_ID, text.encode(), math.nan, ())]
                tokens = chunk.get("tokens")
                if isinstance(tokens, list) and len(tokens) == len(reported):
                    reported = [r if r.token_id >= 0 or not isinstance(t, int)
                                else Reported(t, r.piece, r.prob, r.top)
                                for r, t in zip(reported, tokens, strict=True)]
                pieces = _split_text(reported, text, decoder)
                for token, piece_text in zip(reported, pieces, strict=True):
                    if held is not None:
                        yield held
                    if cancel is not None and cancel.is_set():
                        return result()
                    step = make_step(n, token, piece_text, post_sampling=self.post_sampling)
                    now = time.perf_counter()
                    step.elapsed_ms = (now - last_at) * 1000.0  # as seen here, network included
                    last_at = now
                    self.tokens.remember(token.token_id, token.piece)
                    texts.append(piece_text)
                    n += 1
                    if n == 1:
                        first_s = time.perf_counter() - t0
                    held = step
                if reason is not None:
                    finish = reason
        except StreamCutError as exc:
            if held is None:
                raise
            details["error"] = str(exc)
            held.stop_reason = stop = STOP_SERVER_CLOSED
            yield held
            return result()
        finally:
            events.close()
        if cancel is not None and cancel.is_set():
            if held is not None:
                yield held
            return result()
        if missing_probs:
            details["note"] = (_("The server sent no probabilities: start llama-cpp-python's "
                                 "server with --logits_all true.") if kind == LLAMA_CPP_PYTHON
                               else _("The server sent no probabilities (it ignored "
                                      "logprobs)."))
        stop = _FINISH.get(finish or "", STOP_EOG if finish else STOP_SERVER_CLOSED)
        if stop == STOP_MAX_TOKENS and clamped:
            stop = STOP_CONTEXT_FULL
        if max_tokens <= 0:
            stop = STOP_CONTEXT_FULL if clamped else STOP_MAX_TOKENS
        if held is None:
            return result()
        held.stop_reason = stop
        yield held
        return result()

    def _forced_step(self, prompt: list[int], forced: int, settings: SamplerSettings,
                     top: int) -> Step:
        """The first step of a branch: the user's token, with the server's distribution
        at that point (one token asked for, not streamed)."""
        kind = self.probe.kind
        path = "/completion" if kind == LLAMA_SERVER else "/v1/completions"
        body = bodies.completion_body(kind, self.model, prompt, settings, 1, top, (),
                                      stream=False, post_sampling=self.post_sampling)
        data = self.client.post_json(path, body, model=self.model)
        reported, _text, _ = chunk_tokens(data if isinstance(data, dict) else {})
        top_cands: tuple[Candidate, ...] = reported[0].top if reported else ()
        piece = self.tokens.piece(forced)
        prob = next((c.prob for c in top_cands if c.token_id == forced), math.nan)
        step = make_step(0, Reported(forced, piece, prob, top_cands),
                         piece.decode("utf-8", "replace"), forced=True,
                         post_sampling=self.post_sampling)
        return step


def bodies_label(probe: ServerProbe, post_sampling: bool) -> str:
    from tokenwise.core.remote.probe import POST_SAMPLING_LABEL

    return POST_SAMPLING_LABEL if post_sampling else probe.probability_label


def _guard(events: Iterator[Any], cancel: threading.Event | None) -> Iterator[Any]:
    """The stream's objects; an error object from the server becomes a RemoteError."""
    for item in events:
        if cancel is not None and cancel.is_set():
            return
        if isinstance(item, dict) and isinstance(item.get("error"), dict | str) \
                and "choices" not in item:
            error = item["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise RemoteError(_("The server stopped with an error: {error}").format(
                error=message))
        yield item


def _split_text(reported: list[Reported], text: str,
                decoder: codecs.IncrementalDecoder) -> list[str]:
    """Each token's share of a chunk's text (most chunks hold one token)."""
    if len(reported) == 1:
        piece = reported[0].piece
        if piece and piece != text.encode("utf-8", "surrogatepass"):
            decoded = decoder.decode(piece)
            return [decoded if decoded or not text else text]
        decoder.reset()
        return [text]
    out = [decoder.decode(r.piece) for r in reported]
    if "".join(out) != text and reported:
        out = [*([""] * (len(reported) - 1)), text]
    return out

