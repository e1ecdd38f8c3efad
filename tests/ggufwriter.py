"""Write small, valid GGUF files for tests, byte by byte from the format's specification.

Kept independent of tokenwise.core.models.gguf on purpose: a reader tested only against files its
own code wrote would agree with itself even where both are wrong.
"""

from __future__ import annotations

import struct
from pathlib import Path

# (name, elements per block, bytes per block) for the types the tests use.
TYPES = {
    "F32": (0, 1, 4),
    "F16": (1, 1, 2),
    "Q4_0": (2, 32, 18),
    "Q8_0": (8, 32, 34),
    "Q4_K": (12, 256, 144),
    "Q6_K": (14, 256, 210),
}


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _value(value: object) -> tuple[int, bytes]:
    if isinstance(value, bool):
        return 7, struct.pack("<?", value)
    if isinstance(value, int):
        return 4, struct.pack("<I", value)
    if isinstance(value, float):
        return 6, struct.pack("<f", value)
    if isinstance(value, str):
        return 8, _string(value)
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            body = b"".join(_string(v) for v in value)
            return 9, struct.pack("<IQ", 8, len(value)) + body
        if all(isinstance(v, float) for v in value):
            return 9, struct.pack("<IQ", 6, len(value)) + struct.pack(f"<{len(value)}f", *value)
        return 9, struct.pack("<IQ", 5, len(value)) + struct.pack(f"<{len(value)}i", *value)
    raise TypeError(value)


def gguf_bytes(
    metadata: dict[str, object],
    tensors: list[tuple[str, tuple[int, ...], str]],
    *,
    version: int = 3,
    alignment: int = 32,
) -> bytes:
    """A complete GGUF file: header, metadata, tensor infos, padding, zeroed tensor data."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(metadata)))
    for key, value in metadata.items():
        tag, body = _value(value)
        out += _string(key) + struct.pack("<I", tag) + body
    offset = 0
    sizes = []
    for name, shape, type_name in tensors:
        type_id, block, block_bytes = TYPES[type_name]
        n = 1
        for dim in shape:
            n *= dim
        size = n // block * block_bytes
        out += _string(name)
        out += struct.pack(f"<I{len(shape)}QIQ", len(shape), *shape, type_id, offset)
        sizes.append(size)
        offset += -(-size // alignment) * alignment
    out += b"\0" * (-len(out) % alignment)
    for size in sizes:
        out += b"\0" * (-(-size // alignment) * alignment)
    return bytes(out)


def tiny_model_metadata(vocab: int = 300, arch: str = "llama") -> dict[str, object]:
    return {
        "general.architecture": arch,
        "general.name": "Tiny Test Model",
        "general.license": "mit",
        "general.file_type": 7,
        f"{arch}.context_length": 2048,
        f"{arch}.block_count": 2,
        f"{arch}.embedding_length": 64,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.tokens": [f"tok{i}" for i in range(vocab)],
        "tokenizer.ggml.scores": [0.0] * vocab,
        "tokenizer.chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}",
    }


TINY_TENSORS = [
    ("token_embd.weight", (64, 300), "Q8_0"),
    ("blk.0.attn_norm.weight", (64,), "F32"),
    ("blk.0.ffn_up.weight", (256, 64), "Q4_K"),
    ("output.weight", (256, 300), "Q6_K"),
]


def write_tiny_model(path: Path, **kwargs: object) -> Path:
    """A small, structurally valid GGUF model (not loadable by llama.cpp: no real weights)."""
    tensors = kwargs.pop("tensors", TINY_TENSORS)
    metadata = kwargs.pop("metadata", tiny_model_metadata())
    path.write_bytes(gguf_bytes(metadata, tensors, **kwargs))  # type: ignore[arg-type]
    return path
