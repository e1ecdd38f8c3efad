"""A fast GGUF header reader and validator that never touches llama.cpp.

llama.cpp answers a broken file with "Failed to load model from file" or, for some
damaged files, aborts the whole process. Reading the header here first lets Tokenwise
say what is wrong (not GGUF at all, an interrupted download, a newer format) before the
file reaches the engine, and lets the model library show a model's details without
loading it. Large arrays (the vocabulary, merges, scores) are skipped, not decoded: a
262k-entry vocabulary costs one pass over its length prefixes.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tokenwise.core.errors import (
    DamagedModelError,
    ModelFileError,
    ModelNotFoundError,
    NotAModelError,
    NotGGUFError,
    TruncatedModelError,
    UnsupportedGGUFVersionError,
)
from tokenwise.core.formatting import format_size

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # GGML_MAX_DIMS
# Arrays with more elements than this are described by an ArrayInfo instead of a list.
SMALL_ARRAY_LIMIT = 256
# Beyond these a field is damage, not a large model: no real file comes near them. They are
# absolute, not relative to the file's size, so that a cut download reads as "truncated".
MAX_STRING_BYTES = 1 << 30
MAX_ARRAY_LENGTH = 1 << 31
MAX_COUNT = 1 << 24
MAX_ELEMENTS = 1 << 42

# GGUF metadata value types.
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL = range(8)
T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(8, 13)

_SCALAR_FORMATS: dict[int, str] = {
    T_UINT8: "<B",
    T_INT8: "<b",
    T_UINT16: "<H",
    T_INT16: "<h",
    T_UINT32: "<I",
    T_INT32: "<i",
    T_FLOAT32: "<f",
    T_BOOL: "<?",
    T_UINT64: "<Q",
    T_INT64: "<q",
    T_FLOAT64: "<d",
}
_SCALAR_STRUCTS = {tag: struct.Struct(fmt) for tag, fmt in _SCALAR_FORMATS.items()}
_VALUE_TYPE_NAMES = {
    T_UINT8: "uint8",
    T_INT8: "int8",
    T_UINT16: "uint16",
    T_INT16: "int16",
    T_UINT32: "uint32",
    T_INT32: "int32",
    T_FLOAT32: "float32",
    T_BOOL: "bool",
    T_STRING: "string",
    T_ARRAY: "array",
    T_UINT64: "uint64",
    T_INT64: "int64",
    T_FLOAT64: "float64",
}

# ggml tensor types: id -> (name, elements per block, bytes per block).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    31: ("Q4_0_4_4", 32, 18),
    32: ("Q4_0_4_8", 32, 18),
    33: ("Q4_0_8_8", 32, 18),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    36: ("IQ4_NL_4_4", 32, 18),
    37: ("IQ4_NL_4_8", 32, 18),
    38: ("IQ4_NL_8_8", 32, 18),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}

# llama_ftype (general.file_type) -> the name users know from file names.
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    4: "Q4_1_SOME_F16",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    33: "Q4_0_4_4",
    34: "Q4_0_4_8",
    35: "Q4_0_8_8",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
    41: "Q2_0",
}

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_HEADER = struct.Struct("<4sIQQ")


@dataclass(frozen=True, slots=True)
class ArrayInfo:
    """A metadata array too large to keep: its element type and length."""

    type: str
    length: int


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int  # relative to GGUFInfo.data_offset
    n_elements: int
    n_bytes: int | None  # None for a tensor type this reader does not know

    @property
    def type_name(self) -> str:
        known = GGML_TYPES.get(self.ggml_type)
        return known[0] if known else f"type {self.ggml_type}"


@dataclass(frozen=True)
class GGUFInfo:
    """What the header of a GGUF file says, checked against the file's size."""

    path: str
    file_size: int
    version: int
    tensor_count: int
    data_offset: int
    data_end: int  # offset just past the last tensor's data
    metadata: dict[str, object]
    architecture: str
    name: str
    parameters: int
    quantization: str
    context_length: int
    layers: int
    vocab_size: int
    chat_template: str | None
    license: str
    tensor_types: dict[str, int] = field(default_factory=dict)  # type name -> tensor count


