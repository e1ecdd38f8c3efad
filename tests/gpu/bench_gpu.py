"""The engine bench on synthetic models, all layers offloaded, overlap on and off.

Writes one JSON line per run to --out as each run ends, so a cut-short check still leaves its
finished rows. Imports neither Qt nor the hub client.

Usage: python tests/gpu/bench_gpu.py MODEL.gguf... --out rows.jsonl [--tokens N] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from tokenwise.core.engine.bench import as_dict, bench_model
from tokenwise.core.engine.overlap import OVERLAP_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--logprobs-tokens", type=int, default=32)
    args = parser.parse_args(argv)
    for model in args.models:
        for overlap in ("1", "0"):
            os.environ[OVERLAP_ENV] = overlap
            t0 = time.perf_counter()
            row = as_dict(bench_model(model, n_tokens=args.tokens, rounds=args.rounds,
                                      logprobs_tokens=args.logprobs_tokens))
            row.update(file=model.name, overlap=overlap == "1",
                       seconds=round(time.perf_counter() - t0, 1))
            line = json.dumps(row)
            print(line, flush=True)
            with args.out.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
