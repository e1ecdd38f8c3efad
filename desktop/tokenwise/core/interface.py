"""The engine's role: the records it hands out and the interface the chat programs against.

No llama_cpp here, so every room may import it; the local engine (tokenwise.core.engine) is one
implementation, and a remote server would be another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tokenwise.core.i18n import N_, _
from tokenwise.core.trace.beams import BeamResult, BeamSettings, BeamStep
from tokenwise.core.trace.records import Step
from tokenwise.core.trace.scores import ScoreResult

TOKEN_NORMAL = "normal"
TOKEN_SPECIAL = "special"  # control tokens of the chat template (<|im_start|>, <eos>, ...)
TOKEN_BYTE = "byte"  # a piece that is only part of one UTF-8 character


@dataclass(frozen=True, slots=True)
class Token:
    """One token of a tokenized text."""

    token_id: int
    piece: bytes
    display: str  # readable: text, "<|im_start|>", or "<0xE5>" for a byte fragment
    kind: str  # TOKEN_NORMAL, TOKEN_SPECIAL or TOKEN_BYTE
    builds: str = ""  # for byte fragments: the character the run of fragments builds


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an engine can show and do. The UI shows what is missing, with the reason,
    instead of guessing; a remote server, say, gives no per-stage view."""

    stage_view: bool = False  # every sampler stage's survivors and probabilities, exact
    tokenizer: bool = False  # tokenize any text with the model's own vocabulary
    step_mode: bool = False  # one token per request, the reply paused in between
    branching: bool = False  # force a chosen token at a step: branch from an alternative
    beam_search: bool = False  # needs the context's parallel sequences
    scoring: bool = False  # P(token | everything before) for a given text, in one pass
    full_vocabulary: bool = False  # the normaliser and entropy over the whole vocabulary
    #: capability name -> one line saying why it is missing
    reasons: tuple[tuple[str, str], ...] = ()

    def reason(self, name: str) -> str:
        """Why ``name`` is unavailable ("" when it is available)."""
        if getattr(self, name):
            return ""
        return _(dict(self.reasons).get(name, N_("This engine cannot do that.")))


@dataclass(frozen=True, slots=True)
class ModelInfo:
    path: str
    name: str
    architecture: str
    parameters: int
    quantization: str
    file_size: int
    context_length: int  # trained context length
    n_ctx: int  # context length of the loaded context
    vocab_size: int
    layers: int
    has_chat_template: bool
    backend: str  # "CPU", "CUDA", "Metal", "Vulkan", ...
    gpu_layers: int  # layers offloaded
    gpu_offload_supported: bool
    license: str = ""
    capabilities: Capabilities = field(default_factory=Capabilities)
    #: what the probabilities are, where they are not Tokenwise's own (a remote server's)
    probabilities: str = ""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system", "user", "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    token_ids: list[int]
    note: str = ""  # shown to the user, e.g. "no chat template: ChatML used"
    dropped_messages: int = 0  # oldest turns left out to fit the context


@dataclass(slots=True)
class GenerationRequest:
    """What to generate: the prompt tokens and how to draw."""

    prompt_ids: list[int]
    settings: object  # sampling.SamplerSettings
    stop_strings: tuple[str, ...] = ()
    forced_first_token: int | None = None  # branch: take this token at the first step
    top_k_display: int = 32
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class GenerationResult:
    """How a generation ended."""

    stop_reason: str
    text: str
    n_tokens: int
    prompt_tokens: int
    reused_tokens: int  # prompt tokens whose KV cache was kept from the previous call
    first_token_s: float
    tokens_per_second: float
    seed: int
    #: what else the engine knows of the reply (a remote server's name, the sampler
    #: settings it honoured, what its probabilities are); saved with the reply
    details: dict[str, object] = field(default_factory=dict)


class GenerationStream:
    """Iterate for Steps; after the last one, ``result`` says how it ended."""

    def __init__(self, steps: Generator[Step, None, GenerationResult]) -> None:
        self._steps = steps
        self.result: GenerationResult | None = None

    def __iter__(self) -> Iterator[Step]:
        return self

    def __next__(self) -> Step:
        try:
            return next(self._steps)
        except StopIteration as stop:
            self.result = stop.value
            raise StopIteration from None

    def close(self) -> None:
        """Stop early (the generator's clean-up runs: samplers freed, cache state kept)."""
        self._steps.close()


class ChatEngine(Protocol):
    """A loaded model, as the chat uses it. Not thread-safe: one thread creates, uses and
    closes it."""

    @property
    def info(self) -> ModelInfo: ...  # info.capabilities: what this engine can show and do

    def render_chat(self, messages: Sequence[ChatMessage]) -> RenderedPrompt: ...

    def describe(self, ids: Sequence[int]) -> list[Token]: ...

    def tokenize(self, text: str, *, add_special: bool = False,
                 parse_special: bool = True) -> list[Token]: ...

    def generate(self, request: GenerationRequest,
                 cancel: threading.Event | None = None) -> GenerationStream: ...

    def close(self) -> None: ...


class LabEngine(ChatEngine, Protocol):
    """An engine that can also run a beam search and score a text
    (info.capabilities.beam_search and .scoring)."""

    def beam_search(self, prompt_ids: Sequence[int], settings: BeamSettings,
                    cancel: threading.Event | None = None,
                    on_step: Callable[[BeamStep], None] | None = None) -> BeamResult: ...

    def score(self, ids: Sequence[int], start: int, *, top_k: int = 8, chunk: int = 32,
              cancel: threading.Event | None = None,
              progress: Callable[[int, int], None] | None = None) -> ScoreResult: ...

    def text_for_scoring(self, text: str) -> tuple[list[int], int]: ...


# path, then keyword options (n_ctx, n_gpu_layers, n_threads, progress): a loaded engine
EngineFactory = Callable[..., ChatEngine]