def describe_non_gguf(head: bytes) -> str:
    """Guess what a file that is not GGUF is, from its first bytes."""
    text = head.lstrip()[:256].lower()
    if head.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer (a small text file that stands in for the real model)"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in text:
        return "an HTML page (probably an error or login page saved instead of the model)"
    if len(head) >= 10 and head[8:10] == b'{"':
        return "a safetensors file (a model format llama.cpp cannot load directly)"
    if text.startswith((b"{", b"[")):
        return "a JSON file"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (or a PyTorch checkpoint)"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip-compressed file"
    if head.startswith(b"\x80") and len(head) > 1 and head[1] in (2, 3, 4, 5):
        return "a Python pickle (a PyTorch checkpoint)"
    if head[:4] in (b"lmgg", b"fmgg", b"tjgg"):
        return "a model in the old GGML/GGJT format that came before GGUF"
    if head[:4] == b"FUGG" or head[:4].upper() == b"GGUF":
        return "a GGUF file with a damaged signature"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:128]):
        return "a text file"
    return "a file of unknown type"


class _Reader:
    """Bounds-checked little-endian reads from a buffer; EOF becomes TruncatedModelError."""

    def __init__(self, buf: mmap.mmap | bytes, size: int, path: Path) -> None:
        self.buf = buf
        self.size = size
        self.pos = 0
        self.path = path

    def need(self, n: int, what: str) -> None:
        if self.pos + n > self.size:
            raise TruncatedModelError(
                f"{self.path.name} ends after {format_size(self.size)}, in the middle of "
                f"its header ({what}): the file is incomplete, probably an interrupted "
                "download. Download it again."
            )

    def u32(self, what: str) -> int:
        self.need(4, what)
        (value,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def u64(self, what: str) -> int:
        self.need(8, what)
        (value,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return int(value)

    def string(self, what: str) -> str:
        length = self.u64(what)
        if length > MAX_STRING_BYTES:
            raise _damaged(self.path, f"a text field claims {format_size(length)}")
        self.need(length, what)
        raw = bytes(self.buf[self.pos : self.pos + length])
        self.pos += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("utf-8", errors="replace")

    def skip_strings(self, count: int, what: str) -> None:
        """Skip ``count`` length-prefixed strings: the hot loop for vocabularies."""
        pos, size, buf, unpack = self.pos, self.size, self.buf, _U64.unpack_from
        for _ in range(count):
            if pos + 8 > size:
                break
            length = unpack(buf, pos)[0]
            if length > MAX_STRING_BYTES:
                raise _damaged(self.path, f"an entry of {what!r} claims {format_size(length)}")
            pos += 8 + length
        else:
            if pos <= size:
                self.pos = pos
                return
        self.pos = size
        self.need(1, what)


def _damaged(path: Path, detail: str) -> DamagedModelError:
    return DamagedModelError(
        f"{path.name} is a damaged GGUF file ({detail}). It cannot be loaded: "
        "download it again, or choose another file."
    )


def _read_value(r: _Reader, tag: int, key: str) -> object:
    if tag == T_STRING:
        return r.string(key)
    if tag == T_ARRAY:
        item_tag = r.u32(key)
        count = r.u64(key)
        if count > MAX_ARRAY_LENGTH:
            raise _damaged(r.path, f"the list {key!r} claims {count:,} entries")
        item_struct = _SCALAR_STRUCTS.get(item_tag)
        if item_struct is not None:
            n_bytes = count * item_struct.size
            r.need(n_bytes, key)
            if count <= SMALL_ARRAY_LIMIT:
                values = list(struct.unpack_from(f"<{count}{item_struct.format[1:]}", r.buf, r.pos))
                r.pos += n_bytes
                return values
            r.pos += n_bytes
            return ArrayInfo(_VALUE_TYPE_NAMES[item_tag], count)
        if item_tag == T_STRING:
            if count <= SMALL_ARRAY_LIMIT:
                return [r.string(key) for _ in range(count)]
            r.skip_strings(count, key)
            return ArrayInfo("string", count)
        if item_tag == T_ARRAY:
            items = [_read_value(r, T_ARRAY, key) for _ in range(count)]
            return items if count <= SMALL_ARRAY_LIMIT else ArrayInfo("array", count)
        raise _damaged(r.path, f"unknown value type {item_tag} in {key!r}")
    scalar = _SCALAR_STRUCTS.get(tag)
    if scalar is None:
        raise _damaged(r.path, f"unknown value type {tag} for {key!r}")
    r.need(scalar.size, key)
    (value,) = scalar.unpack_from(r.buf, r.pos)
    r.pos += scalar.size
    return value


def _open_checked(path: Path) -> tuple[int, object]:
    """Stat the path and turn every way it can be unusable into a clear message."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelNotFoundError(
            f"The model file {path} does not exist. It may have been moved or deleted: "
            "choose it again or download it again."
        ) from None
    except OSError as exc:
        raise ModelFileError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if path.is_dir():
        raise ModelFileError(
            f"{path} is a folder, not a model file. Choose the .gguf file inside it."
        )
    if st.st_size == 0:
        raise ModelFileError(
            f"{path.name} is empty (0 bytes): the download or copy did not finish. "
            "Delete it and download it again."
        )
    return st.st_size, st


def inspect_gguf(path: str | os.PathLike[str]) -> GGUFInfo:
    """Read and check a GGUF file's header; raise a ModelFileError subclass if unusable."""
    path = Path(path)
    file_size, _ = _open_checked(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(min(file_size, 512))
            if len(head) < 4 or head[:4] != GGUF_MAGIC:
                if len(head) < 4 and GGUF_MAGIC.startswith(head):
                    raise TruncatedModelError(
                        f"{path.name} is only {len(head)} bytes long: the download stopped "
                        "at its very start. Download it again."
                    )
                raise NotGGUFError(
                    f"{path.name} is not a GGUF model: it looks like "
                    f"{describe_non_gguf(head)}. Tokenwise needs a .gguf file, such as one "
                    "from the catalogue or a Hugging Face repository whose name ends in GGUF."
                )
            buf = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except PermissionError:
        raise ModelFileError(
            f"Tokenwise is not allowed to read {path}. Check the file's permissions."
        ) from None
    except OSError as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    try:
        return _parse(buf, file_size, path)
    finally:
        buf.close()


def _parse(buf: mmap.mmap, file_size: int, path: Path) -> GGUFInfo:
    r = _Reader(buf, file_size, path)
    r.need(8, "version")
    (version,) = _U32.unpack_from(buf, 4)
    if version not in SUPPORTED_VERSIONS:
        if version == 1:
            hint = "version 1, an early draft of the format from 2023"
        elif version in (0x02000000, 0x03000000):
            hint = "the big-endian kind, made for another kind of computer"
        else:
            hint = f"version {version}"
        raise UnsupportedGGUFVersionError(
            f"{path.name} is a GGUF file of {hint}; Tokenwise reads versions 2 and 3. "
            "Download a current conversion of the model (most GGUF repositories have one)."
        )
    r.pos = 8
    tensor_count = r.u64("tensor count")
    kv_count = r.u64("metadata count")
    if tensor_count > MAX_COUNT or kv_count > MAX_COUNT:
        raise _damaged(path, f"it claims {tensor_count:,} tensors and {kv_count:,} entries")

    metadata: dict[str, object] = {}
    for _ in range(kv_count):
        key = r.string("a metadata key")
        tag = r.u32(key)
        if key in metadata:
            raise _damaged(path, f"the entry {key!r} appears twice")
        metadata[key] = _read_value(r, tag, key)

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _damaged(path, f"general.alignment is {alignment!r}")

    tensors: list[TensorInfo] = []
    names: set[str] = set()
    for _ in range(tensor_count):
        name = r.string("a tensor name")
        n_dims = r.u32(name)
        if n_dims > MAX_DIMS:
            raise _damaged(path, f"tensor {name!r} has {n_dims} dimensions")
        r.need(8 * n_dims + 12, name)
        shape = struct.unpack_from(f"<{n_dims}Q", buf, r.pos)
        r.pos += 8 * n_dims
        ggml_type = r.u32(name)
        offset = r.u64(name)
        if name in names:
            raise _damaged(path, f"the tensor {name!r} appears twice")
        names.add(name)
        n_elements = 1
        for dim in shape:
            n_elements *= dim
        if n_elements > MAX_ELEMENTS:
            raise _damaged(path, f"tensor {name!r} claims {n_elements:,} values")
        known = GGML_TYPES.get(ggml_type)
        n_bytes: int | None = None
        if known is not None:
            _, block, block_bytes = known
            if shape and shape[0] % block:
                raise _damaged(path, f"tensor {name!r} does not fill whole {known[0]} blocks")
            n_bytes = n_elements // block * block_bytes
        elif ggml_type > 64:
            raise _damaged(path, f"tensor {name!r} has unknown type {ggml_type}")
        if offset % alignment:
            raise _damaged(path, f"tensor {name!r} is not aligned")
        tensors.append(TensorInfo(name, tuple(shape), ggml_type, offset, n_elements, n_bytes))

    if not tensors:
        # Nothing follows the header, so no padding either: llama.cpp ships such files
        # (ggml-vocab-*.gguf) to test its tokenizers.
        what = "a vocabulary only" if "tokenizer.ggml.tokens" in metadata else "metadata only"
        raise NotAModelError(
            f"{path.name} holds {what} (no weights): a tokenizer test file, not a model you "
            "can chat with. Choose a .gguf file of a model."
        )
    _check_layout(path, tensors, alignment)
    data_offset = -(-r.pos // alignment) * alignment
    data_end = data_offset
    for tensor in tensors:
        data_end = max(data_end, data_offset + tensor.offset + (tensor.n_bytes or 0))
    if data_end > file_size:
        missing = data_end - file_size
        raise TruncatedModelError(
            f"{path.name} is incomplete: the file is {format_size(file_size)} but its "
            f"tensors need {format_size(data_end)} ({format_size(missing)} missing). "
            "The download was probably interrupted: download it again (Tokenwise resumes "
            "where it stopped)."
        )
    return _summarise(path, file_size, version, data_offset, data_end, metadata, tensors)


def _check_layout(path: Path, tensors: list[TensorInfo], alignment: int) -> None:
    """llama.cpp wants the tensors back to back in the order listed, each padded to the
    alignment; a table that says otherwise has a damaged size, type or offset."""
    expected = 0
    for tensor in tensors:
        if tensor.n_bytes is None:
            return  # a type this reader cannot size: leave the layout to llama.cpp
        if tensor.offset != expected:
            raise _damaged(
                path,
                f"tensor {tensor.name!r} starts at byte {tensor.offset:,} of the data where "
                f"the tensors before it end at {expected:,}: its table of sizes, types and "
                "offsets does not add up",
            )
        expected += -(-tensor.n_bytes // alignment) * alignment


def _summarise(
    path: Path,
    file_size: int,
    version: int,
    data_offset: int,
    data_end: int,
    metadata: dict[str, object],
    tensors: list[TensorInfo],
) -> GGUFInfo:
    arch = _text(metadata.get("general.architecture"))

    def arch_int(suffix: str) -> int:
        value = metadata.get(f"{arch}.{suffix}")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0

    tokens = metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, ArrayInfo):
        vocab_size = tokens.length
    elif isinstance(tokens, list):
        vocab_size = len(tokens)
    else:
        vocab_size = arch_int("vocab_size")

    type_counts: Counter[str] = Counter(t.type_name for t in tensors)
    file_type = metadata.get("general.file_type")
    quantization = FILE_TYPES.get(file_type, "") if isinstance(file_type, int) else ""
    if not quantization and tensors:
        by_elements: Counter[str] = Counter()
        for tensor in tensors:
            if len(tensor.shape) >= 2:
                by_elements[tensor.type_name] += tensor.n_elements
        quantization = (by_elements or type_counts).most_common(1)[0][0]

    template = metadata.get("tokenizer.chat_template")
    return GGUFInfo(
        path=str(path),
        file_size=file_size,
        version=version,
        tensor_count=len(tensors),
        data_offset=data_offset,
        data_end=data_end,
        metadata=metadata,
        architecture=arch,
        name=_text(metadata.get("general.name")) or path.stem,
        parameters=sum(t.n_elements for t in tensors),
        quantization=quantization or "unknown",
        context_length=arch_int("context_length"),
        layers=arch_int("block_count"),
        vocab_size=vocab_size,
        chat_template=template if isinstance(template, str) else None,
        license=_text(metadata.get("general.license")),
        tensor_types=dict(type_counts),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
