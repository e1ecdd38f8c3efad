"""Bad model files get a specific, readable error and never take the process down."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tokenwise.core.errors import (
    DamagedModelError,
    ModelFileError,
    ModelNotFoundError,
    NotGGUFError,
    TruncatedModelError,
    UnsupportedGGUFVersionError,
)


def _engine(path: Path):
    from tokenwise.core.engine.local import Engine

    return Engine(path, n_ctx=256)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        _engine(tmp_path / "nope.gguf")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"folder|directory"):
        _engine(tmp_path)


def test_not_gguf(tmp_path: Path) -> None:
    page = tmp_path / "model.gguf"
    page.write_text("<!DOCTYPE html><html><body>Not found</body></html>")
    with pytest.raises(NotGGUFError, match="HTML"):
        _engine(page)


def test_unsupported_version(tmp_path: Path, starter_model_path: Path) -> None:
    bad = tmp_path / "v9.gguf"
    data = bytearray(starter_model_path.read_bytes()[:4096])
    data[4:8] = (9).to_bytes(4, "little")
    bad.write_bytes(bytes(data))
    with pytest.raises(UnsupportedGGUFVersionError, match="9"):
        _engine(bad)


@pytest.mark.parametrize("fraction", [0.0001, 0.01, 0.5, 0.999])
def test_truncated(tmp_path: Path, starter_model_path: Path, fraction: float) -> None:
    size = starter_model_path.stat().st_size
    cut = tmp_path / "cut.gguf"
    with starter_model_path.open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(int(size * fraction)))
    with pytest.raises(TruncatedModelError) as info:
        _engine(cut)
    assert "interrupted" in str(info.value) or "cut short" in str(info.value)


def _duplicate_a_vocabulary_entry(src: Path, dst: Path) -> None:
    """Make two tokens identical: llama.cpp asserts on this and aborts the process."""
    shutil.copyfile(src, dst)
    one = (1).to_bytes(8, "little")
    with dst.open("r+b") as f:
        head = f.read(4 << 20)
        pos = head.find(one + b"!" + one + b'"')
        assert pos > 0, "single-character tokens '!' and '\"' not found"
        f.seek(pos + 8 + 1 + 8)
        f.write(b"!")


def test_a_failed_assertion_while_loading_is_a_load_error(
    tmp_path: Path, starter_model_path: Path
) -> None:
    """llama.cpp asserts on two identical tokens: a clear message, and the app goes on."""
    from tokenwise.core.engine import guard

    if not guard.available():
        pytest.skip("the assertion guard was not built here")
    damaged = tmp_path / "duplicate-token.gguf"
    _duplicate_a_vocabulary_entry(starter_model_path, damaged)
    with pytest.raises(DamagedModelError, match="damaged") as info:
        _engine(damaged)
    assert "llama-vocab.cpp" in str(info.value) and "GGML_ASSERT" in str(info.value)
    assert "pip-install" not in str(info.value) and "/src/" not in str(info.value)
    engine = _engine(starter_model_path)
    try:
        assert engine.info.vocab_size == 49152
    finally:
        engine.close()


def test_a_file_that_crashes_llama_cpp_is_caught_in_the_child(
    tmp_path: Path, starter_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the guard (here and in the child) the assertion aborts: the child, not the app."""
    from tokenwise.core.engine import guard

    monkeypatch.setattr(guard, "_GUARD", None)
    monkeypatch.setenv(guard.NO_GUARD_ENV, "1")
    damaged = tmp_path / "duplicate-token.gguf"
    _duplicate_a_vocabulary_entry(starter_model_path, damaged)
    with pytest.raises(DamagedModelError, match="damaged") as info:
        _engine(damaged)
    assert "SIGABRT" in str(info.value) or "crashed" in str(info.value)
    # and the app's own process is still alive to load a good file
    engine = _engine(starter_model_path)
    try:
        assert engine.info.vocab_size == 49152
    finally:
        engine.close()


