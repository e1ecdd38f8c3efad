"""The sampler stages: one home for their names, the order llama.cpp applies them in, their
titles (full and for narrow columns) and a line of help for each."""

from __future__ import annotations

STAGE_RAW = "raw"  # not a stage: the model's own distribution before any of them
STAGE_PENALTIES = "penalties"
STAGE_TOP_K = "top_k"
STAGE_TOP_P = "top_p"
STAGE_MIN_P = "min_p"
STAGE_TEMPERATURE = "temperature"
STAGE_GREEDY = "greedy"
#: the order llama.cpp applies them in; the last stage is the distribution drawn from
STAGE_ORDER = (STAGE_PENALTIES, STAGE_TOP_K, STAGE_TOP_P, STAGE_MIN_P, STAGE_TEMPERATURE)
STAGE_TITLES = {
    STAGE_RAW: "raw",
    STAGE_PENALTIES: "penalties",
    STAGE_TOP_K: "top-k",
    STAGE_TOP_P: "top-p",
    STAGE_MIN_P: "min-p",
    STAGE_TEMPERATURE: "temperature",
    STAGE_GREEDY: "greedy",
}
#: titles for narrow columns, where they differ from the full ones
STAGE_SHORT_TITLES = {**STAGE_TITLES, STAGE_PENALTIES: "penalty", STAGE_TEMPERATURE: "temp."}
STAGE_HELP = {
    STAGE_RAW: "the model's own distribution: a softmax over the whole vocabulary.",
    STAGE_PENALTIES: "tokens seen recently lose probability (repeat, presence, frequency).",
    STAGE_TOP_K: "only the k most probable tokens stay; the rest are cut.",
    STAGE_TOP_P: "the smallest set of top tokens whose probabilities reach p stays "
                 "(the dashed line marks where the cumulative mass crosses p).",
    STAGE_MIN_P: "tokens below min-p times the top token's probability are cut.",
    STAGE_TEMPERATURE: "logits divided by T: below 1 sharpens, above 1 flattens. The token "
                       "is drawn from this distribution.",
    STAGE_GREEDY: "temperature 0: the most probable token is taken.",
}
