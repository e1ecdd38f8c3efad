"""The GGUF reader against the real starter model and against files broken on purpose."""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ggufwriter import TINY_TENSORS, gguf_bytes, tiny_model_metadata, write_tiny_model
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
from tokenwise.core.models.gguf import ArrayInfo, inspect_gguf


def _header_of(model: Path, n_bytes: int) -> bytes:
    with open(model, "rb") as handle:
        return handle.read(n_bytes)


def test_starter_model_fields(starter_model_path: Path) -> None:
    info = inspect_gguf(starter_model_path)
    # Figures llama.cpp's loader prints for this file (print_info: arch, n_layer, n_ctx_train,
    # n_vocab, file type, model params = 134.52 M).
    assert info.version == 3
    assert info.architecture == "llama"
    assert info.layers == 30
    assert info.context_length == 8192
    assert info.vocab_size == 49152
    assert info.quantization == "Q4_1"
    assert round(info.parameters / 1e6, 2) == 134.52
    assert info.license == "apache-2.0"
    assert info.file_size == starter_model_path.stat().st_size
    assert info.data_end == info.file_size  # the last tensor ends exactly at end of file
    assert info.chat_template is not None
    assert "<|im_start|>" in info.chat_template
    assert info.metadata["tokenizer.ggml.tokens"] == ArrayInfo("string", 49152)
    assert info.metadata["tokenizer.ggml.merges"] == ArrayInfo("string", 48900)


def test_tiny_model_fields_match_what_was_written(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "tiny.gguf")
    info = inspect_gguf(path)
    assert info.name == "Tiny Test Model"
    assert info.quantization == "Q8_0"
    assert info.context_length == 2048
    assert info.layers == 2
    assert info.vocab_size == 300
    assert info.tensor_count == len(TINY_TENSORS)
    assert info.parameters == 64 * 300 + 64 + 256 * 64 + 256 * 300
    assert info.metadata["tokenizer.ggml.scores"] == ArrayInfo("float32", 300)
    assert info.license == "mit"
    assert info.tensor_types == {"Q8_0": 1, "F32": 1, "Q4_K": 1, "Q6_K": 1}


def test_quantization_falls_back_to_most_common_tensor_type(tmp_path: Path) -> None:
    metadata = tiny_model_metadata()
    del metadata["general.file_type"]
    path = write_tiny_model(tmp_path / "nofiletype.gguf", metadata=metadata)
    # Q6_K holds 256*300 weights, more than any other matrix.
    assert inspect_gguf(path).quantization == "Q6_K"


def test_version_2_is_read(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "v2.gguf", version=2)
    assert inspect_gguf(path).version == 2


@pytest.mark.parametrize("version", [1, 4, 0x03000000])
def test_unsupported_versions(tmp_path: Path, version: int) -> None:
    path = write_tiny_model(tmp_path / f"v{version}.gguf", version=version)
    with pytest.raises(UnsupportedGGUFVersionError, match="versions 2 and 3"):
        inspect_gguf(path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        inspect_gguf(tmp_path / "nowhere.gguf")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "model.gguf"
    folder.mkdir()
    with pytest.raises(ModelFileError, match="is a folder"):
        inspect_gguf(folder)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"")
    with pytest.raises(ModelFileError, match="empty"):
        inspect_gguf(path)


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        path = write_tiny_model(tmp_path / "locked.gguf")
        path.chmod(0)
        with pytest.raises(ModelFileError, match="not allowed"):
            inspect_gguf(path)
        return
    # root reads every file: check as an unprivileged user instead
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "setpriv (util-linux) is needed to test as another user"
    folder = Path(tempfile.mkdtemp(prefix="tokenwise-locked-"))
    try:
        folder.chmod(0o755)
        path = write_tiny_model(folder / "locked.gguf")
        path.chmod(0)
        code = ("import sys\nfrom tokenwise.core.errors import ModelFileError\n"
                "from tokenwise.core.models.gguf import inspect_gguf\n"
                "try:\n    inspect_gguf(sys.argv[1])\nexcept ModelFileError as e:\n"
                "    print(e)\n")
        proc = subprocess.run(
            [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable,
             "-c", code, str(path)],
            capture_output=True, text=True, check=False, timeout=60,
            env={**os.environ, "HOME": str(folder), "TOKENWISE_HOME": str(folder / "home")},
        )
        assert proc.returncode == 0, proc.stderr
        assert "not allowed" in proc.stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(
    ("content", "looks_like"),
    [
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "an HTML page"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12\n", "Git LFS"),
        (struct.pack("<Q", 100) + b'{"__metadata__": {}}', "a safetensors file"),
        (b"PK\x03\x04" + bytes(60), "ZIP"),
        (b"tjgg" + bytes(60), "old GGML/GGJT format"),
        (b'{"error": "Repository not found"}', "a JSON file"),
    ],
)
def test_not_gguf_says_what_the_file_looks_like(
    tmp_path: Path, content: bytes, looks_like: str
) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(NotGGUFError, match=looks_like):
        inspect_gguf(path)


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.gguf"
    path.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(NotGGUFError, match="not a GGUF model"):
        inspect_gguf(path)


def test_header_only(tmp_path: Path) -> None:
    path = tmp_path / "header.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 272, 28))
    with pytest.raises(TruncatedModelError, match="in the middle of its header"):
        inspect_gguf(path)


def test_magic_only(tmp_path: Path) -> None:
    path = tmp_path / "magic.gguf"
    path.write_bytes(b"GG")
    with pytest.raises(TruncatedModelError, match="2 bytes"):
        inspect_gguf(path)


