"""The sampler stages: one home for their names, the order llama.cpp applies them in, their
titles (full and for narrow columns) and a line of help for each."""

from __future__ import annotations

from tokenwise.core.i18n import N_, TranslatedMapping, _

STAGE_RAW = "raw"  # not a stage: the model's own distribution before any of them
STAGE_PENALTIES = "penalties"
STAGE_TOP_K = "top_k"
STAGE_TOP_P = "top_p"
STAGE_MIN_P = "min_p"
STAGE_TEMPERATURE = "temperature"
STAGE_GREEDY = "greedy"
#: the order llama.cpp applies them in; the last stage is the distribution drawn from
STAGE_ORDER = (STAGE_PENALTIES, STAGE_TOP_K, STAGE_TOP_P, STAGE_MIN_P, STAGE_TEMPERATURE)
_TITLES = {
    STAGE_RAW: N_("raw"),
    STAGE_PENALTIES: N_("penalties"),
    STAGE_TOP_K: "top-k",
    STAGE_TOP_P: "top-p",
    STAGE_MIN_P: "min-p",
    STAGE_TEMPERATURE: N_("temperature"),
    STAGE_GREEDY: N_("greedy"),
}
#: each stage's title in the language in use (top-k, top-p and min-p read the same in all)
STAGE_TITLES = TranslatedMapping(_TITLES)
#: titles for narrow columns, where they differ from the full ones
STAGE_SHORT_TITLES = TranslatedMapping({**_TITLES, STAGE_PENALTIES: N_("penalty"),
                                        STAGE_TEMPERATURE: N_("temp.")})
STAGE_HELP = TranslatedMapping({
    STAGE_RAW: N_("the model's own distribution: a softmax over the whole vocabulary."),
    STAGE_PENALTIES: N_("tokens seen recently lose probability (repeat, presence, frequency)."),
    STAGE_TOP_K: N_("only the k most probable tokens stay; the rest are cut."),
    STAGE_TOP_P: N_("the smallest set of top tokens whose probabilities reach p stays "
                    "(the dashed line marks where the cumulative mass crosses p)."),
    STAGE_MIN_P: N_("tokens below min-p times the top token's probability are cut."),
    STAGE_TEMPERATURE: N_("logits divided by T: below 1 sharpens, above 1 flattens. The token "
                          "is drawn from this distribution."),
    STAGE_GREEDY: N_("temperature 0: the most probable token is taken."),
})


def stage_label(name: str, label: str) -> str:
    """A stage's label with its setting ("temperature 0.7", "top-k off") as shown to the user:
    the stage's name and "off" in the language in use."""
    english = _TITLES.get(name)
    if english and label.startswith(english):
        label = STAGE_TITLES[name] + label[len(english):]
    if label.endswith(" off"):
        label = label[:-4] + " " + _("off")
    # greedy's label names the temperature that makes it: "greedy (temperature 0)"
    return label.replace("(temperature ", "(" + STAGE_TITLES[STAGE_TEMPERATURE] + " ")
