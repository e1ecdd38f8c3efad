"""StageRunner: llama.cpp's samplers of a step applied in one call (tw_apply_stages)."""

from __future__ import annotations

import llama_cpp
import numpy as np

from tokenwise.core.engine import compiled
from tokenwise.core.engine.compiled import CandidateBuffer, StageRunner


def test_the_five_stages_in_one_call_are_llama_cpps_own() -> None:
    """tw_apply_stages calls llama.cpp's llama_sampler_apply in order: the same sizes after
    each stage, the same probabilities and the same draws as five calls from Python."""
    rng = np.random.default_rng(8)
    n = 500
    logits = np.sort((rng.standard_normal(n) * 2.0).astype(np.float32))[::-1].copy()
    ids = rng.permutation(n).astype(np.int32)
    outcomes = []
    for one_call in (True, False):
        buf = CandidateBuffer(n)
        samplers = [llama_cpp.llama_sampler_init_top_k(40),
                    llama_cpp.llama_sampler_init_top_p(0.95, 1),
                    llama_cpp.llama_sampler_init_min_p(0.05, 1), None,  # a stage that is off
                    llama_cpp.llama_sampler_init_temp(0.7),
                    llama_cpp.llama_sampler_init_dist(1234)]
        runner = StageRunner(buf, samplers)
        assert (runner._args is not None) == (compiled._APPLY_STAGES is not None)
        if not one_call:
            runner._args = None
        try:
            seen = []
            for _ in range(50):
                buf.load(ids, logits, is_sorted=True)
                sizes = runner.apply()
                size = int(buf.array.size)
                seen.append((sizes, int(buf.array.selected), buf.ids[:size].tolist(),
                             buf.probs[:size].tobytes()))
            outcomes.append(seen)
        finally:
            for sampler in samplers:
                if sampler is not None:
                    llama_cpp.llama_sampler_free(sampler)
    assert outcomes[0] == outcomes[1]
    sizes = outcomes[0][0][0]
    assert sizes[0] == 40 and sizes[1] <= 40 and sizes[2] <= sizes[1]
    assert sizes[3] == sizes[2] and sizes[5] == sizes[4]  # the skipped stage, then dist
    assert len({selected for _, selected, _, _ in outcomes[0]}) > 1  # it draws
