"""The compiled pass built as plain C, as on a CPU with neither SSE2 nor AVX (an ARM Mac).

The installed pass takes the wide loops of this CPU, so the plain one is built here on its
own (the same file, with TW_PLAIN) and held to the same textbook formulas: the candidates,
the normaliser, sum(exp(x - max) * x) (a float running sum drifted by 1e-4 over a chunk),
the tempered sum and the draw.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from tokenwise.core.engine import compiled
from tokenwise.core.engine.draw import CHUNK, chunk_count

SOURCE = Path(compiled.__file__).with_name("_scan.c")
COMPILER = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    assert compiled._SCAN is not None, "the compiled pass was not built"
    assert COMPILER is not None, "no C compiler"
    out = tmp_path_factory.mktemp("plain") / "plain_scan.so"
    subprocess.run([COMPILER, "-O2", "-shared", "-fPIC", "-DTW_PLAIN",
                    f"-I{sysconfig.get_paths()['include']}", str(SOURCE), "-o", str(out),
                    "-lm", *(["-undefined", "dynamic_lookup"] if sys.platform == "darwin"
                             else [])], check=True, capture_output=True)
    lib = ctypes.CDLL(str(out))
    # the same signatures as the installed pass's
    lib.tw_scan.restype, lib.tw_scan.argtypes = ctypes.c_int, compiled._SCAN.argtypes
    lib.tw_scan_tempered.restype = ctypes.c_int
    lib.tw_scan_tempered.argtypes = compiled._SCAN_TEMPERED.argtypes
    _, pick, _, _ = compiled._DRAW
    lib.tw_pick.restype, lib.tw_pick.argtypes = ctypes.c_int, pick.argtypes
    lib.tw_simd_exps.restype, lib.tw_simd_exps.argtypes = ctypes.c_int, [ctypes.c_int]
    return lib


def _logits(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * 3.0).astype(np.float32)
    x[rng.integers(0, n, 50)] = -np.inf
    x[rng.integers(0, n, 5)] = 12.0
    return x


@pytest.mark.parametrize("n", [262144, 3 * CHUNK + 101])
def test_the_plain_pass_computes_the_textbook_numbers(plain: ctypes.CDLL, n: int) -> None:
    assert plain.tw_simd_exps(2) == 0  # no loop of its own: ggml's softmax kernel
    x = _logits(n, n)
    finite = np.isfinite(x)
    x64 = x.astype(np.float64)
    m = float(x64[finite].max())
    e = np.where(finite, np.exp(x64 - m), 0.0)
    buf = compiled.CandidateBuffer(n)
    count = plain.tw_scan(x.ctypes.data, n, 40, compiled._SOFTMAX_ADDRESS, *buf.scan_args)
    assert count >= 40
    best = np.lexsort((np.arange(n), -np.where(finite, x64, -np.inf)))[:40]
    assert buf.ids[:40].tolist() == best.tolist()
    got_m, z, s = buf.scan_out.tolist()
    assert got_m == m
    assert z == pytest.approx(e.sum(), rel=1e-6)
    entropy = (m + np.log(e.sum())) - (e * np.where(finite, x64, 0.0)).sum() / e.sum()
    assert (m + np.log(z)) - s / z == pytest.approx(entropy, abs=2e-5)
    # the tempered sum and a draw from it
    t_sums, t_out = np.zeros(chunk_count(n)), np.zeros(1)
    assert plain.tw_scan_tempered(x.ctypes.data, n, 40, compiled._SOFTMAX_ADDRESS,
                                  *buf.scan_args, 1.25, t_sums.ctypes.data, t_out.ctypes.data,
                                  None, 1) >= 40
    w = np.where(finite, np.exp((x64 - m) * 1.25), 0.0)
    assert t_out[0] == pytest.approx(w.sum(), rel=1e-6)
    cum = np.cumsum(w)
    none = np.zeros(1, dtype=np.int32)
    for u in (0.0, 0.3, 0.77, 1.0 - 1e-12):
        token = plain.tw_pick(x.ctypes.data, n, m, 1.25, compiled._SOFTMAX_ADDRESS,
                              t_sums.ctypes.data, u * t_out[0], none.ctypes.data, 0)
        assert w[token] > 0.0
        assert cum[token] - w[token] <= u * t_out[0] * (1 + 1e-6) + 1e-12
        assert cum[token] >= u * t_out[0] * (1 - 1e-6)