@pytest.mark.parametrize("cut", [6, 20, 30, 1000, 200_000, 1_785_000])
def test_starter_truncated_inside_header(
    tmp_path: Path, starter_model_path: Path, cut: int
) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(_header_of(starter_model_path, cut))
    with pytest.raises(TruncatedModelError, match="interrupted download"):
        inspect_gguf(path)


@pytest.mark.parametrize("size", [1_785_700, 41_000_000, 98_362_431])
def test_starter_truncated_inside_tensor_data(
    tmp_path: Path, starter_model_path: Path, size: int
) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(_header_of(starter_model_path, 2_000_000))
    os.truncate(path, size)  # sparse: the header is real, the size is what a cut download has
    with pytest.raises(TruncatedModelError) as raised:
        inspect_gguf(path)
    message = str(raised.value)
    assert f"the file is {format_size(size)}" in message
    assert "need 98 MB" in message
    assert "interrupted" in message


def test_a_copy_of_the_starter_is_accepted(tmp_path: Path, starter_model_path: Path) -> None:
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(starter_model_path, copy)
    assert inspect_gguf(copy).parameters == inspect_gguf(starter_model_path).parameters


def test_absurd_counts_are_damage_not_truncation(tmp_path: Path) -> None:
    path = tmp_path / "huge.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**60, 5) + bytes(100))
    with pytest.raises(DamagedModelError, match="damaged"):
        inspect_gguf(path)


def test_absurd_string_length_is_damage(tmp_path: Path) -> None:
    good = gguf_bytes({"general.architecture": "llama"}, [])
    # the key length field of the first metadata entry follows the 24-byte header
    bad = good[:24] + struct.pack("<Q", 2**50) + good[32:]
    path = tmp_path / "bad.gguf"
    path.write_bytes(bad)
    with pytest.raises(DamagedModelError):
        inspect_gguf(path)


def test_duplicate_tensor_names_are_damage(tmp_path: Path) -> None:
    tensors = [("a.weight", (32,), "F32"), ("a.weight", (32,), "F32")]
    path = tmp_path / "dup.gguf"
    path.write_bytes(gguf_bytes(tiny_model_metadata(), tensors))
    with pytest.raises(DamagedModelError, match="twice"):
        inspect_gguf(path)


def test_seeded_mutations_never_escape_as_other_errors(
    tmp_path: Path, starter_model_path: Path
) -> None:
    """Any damage to the header ends in a ModelFileError or a clean read, never a crash."""
    head = bytearray(_header_of(starter_model_path, 1_785_664))
    rng = random.Random(2024)
    path = tmp_path / "mutant.gguf"
    accepted = 0
    messages: list[str] = []
    for _ in range(150):
        mutant = bytearray(head)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(8, len(mutant) - 8)
            mutant[at : at + 8] = rng.randbytes(8)
        path.write_bytes(bytes(mutant))
        os.truncate(path, 98_362_432)
        try:
            inspect_gguf(path)
            accepted += 1
        except ModelFileError as exc:
            messages.append(str(exc))
    assert messages
    assert accepted + len(messages) == 150
    assert all(len(message) > 40 for message in messages)


def test_large_vocabulary_is_counted_not_kept(tmp_path: Path) -> None:
    metadata = tiny_model_metadata(vocab=50_000)
    path = tmp_path / "bigvocab.gguf"
    path.write_bytes(gguf_bytes(metadata, TINY_TENSORS))
    info = inspect_gguf(path)
    assert info.vocab_size == 50_000
    assert info.metadata["tokenizer.ggml.tokens"] == ArrayInfo("string", 50_000)


@pytest.mark.parametrize("padded", [False, True])
def test_a_vocabulary_without_weights_says_what_it_is(tmp_path: Path, padded: bool) -> None:
    """llama.cpp's ggml-vocab-*.gguf tokenizer test files: metadata and no tensors, and no
    padding after the metadata (written here with alignment 1), or padded to 32 bytes."""
    path = tmp_path / "ggml-vocab-llama-bpe.gguf"
    path.write_bytes(gguf_bytes(tiny_model_metadata(vocab=1000), [],
                                alignment=32 if padded else 1))
    assert struct.unpack_from("<Q", path.read_bytes(), 8)[0] == 0  # tensor count
    with pytest.raises(NotAModelError, match="vocabulary only") as raised:
        inspect_gguf(path)
    message = str(raised.value)
    assert "no weights" in message
    assert "missing" not in message
    assert "again" not in message


@pytest.mark.parametrize("shift", [32, -32])
def test_a_tensor_table_that_does_not_add_up_is_damage(tmp_path: Path, shift: int) -> None:
    """llama.cpp refuses such a file with a generic "failed to load model"; the reader says
    what is wrong (found by tests/benchmarks/mutate_models.py: offsets and dimensions)."""
    data = bytearray(gguf_bytes(tiny_model_metadata(), TINY_TENSORS))
    name = b"blk.0.ffn_up.weight"
    at = data.index(name) + len(name) + 4 + 8 * 2 + 4  # n_dims, two dims, type: the offset
    (offset,) = struct.unpack_from("<Q", data, at)
    struct.pack_into("<Q", data, at, offset + shift)
    path = tmp_path / "shifted.gguf"
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedModelError, match="does not add up"):
        inspect_gguf(path)


def test_the_gemma_layout_is_accepted(gemma_model_path: Path) -> None:
    assert inspect_gguf(gemma_model_path).tensor_count == 236