def test_preflight_runs_once_per_file(tmp_path: Path, starter_model_path: Path) -> None:
    from tokenwise.core.engine import preflight

    copy = tmp_path / "copy.gguf"
    shutil.copyfile(starter_model_path, copy)
    assert not preflight.passed_before(copy)
    preflight.ensure_preflight(copy)
    assert preflight.passed_before(copy)
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # changed: check again
    assert not preflight.passed_before(copy)


def test_stopping_a_running_check_ends_its_child_and_the_load(
        tmp_path: Path, starter_model_path: Path) -> None:
    import threading

    from tokenwise.core.engine import preflight
    from tokenwise.core.errors import TokenwiseError

    copy = tmp_path / "unseen.gguf"
    shutil.copyfile(starter_model_path, copy)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            preflight.ensure_preflight(copy)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=load)
    worker.start()
    tick = threading.Event()
    for _ in range(3000):  # until the child is running (bounded)
        if preflight._running:
            break
        tick.wait(0.01)
    children = list(preflight._running)
    assert children, "the check never started"
    preflight.stop_running()
    worker.join(10)
    assert not worker.is_alive()
    assert isinstance(outcome[0], TokenwiseError) and "was stopped" in str(outcome[0])
    assert all(child.poll() is not None for child in children)
    assert not preflight.passed_before(copy)  # a stopped check proves nothing


def test_the_error_line_that_says_what_is_wrong_is_reported() -> None:
    """llama.cpp follows the specific line with generic ones ("failed to load model"); the
    message shows the specific one, without its function name."""
    from tokenwise.core.engine import native

    native.clear_errors()
    native._log_callback(2, b"llama_model_loader: loaded meta data\n", None)
    native._log_callback(4, b"gguf_init_from_reader: tensor 'x' has offset 64, ", None)
    native._log_callback(5, b"expected 32\n", None)
    native._log_callback(4, b"gguf_init_from_reader: failed to read tensor data\n", None)
    native._log_callback(4, b"llama_model_load_from_file_impl: failed to load model\n", None)
    assert native.last_error_line() == "tensor 'x' has offset 64, expected 32"
    native.clear_errors()
    native._log_callback(4, b"llama_model_load: error loading model: missing tensor 'y'\n", None)
    native._log_callback(4, b"llama_model_load_from_file_impl: failed to load model\n", None)
    assert native.last_error_line() == "missing tensor 'y'"
    native.clear_errors()
    native._log_callback(4, b"llama_model_load_from_file_impl: failed to load model\n", None)
    assert "failed to load model" in native.last_error_line()


def test_a_new_file_loads_alongside_its_check(tmp_path: Path, starter_model_path: Path) -> None:
    """The load does not wait for the child; the first decode does, and the pass is kept."""
    from tokenwise.core.engine import guard, preflight
    from tokenwise.core.interface import GenerationRequest
    from tokenwise.core.sampling.settings import PRESETS

    if not guard.available():
        pytest.skip("the assertion guard was not built here")
    copy = tmp_path / "fresh.gguf"
    shutil.copyfile(starter_model_path, copy)
    engine = _engine(copy)
    try:
        check = engine._check
        assert check is not None and check.proc.poll() is None  # still checking
        assert not preflight.passed_before(copy)
        ids = engine.token_ids("Hello", add_special=True)
        steps = list(engine.generate(GenerationRequest(ids, PRESETS["Greedy"].with_(
            max_tokens=2))))
        assert len(steps) == 2
        assert engine._check is None and preflight.passed_before(copy)
    finally:
        engine.close()
    # closed while a check runs: the child ends with it, and nothing is remembered
    other = tmp_path / "other.gguf"
    shutil.copyfile(starter_model_path, other)
    engine = _engine(other)
    check = engine._check
    assert check is not None
    engine.close()
    assert check.proc.poll() is not None
    assert not preflight.passed_before(other)
