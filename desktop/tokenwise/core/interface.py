"""Plain records the engine hands out. No llama_cpp here, so every room may import them."""

from __future__ import annotations

from dataclasses import dataclass, field

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
