"""The engine: the only owner of llama.cpp objects.

Load a GGUF (checked first, preflighted in a child process the first time), tokenize,
render the chat template, and run the decode loop that yields one Step per token. An
Engine is not thread-safe: create it, use it and close it on one thread.
"""

from __future__ import annotations

import codecs
import ctypes
import re
import secrets
import threading
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from tokenwise.core.chat.template_sandbox import TemplateRenderer
from tokenwise.core.engine import compiled as engine_compiled
from tokenwise.core.engine import extension as engine_extension
from tokenwise.core.engine import guard
from tokenwise.core.engine import native as engine_native
from tokenwise.core.engine.overlap import DisplayWorker, overlap_wanted
from tokenwise.core.engine.stages import CandidateBuffer, Decision, StepSampler
from tokenwise.core.engine.threads import ThreadGovernor, default_threads, usable_cores
from tokenwise.core.engine.vocab import EOG, Vocabulary
from tokenwise.core.errors import ContextOverflowError, DamagedModelError, TokenwiseError
from tokenwise.core.i18n import _, gap
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
from tokenwise.core.models import fit, gguf
from tokenwise.core.models.gguf import GGUFInfo
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.beams import MAX_BEAM_WIDTH, BeamResult, BeamSettings, BeamStep
from tokenwise.core.trace.records import (
    STOP_CANCELLED,
    STOP_CONTEXT_FULL,
    STOP_EOG,
    STOP_MAX_TOKENS,
    STOP_STRING,
    Step,
)
from tokenwise.core.trace.scores import ScoreResult

BEAM_SEQUENCES = MAX_BEAM_WIDTH + 2  # the prompt's, one per beam, one for pruned beams
PROMPT_CHUNK_GPU = 64  # prompt tokens per decode when offloaded: cancel is checked between

#: the GGUF metadata that names each special token a chat template may use
SPECIAL_TOKEN_KEYS = {
    "bos_token": "tokenizer.ggml.bos_token_id",
    "eos_token": "tokenizer.ggml.eos_token_id",
    "pad_token": "tokenizer.ggml.padding_token_id",
    "unk_token": "tokenizer.ggml.unknown_token_id",
}

#: the local engine owns the context: it sees every stage and the whole vocabulary
LOCAL_CAPABILITIES = Capabilities(
    stage_view=True, tokenizer=True, step_mode=True, branching=True, full_vocabulary=True,
    beam_search=True, scoring=True,
)


def _check_memory(header: GGUFInfo, n_ctx: int, *, offload: bool) -> None:
    """Refuse, before loading, a context the machine cannot hold: say what it would need."""
    trained = header.context_length
    estimate = fit.estimate_memory(header, min(n_ctx, trained) if trained > 0 else n_ctx,
                                   probe_gpu=offload)
    room = [free for free in (estimate.free_ram, estimate.free_vram) if free is not None]
    if room and estimate.total > sum(room):
        raise ContextOverflowError(
            _("Not enough memory for this model at {n_ctx} tokens of context: it {estimate} "
              "Choose a smaller context length in Settings (or close other programs).").format(
                n_ctx=f"{estimate.n_ctx:,}", estimate=estimate.summary()))


