"""The engine bench on synthetic models, all layers offloaded, overlap on and off.

Writes one JSON line per run to --out as each run ends, so a cut-short check still leaves its
finished rows. Imports neither Qt nor the hub client. With --samplers, the sampler matrix
instead, overlap on and off, the compiled pass on two threads and on one (where every layer is
offloaded, ggml's CPU pool may sleep through the decode: which one keeps more is measured).

Usage: python tests/gpu/bench_gpu.py MODEL.gguf... --out rows.jsonl [--tokens N] [--rounds N]
       [--samplers]
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
    parser.add_argument("--samplers", action="store_true")
    args = parser.parse_args(argv)
    if args.samplers:
        return _samplers(args.models, args.out, args.tokens, args.rounds)
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


def _samplers(models: list[Path], out: Path, tokens: int, rounds: int) -> int:
    from tokenwise.core.engine.bench_samplers import as_dict as matrix_dict
    from tokenwise.core.engine.bench_samplers import bench_samplers

    for model in models:
        for overlap in (True, False):
            for parallel in (None, False):
                t0 = time.perf_counter()
                row = matrix_dict(bench_samplers(model, n_tokens=tokens, rounds=rounds,
                                                 overlap=overlap, pass_parallel=parallel))
                row.update(file=model.name, seconds=round(time.perf_counter() - t0, 1))
                line = json.dumps(row)
                print(line, flush=True)
                with out.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
