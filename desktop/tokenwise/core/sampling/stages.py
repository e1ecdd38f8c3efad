"""The sampler stages by name, in the order llama.cpp applies them, with their titles."""

from __future__ import annotations

STAGE_PENALTIES = "penalties"
STAGE_TOP_K = "top_k"
STAGE_TOP_P = "top_p"
STAGE_MIN_P = "min_p"
STAGE_TEMPERATURE = "temperature"
STAGE_GREEDY = "greedy"
#: the order llama.cpp applies them in; the last stage is the distribution drawn from
STAGE_ORDER = (STAGE_PENALTIES, STAGE_TOP_K, STAGE_TOP_P, STAGE_MIN_P, STAGE_TEMPERATURE)
STAGE_TITLES = {
    "raw": "raw",
    STAGE_PENALTIES: "penalties",
    STAGE_TOP_K: "top-k",
    STAGE_TOP_P: "top-p",
    STAGE_MIN_P: "min-p",
    STAGE_TEMPERATURE: "temperature",
    STAGE_GREEDY: "greedy",
}