class Engine:
    """A loaded model and its context."""

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int = 4096,
        n_gpu_layers: int = -1,
        n_threads: int | None = None,
        progress: Callable[[float], bool] | None = None,
        preflight: bool = True,
        overlap: bool | None = None,
    ) -> None:
        from tokenwise.core.engine import preflight as preflight_mod

        self.path = Path(path)
        header = gguf.inspect_gguf(self.path)  # raises a specific ModelFileError
        offload = engine_native.supports_gpu_offload()
        _check_memory(header, n_ctx, offload=offload and n_gpu_layers != 0)
        # a new file is checked in a child (an abort there ends the child, not the app); with
        # assertions while loading turned into load errors, the load runs alongside it
        self._check: preflight_mod.Check | None = None
        if preflight and guard.available():
            self._check = preflight_mod.start_check(self.path)
        elif preflight:
            preflight_mod.ensure_preflight(self.path)
        engine_native.ensure_backend()
        self._closed = False
        self._check_error: TokenwiseError | None = None
        self._progress = progress
        self._cancel_load = False

        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = (
            (header.layers + 1 if n_gpu_layers < 0 else n_gpu_layers) if offload else 0
        )
        mparams.use_mmap = True
        if progress is not None:
            self._progress_cb = llama_cpp.llama_progress_callback(self._on_progress)
            mparams.progress_callback = self._progress_cb
        engine_native.clear_errors()
        with guard.asserts_as_errors():
            self.model = llama_cpp.llama_model_load_from_file(str(self.path).encode(), mparams)
        if not self.model:
            if self._cancel_load:
                self._stop_check()
                raise TokenwiseError(_("Loading the model was cancelled."))
            check, self._check = self._check, None
            if check is not None:
                check.verdict()  # the child's own account (a crash, say) comes first
            if self._cancel_load:
                raise TokenwiseError(_("Loading the model was cancelled."))
            # a failed assertion names its source file by the build's path: the name is enough
            detail = re.sub(r"\S*[/\\]([\w.-]+\.(?:c|cc|cpp|h)):", r"\1:",
                            engine_native.last_error_line())
            raise DamagedModelError(
                (_("llama.cpp could not load {name}: {detail}.").format(
                    name=self.path.name, detail=detail.rstrip(".")) if detail
                 else _("llama.cpp could not load {name}.").format(name=self.path.name))
                + gap() + _("The file may be damaged or use a format this version does not "
                            "support.")
            )
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        try:
            self.vocabulary = Vocabulary(self.vocab)
        except BaseException:
            self._stop_check()
            llama_cpp.llama_model_free(self.model)
            raise
        self.n_vocab = self.vocabulary.size
        trained = int(llama_cpp.llama_model_n_ctx_train(self.model))
        n_ctx = max(64, min(n_ctx, trained) if trained > 0 else n_ctx)
        self.n_threads = n_threads or default_threads()
        self.adaptive_threads = n_threads is None
        self._threads = ThreadGovernor(self.n_threads, self._use_threads)

        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = min(512, n_ctx)
        cparams.n_ubatch = min(512, n_ctx)
        cparams.n_threads = self.n_threads
        cparams.n_threads_batch = self.n_threads
        cparams.no_perf = True
        # parallel sequences for beam search: with a unified cache they share its cells (no
        # extra memory) and a partial llama_memory_seq_cp only updates the cells' metadata
        cparams.n_seq_max = BEAM_SEQUENCES
        cparams.kv_unified = True
        with guard.asserts_as_errors():
            self.ctx = llama_cpp.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            self._stop_check()
            llama_cpp.llama_model_free(self.model)
            raise TokenwiseError(
                _("Not enough memory for a context of {n_ctx} tokens with this model; choose "
                  "a smaller context length in Settings.").format(n_ctx=n_ctx)
            )
        self.n_ctx = int(llama_cpp.llama_n_ctx(self.ctx))
        self.n_batch = int(cparams.n_batch)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.beam_sequences = int(llama_cpp.llama_n_seq_max(self.ctx))
        # consulted by llama.cpp between graph nodes, so only set during prompt evaluation
        self._cancel: threading.Event | None = None
        self._abort_cb = llama_cpp.ggml_abort_callback(self._should_abort)
        self._abort_set = False

        self._logits_address: int | None = None
        self._ctx_address = ctypes.cast(self.ctx, ctypes.c_void_p).value
        self._logits_view = np.empty(0, dtype=np.float32)
        self._cached: list[int] = []  # tokens whose KV entries are in the context
        self._buffer = CandidateBuffer(self.n_vocab)
        self._batch_tokens = (llama_cpp.llama_token * self.n_batch)()
        self._one_token = (llama_cpp.llama_token * 1)()
        self._one_batch = llama_cpp.llama_batch_get_one(self._one_token, 1)
        backends = engine_native.compute_backends()
        gpu_layers = int(mparams.n_gpu_layers) if backends else 0
        self.chat_template = header.chat_template or ""
        self.bos_id = int(llama_cpp.llama_vocab_bos(self.vocab))
        self.eos_id = int(llama_cpp.llama_vocab_eos(self.vocab))
        self.special_tokens = self._special_tokens(header.metadata)
        self.info = ModelInfo(
            path=str(self.path),
            name=_display_name(self.path, header.name),
            architecture=header.architecture,
            parameters=int(llama_cpp.llama_model_n_params(self.model)) or header.parameters,
            quantization=header.quantization,
            file_size=header.file_size,
            context_length=trained or header.context_length,
            n_ctx=self.n_ctx,
            vocab_size=self.n_vocab,
            layers=int(llama_cpp.llama_model_n_layer(self.model)),
            has_chat_template=bool(self.chat_template),
            backend=(backends[0] if backends and gpu_layers > 0 else "CPU"),
            gpu_layers=min(gpu_layers, header.layers + 1) if backends else 0,
            gpu_offload_supported=offload,
            license=header.license,
            capabilities=LOCAL_CAPABILITIES,
        )
        self.offloaded = self.info.gpu_layers > 0
        # the display half of a step (where it can split) runs while the next token decodes
        self.overlap = overlap_wanted(overlap, offloaded=self.offloaded,
                                      idle_core=usable_cores() > self.n_threads)
        #: the compiled pass on two threads where the decode has two (None), or on one
        #: (False): where every layer is offloaded, ggml's pool may sleep through the decode
        self.pass_parallel: bool | None = None
        self._display = DisplayWorker()
        self._logits_copy = np.empty(self.n_vocab, dtype=np.float32)
        #: seconds from each decode's return to the next decode's start, last generation
        self.critical_s: list[float] = []
        #: the same gaps in this thread's CPU time: what a busy machine's preemption leaves out
        self.critical_cpu_s: list[float] = []
        self._watch_decodes = self.adaptive_threads and self.n_threads > 1 and not self.offloaded
        self.templates = TemplateRenderer()
        self.templates.start()  # the helper starts while the user types the first message

    def _special_tokens(self, metadata: dict[str, object]) -> dict[str, str]:
        """The special tokens the GGUF names, as text for the chat template."""
        ids = {"bos_token": self.bos_id, "eos_token": self.eos_id, "pad_token": -1,
               "unk_token": -1}
        for name, key in SPECIAL_TOKEN_KEYS.items():
            value = metadata.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                ids[name] = value
        return {name: self.piece(i).decode("utf-8", "replace") if 0 <= i < self.n_vocab else ""
                for name, i in ids.items()}

    def _on_progress(self, fraction: float, _data: ctypes.c_void_p) -> bool:
        assert self._progress is not None
        keep_going = bool(self._progress(float(fraction)))
        self._cancel_load = not keep_going
        return keep_going

    # ------------------------------------------------------------------ lifetime

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Free the context and the model (on the thread that owns the engine)."""
        if self._closed:
            return
        self._closed = True
        self._stop_check()
        self._display.close()
        self.templates.close()
        llama_cpp.llama_free(self.ctx)
        llama_cpp.llama_model_free(self.model)

    def _stop_check(self) -> None:
        check, self._check = getattr(self, "_check", None), None
        if check is not None:
            check.cancel()

    def wait_checked(self) -> None:
        """Wait for a new file's check in the child; DamagedModelError if it failed.

        Called before the first decode: the file's tokens go through the model only once the
        child has decoded one without crashing.
        """
        check, self._check = self._check, None
        if check is not None:
            try:
                check.verdict()
            except TokenwiseError as exc:
                self._check_error = exc
        if self._check_error is not None:
            raise self._check_error

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ tokens

    # ------------------------------------------------------------------ tokens

    def token_ids(self, text: str, *, add_special: bool = False,
                  parse_special: bool = True) -> list[int]:
        return self.vocabulary.token_ids(text, add_special=add_special,
                                         parse_special=parse_special)

    def piece(self, token_id: int) -> bytes:
        """The token's bytes, special tokens rendered (no 32-byte limit)."""
        return self.vocabulary.pieces[token_id]

    def is_special(self, token_id: int) -> bool:
        return self.vocabulary.is_special(token_id)

    def is_eog(self, token_id: int) -> bool:
        return self.vocabulary.is_eog(token_id)

    def tokenize(self, text: str, *, add_special: bool = False,
                 parse_special: bool = True) -> list[Token]:
        return self.vocabulary.tokenize(text, add_special=add_special,
                                        parse_special=parse_special)

    def describe(self, ids: Sequence[int]) -> list[Token]:
        """Tokens with their kind; byte fragments carry the character their run builds."""
        return self.vocabulary.describe(ids)

    def detokenize(self, ids: Sequence[int], *, special: bool = False) -> str:
        """Text of token ids; special tokens kept only if ``special``."""
        return self.vocabulary.detokenize(ids, special=special)

    # ------------------------------------------------------------------ chat

    def render_chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        add_generation_prompt: bool = True,
        reserve: int = 256,
    ) -> RenderedPrompt:
        """The prompt for ``messages``; the oldest turns are left out to fit the context."""
        budget = max(16, self.n_ctx - reserve)
        system = [m for m in messages if m.role == "system"][:1]
        turns = [m for m in messages if m.role != "system"]
        dropped = 0
        while True:
            text, note = self.templates.render(
                self.chat_template, system + turns, special_tokens=self.special_tokens,
                add_generation_prompt=add_generation_prompt,
            )
            ids = self._prompt_ids(text)
            if len(ids) <= budget or len(turns) <= 1:
                break
            # drop the oldest turn, and the reply that answered it
            cut = 2 if len(turns) > 2 and turns[0].role == "user" else 1
            turns = turns[cut:]
            dropped += cut
        if len(ids) > self.n_ctx - 1:
            raise ContextOverflowError(
                _("This message needs {count} tokens but the context holds {n_ctx}. Shorten "
                  "it, or choose a longer context length in Settings.").format(
                    count=f"{len(ids):,}", n_ctx=f"{self.n_ctx:,}")
            )
        if dropped:
            extra = (f"{dropped} earlier message{'s' if dropped != 1 else ''} left out to fit "
                     f"the {self.n_ctx:,}-token context.")
            note = f"{note} {extra}".strip()
        return RenderedPrompt(text=text, token_ids=ids, note=note, dropped_messages=dropped)

    def _prompt_ids(self, text: str) -> list[int]:
        ids = self.token_ids(text, add_special=True, parse_special=True)
        if len(ids) >= 2 and ids[0] == ids[1] == self.bos_id:
            ids = ids[1:]  # the template wrote its own BOS
        return ids

    # ------------------------------------------------------------------ decoding

    def _decode(self, tokens: Sequence[int], start: int, cancel: threading.Event | None) -> bool:
        """Evaluate tokens at positions start.. ; False if cancelled (cache trimmed back)."""
        if self._check is not None or self._check_error is not None:
            self.wait_checked()
        chunk = PROMPT_CHUNK_GPU if self.offloaded else self.n_batch
        pos = 0
        while pos < len(tokens):
            if cancel is not None and cancel.is_set():
                self._trim(start + pos)
                return False
            part = tokens[pos:pos + chunk]
            n = len(part)
            if n == 1:
                if not self._decode_one(part[0], cancel):
                    return False
                pos += 1
                continue
            self._batch_tokens[:n] = list(part)
            batch = llama_cpp.llama_batch_get_one(self._batch_tokens, n)
            self._set_abort(cancel if not self.offloaded else None)
            rc = llama_cpp.llama_decode(self.ctx, batch)
            if rc != 0:
                return self._decode_failed(rc, start + pos, cancel)
            self._cached.extend(part)
            pos += n
        return True

    def _decode_one(self, token: int, cancel: threading.Event | None) -> bool:
        """Evaluate one token after the cached ones (the generation loop's path)."""
        if self._abort_set:
            self._set_abort(None)
        self._one_token[0] = token
        if self._watch_decodes:
            t0 = time.perf_counter()
            rc = llama_cpp.llama_decode(self.ctx, self._one_batch)
            self.watch_decode(time.perf_counter() - t0)
        else:
            rc = llama_cpp.llama_decode(self.ctx, self._one_batch)
        if rc != 0:
            return self._decode_failed(rc, len(self._cached), cancel)
        self._cached.append(token)
        return True

    def _decode_failed(self, rc: int, keep: int, cancel: threading.Event | None) -> bool:
        self._trim(keep)
        if rc == 2 or (cancel is not None and cancel.is_set()):
            return False
        if rc == 1:
            raise ContextOverflowError("The context is full: no room for more tokens.")
        raise TokenwiseError(f"llama.cpp failed to evaluate the prompt (code {rc}).")

    @property
    def threads_now(self) -> int:
        return self._threads.threads_now

    def watch_decode(self, seconds: float) -> None:
        """Give up a thread when single-token decodes stall (see :mod:`.threads`)."""
        self._threads.watch(seconds)

    def _use_threads(self, n: int) -> None:
        llama_cpp.llama_set_n_threads(self.ctx, n, max(n, self.n_threads))
        self._pass_threads(n)

    def _pass_threads(self, decode_threads: int) -> None:
        """The compiled pass's second half on the decode's own pool where the decode has two
        threads or more (unless :attr:`pass_parallel` says one); for the calling thread, the
        generating one (see use_parallel)."""
        engine_compiled.use_parallel(decode_threads >= 2 and self.pass_parallel is not False)

    def _logits(self) -> np.ndarray:
        """The last token's logits, as a view (valid until the next decode)."""
        if _LOGITS_ROW is not None:  # the same call, its arguments converted in C
            address = _LOGITS_ROW(_LOGITS_FN, self._ctx_address, -1)
        else:
            address = _LOGITS_ADDRESS(self.ctx, -1)
        if address != self._logits_address:
            ptr = ctypes.cast(address, ctypes.POINTER(ctypes.c_float))
            self._logits_view = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
            self._logits_address = address
        return self._logits_view

    def _should_abort(self, _data: ctypes.c_void_p) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    def _set_abort(self, cancel: threading.Event | None) -> None:
        self._cancel = cancel
        wanted = cancel is not None
        if wanted != self._abort_set:
            llama_cpp.llama_set_abort_callback(
                self.ctx, self._abort_cb if wanted else llama_cpp.ggml_abort_callback(), None
            )
            self._abort_set = wanted

    def _trim(self, keep: int) -> None:
        if not llama_cpp.llama_memory_seq_rm(self.memory, 0, keep, -1):
            llama_cpp.llama_memory_clear(self.memory, True)
            keep = 0
        del self._cached[keep:]

    def _prepare(self, prompt: list[int]) -> int:
        """Keep the cached common prefix; return how many prompt tokens were reused."""
        common = 0
        for a, b in zip(self._cached, prompt, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(prompt) - 1)  # the last token is evaluated for its logits
        if common < len(self._cached):
            self._trim(common)
        return len(self._cached)

    def generate(self, request: GenerationRequest,
                 cancel: threading.Event | None = None) -> GenerationStream:
        settings = request.settings
        if not isinstance(settings, SamplerSettings):
            raise TypeError("request.settings must be a SamplerSettings")
        settings.validate()
        if not request.prompt_ids:
            raise ValueError("the prompt is empty")
        if len(request.prompt_ids) >= self.n_ctx:
            raise ContextOverflowError(
                _("The prompt has {count} tokens; the context holds {n_ctx}. Choose a longer "
                  "context length in Settings.").format(count=f"{len(request.prompt_ids):,}",
                                                        n_ctx=f"{self.n_ctx:,}")
            )
        return GenerationStream(self._generate(request, settings, cancel))

    def _generate(
        self, request: GenerationRequest, settings: SamplerSettings,
        cancel: threading.Event | None,
    ) -> Generator[Step, None, GenerationResult]:
        t0 = time.perf_counter()
        prompt = list(request.prompt_ids)
        seed = settings.seed if settings.seed is not None else secrets.randbits(32)
        reused = self._prepare(prompt)
        text_parts: list[str] = []
        n_tokens = 0
        first_token_s = 0.0
        stop = STOP_CANCELLED

        def result() -> GenerationResult:
            elapsed = time.perf_counter() - t0 - first_token_s
            tps = (n_tokens - 1) / elapsed if n_tokens > 1 and elapsed > 0 else 0.0
            return GenerationResult(stop, "".join(text_parts), n_tokens, len(prompt), reused,
                                    first_token_s, tps, seed)

        if not self._decode(prompt[len(self._cached):], len(self._cached), cancel):
            return result()
        sampler = StepSampler(self._buffer, self.n_vocab, settings, seed, prompt,
                              request.top_k_display)
        self._pass_threads(self._threads.threads_now)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = tuple(s for s in request.stop_strings if s)
        tail = ""
        ignore_eog = bool(request.extra.get("ignore_eog"))  # benchmarks only
        pieces = self.vocabulary.pieces
        token_flags = self.vocabulary.flags
        texts = self.vocabulary.texts
        pending = False  # the decoder holds part of a character
        critical, critical_cpu = self.critical_s, self.critical_cpu_s
        critical.clear()
        critical_cpu.clear()
        cpu = time.thread_time
        perf = time.perf_counter
        forced_first = request.forced_first_token is not None
        split = self.overlap and sampler.can_split
        display = self._display
        copy = self._logits_copy
        copy_address = copy.ctypes.data if split else 0
        sampler.use_pieces(pieces)
        record = sampler.record

        def finish_step(decision: Decision, text: str, reason: str | None,
                        index: int, spent: float) -> Step:
            t0 = perf()
            step = record(decision, copy, index, text, reason, forced_first and index == 0)
            step.elapsed_ms = (spent + perf() - t0) * 1000.0
            return step

        t_ready, c_ready = perf(), cpu()
        try:
            forced = request.forced_first_token
            while True:
                t_step = perf()
                logits = self._logits()
                if split:
                    decision = sampler.decide(logits, forced, self._logits_address or 0,
                                              split=True, copy_to=copy_address)
                    # the next decode overwrites the live buffer: finish reads a copy, where
                    # it reads the logits at all
                    if not decision.copied and decision.logit is None:
                        np.copyto(copy, logits)
                    token = decision.token
                else:
                    decision = sampler.decide(logits, forced, self._logits_address or 0)
                    token = decision.token
                forced = None
                piece = pieces[token]
                flags = token_flags[token]
                eog = flags & EOG
                if flags:
                    text = ""
                elif not pending and (whole := texts[token]) is not None:
                    text = whole  # whole characters: the common case, decoded once per token
                else:
                    text = decoder.decode(piece)
                    pending = bool(decoder.getstate()[0])
                n_tokens += 1
                reason: str | None = None
                if eog and not ignore_eog:
                    reason = STOP_EOG
                    text += decoder.decode(b"", final=True)
                elif stops:
                    tail = (tail + text)[-(max(map(len, stops)) + len(text)):]
                    hit = next((s for s in stops if s in tail), None)
                    if hit is not None:
                        reason = STOP_STRING
                        text = text[: max(0, len(text) - (len(tail) - tail.index(hit)))]
                if reason is None and n_tokens >= settings.max_tokens:
                    reason = STOP_MAX_TOKENS
                if reason is None and len(self._cached) + 1 >= self.n_ctx:
                    reason = STOP_CONTEXT_FULL
                if reason is not None and reason != STOP_EOG:
                    text += decoder.decode(b"", final=True)
                text_parts.append(text)
                if n_tokens == 1:
                    first_token_s = perf() - t0
                if not split:
                    step = record(decision, logits, n_tokens - 1, text, reason,
                                  forced_first and n_tokens == 1)
                    step.elapsed_ms = (perf() - t_step) * 1000.0
                    if reason is not None:
                        stop = reason
                        yield step
                        return result()
                    yield step
                    # the token is fed back only when the next step is asked for (step mode)
                    if cancel is not None and cancel.is_set():
                        stop = STOP_CANCELLED
                        return result()
                    sampler.accept(token)
                    critical.append(perf() - t_ready)
                    critical_cpu.append(cpu() - c_ready)
                    decoded = self._decode_one(token, cancel)
                    t_ready, c_ready = perf(), cpu()
                    if not decoded:
                        stop = STOP_CANCELLED
                        return result()
                    continue
                # overlap: the display half runs while the token decodes
                display.submit(finish_step, decision, text, reason, n_tokens - 1,
                               perf() - t_step)
                decoded = False
                try:
                    if reason is None and not (cancel is not None and cancel.is_set()):
                        sampler.accept(token)
                        critical.append(perf() - t_ready)
                        critical_cpu.append(cpu() - c_ready)
                        decoded = self._decode_one(token, cancel)
                        t_ready, c_ready = perf(), cpu()
                finally:
                    step = display.result()  # taken even when the decode raised
                if reason is not None:
                    stop = reason
                    yield step
                    return result()
                yield step
                if not decoded or (cancel is not None and cancel.is_set()):
                    stop = STOP_CANCELLED  # the decoded token stays cached: trimmed on reuse
                    return result()
        finally:
            sampler.close()


    # ------------------------------------------------------------------ decoding lab

    def beam_search(self, prompt_ids: Sequence[int], settings: BeamSettings,
                    cancel: threading.Event | None = None,
                    on_step: Callable[[BeamStep], None] | None = None) -> BeamResult:
        """A beam search after the prompt, in parallel sequences (see :mod:`.beam`)."""
        from tokenwise.core.engine.beam import beam_search

        return beam_search(self, prompt_ids, settings, cancel, on_step)

    def score(self, ids: Sequence[int], start: int, *, top_k: int = 8, chunk: int = 32,
              cancel: threading.Event | None = None,
              progress: Callable[[int, int], None] | None = None) -> ScoreResult:
        """P(token | everything before) of ``ids[start:]`` in one pass (see :mod:`.scoring`)."""
        from tokenwise.core.engine.scoring import score_tokens

        return score_tokens(self, ids, start, top_k=top_k, chunk=chunk, cancel=cancel,
                            progress=progress)

    def text_for_scoring(self, text: str) -> tuple[list[int], int]:
        """A pasted text's tokens (after BOS where the model uses one) and the first to score."""
        from tokenwise.core.engine.scoring import text_ids

        return text_ids(self, text)


def _address_function(name: str, argtypes: list[Any]) -> Any:
    """A private binding of a libllama function that returns a plain address (an int)."""
    fn = llama_cpp.llama_cpp._lib[name]  # item access: a new function object, not the shared one
    fn.argtypes = argtypes
    fn.restype = ctypes.c_void_p
    return fn


_LOGITS_ADDRESS = _address_function("llama_get_logits_ith",
                                    [llama_cpp.llama_context_p_ctypes, ctypes.c_int32])
#: llama_get_logits_ith through the extension (logits_row), where it was built
_LOGITS_ROW = engine_extension.function("logits_row")
_LOGITS_FN = ctypes.cast(_LOGITS_ADDRESS, ctypes.c_void_p).value


def _display_name(path: Path, metadata_name: str) -> str:
    from tokenwise.core.models.starter import STARTER_FILE, STARTER_NAME

    if path.name == STARTER_FILE:
        return STARTER_NAME
    return metadata_name or path.stem
