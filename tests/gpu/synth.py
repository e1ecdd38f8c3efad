"""Synthetic GGUF models: a real tokenizer, random weights in the shape of a 1B-class model.

The real models are too large to travel to the GPU test machine, so the check makes these
there. The tokenizer (vocabulary, merges, special tokens, chat template) is copied from a real
model file; the weights are random, so the next-token distributions are near-flat: figures
measured with these are the cost of decoding and of inspection, not what a real model's
probabilities look like.

Usage: python tests/gpu/synth.py TOKENIZER_SOURCE.gguf OUT.gguf [--tiny]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np


@dataclass(frozen=True)
class Shape:
    layers: int
    hidden: int
    ffn: int
    heads: int
    kv_heads: int
    head_dim: int


#: 1B-class shapes (Llama-3.2-1B's and Gemma-3-1B's) and the tiny ones the tests use
SHAPES = {
    ("llama", False): Shape(layers=16, hidden=2048, ffn=8192, heads=32, kv_heads=8,
                            head_dim=64),
    ("gemma3", False): Shape(layers=26, hidden=1152, ffn=6912, heads=4, kv_heads=1,
                             head_dim=256),
    ("llama", True): Shape(layers=2, hidden=64, ffn=128, heads=4, kv_heads=2, head_dim=16),
    ("gemma3", True): Shape(layers=2, hidden=64, ffn=128, heads=4, kv_heads=2, head_dim=16),
}


def _copy_field(writer: gguf.GGUFWriter, field: gguf.ReaderField) -> None:
    vtype = gguf.GGUFValueType(field.types[0])
    sub = gguf.GGUFValueType(field.types[1]) if vtype == gguf.GGUFValueType.ARRAY else None
    writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)


def _tensors(arch: str, shape: Shape, vocab: int) -> list[tuple[str, tuple[int, ...]]]:
    """Names and numpy shapes (rows, columns) of the tensors llama.cpp reads for arch."""
    h, q, kv = shape.hidden, shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
    out: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (vocab, h)),
                                              ("output_norm.weight", (h,))]
    for i in range(shape.layers):
        b = f"blk.{i}."
        out += [(b + "attn_norm.weight", (h,)), (b + "attn_q.weight", (q, h)),
                (b + "attn_k.weight", (kv, h)), (b + "attn_v.weight", (kv, h)),
                (b + "attn_output.weight", (h, q)), (b + "ffn_norm.weight", (h,)),
                (b + "ffn_gate.weight", (shape.ffn, h)), (b + "ffn_up.weight", (shape.ffn, h)),
                (b + "ffn_down.weight", (h, shape.ffn))]
        if arch == "gemma3":
            out += [(b + "attn_q_norm.weight", (shape.head_dim,)),
                    (b + "attn_k_norm.weight", (shape.head_dim,)),
                    (b + "post_attention_norm.weight", (h,)),
                    (b + "post_ffw_norm.weight", (h,))]
    return out


def _copied(reader: gguf.GGUFReader, skip: set[str]) -> list[gguf.ReaderField]:
    arch = str(reader.fields["general.architecture"].contents())
    return [field for name, field in reader.fields.items()
            if name.startswith(("tokenizer.", f"{arch}.", "general."))
            and name != "general.architecture" and name not in skip]


def tokenizer_only(source: Path, target: Path) -> Path:
    """Write target: source's metadata (tokenizer, architecture) and no tensors, small enough
    to travel where the model itself cannot."""
    reader = gguf.GGUFReader(source)
    writer = gguf.GGUFWriter(target, str(reader.fields["general.architecture"].contents()))
    for field in _copied(reader, set()):
        _copy_field(writer, field)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


def build(source: Path, target: Path, *, tiny: bool = False, seed: int = 0) -> Path:
    """Write target: source's tokenizer and architecture, random weights in a 1B shape."""
    reader = gguf.GGUFReader(source)
    arch = str(reader.fields["general.architecture"].contents())
    if (arch, tiny) not in SHAPES:
        raise ValueError(f"no synthetic shape for architecture {arch!r}")
    shape = SHAPES[(arch, tiny)]
    vocab = len(reader.fields["tokenizer.ggml.tokens"].contents())
    writer = gguf.GGUFWriter(target, arch)
    overrides = {
        f"{arch}.block_count": shape.layers,
        f"{arch}.embedding_length": shape.hidden,
        f"{arch}.feed_forward_length": shape.ffn,
        f"{arch}.attention.head_count": shape.heads,
        f"{arch}.attention.head_count_kv": shape.kv_heads,
        f"{arch}.rope.dimension_count": shape.head_dim,
        f"{arch}.attention.key_length": shape.head_dim,
        f"{arch}.attention.value_length": shape.head_dim,
        f"{arch}.vocab_size": vocab,
    }
    skip = {*overrides, "general.file_type", "general.quantization_version", "general.name"}
    for field in _copied(reader, skip):
        _copy_field(writer, field)
    for key, value in overrides.items():
        # llama derives the head width from the hidden size; gemma3 states it
        if arch == "gemma3" or not key.endswith((".key_length", ".value_length")):
            writer.add_uint32(key, value)
    writer.add_name(f"synthetic {arch} {'tiny' if tiny else '1B-class'}")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    rng = np.random.default_rng(seed)
    for name, dims in _tensors(arch, shape, vocab):
        if len(dims) == 1:
            writer.add_tensor(name, np.ones(dims, dtype=np.float32))
        else:
            weights = rng.standard_normal(dims, dtype=np.float32)
            weights *= 0.02
            writer.add_tensor(name, weights.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a real GGUF model: its tokenizer is copied")
    parser.add_argument("target", type=Path)
    parser.add_argument("--tiny", action="store_true", help="2 layers, 64 wide (for tests)")
    args = parser.parse_args(argv)
    build(args.source, args.target, tiny=args.tiny)
    print(f"{args.target}: {args.target.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
