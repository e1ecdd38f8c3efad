"""The core's sentences come out in Chinese once the UI picks Chinese, and in English again
after; numbers and units follow the language."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tokenwise.core import i18n
from tokenwise.core.formatting import duration, format_size
from tokenwise.core.models.hub import load_catalogue
from tokenwise.core.sampling.settings import PRESET_TITLES, SamplerSettings
from tokenwise.core.sampling.stages import STAGE_HELP, STAGE_TITLES, stage_label
from tokenwise.core.trace.explain import explain_step
from tokenwise.core.trace.records import STOP_EOG, STOP_REASON_TEXT
from unit.test_explain import make_step, sampled_stages

#: Latin words a Chinese sentence may keep: the glossary's kept terms
KEPT = re.compile(r"top-[kp]|min-p|logit|softmax|KV|GPU|RAM|ChatML|llama\.cpp|Tokenwise|sha256")


@pytest.fixture
def chinese() -> Iterator[None]:
    i18n.set_language(i18n.CHINESE)
    yield
    i18n.set_language(i18n.ENGLISH)


def english_words(text: str) -> list[str]:
    """Latin words left in ``text`` once token labels ('...') and kept terms are taken out."""
    text = KEPT.sub("", re.sub(r"'[^']*'", "", text))
    return re.findall(r"[A-Za-z]{2,}", text)


def test_a_step_is_explained_in_chinese(chinese: None) -> None:
    s = SamplerSettings(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05)
    step = make_step(stages=sampled_stages(s, (0.63, 0.3, 0.07)), stop=STOP_EOG)
    text = explain_step(step, s, vocab_size=49152)
    assert text.startswith("模型给 ' the' 的概率是 41%（排名第 1）。")
    assert "经过 top-k 40、top-p 0.9 和 min-p 0.05 之后，剩下 3 个候选" in text
    assert "温度 0.7 使它们更集中" in text
    assert "抽中了 ' the'（排名第 1，63%）。" in text
    assert text.endswith("生成在此停止：模型写出了它的回合结束词元。")
    assert english_words(text) == []


def test_a_preview_and_a_greedy_step_are_explained_in_chinese(chinese: None) -> None:
    s = SamplerSettings(temperature=1.3, top_k=40, top_p=0.9, min_p=0.05)
    step = make_step(token_id=2, rank=2, stages=sampled_stages(s, (0.5, 0.38, 0.12)))
    preview = explain_step(step, s, sampled_stages(s, (0.5, 0.38, 0.12)), preview=True)
    assert preview.startswith("按滑块设置预览：")
    assert "使它们更平坦" in preview
    assert english_words(preview) == []
    greedy = explain_step(make_step(), SamplerSettings(temperature=0.0))
    assert "贪心解码取概率最高的词元" in greedy
    assert english_words(greedy) == []


def test_tables_of_the_core_read_in_the_language_in_use(chinese: None) -> None:
    assert STAGE_TITLES["temperature"] == "温度"
    assert STAGE_TITLES["top_k"] == "top-k"
    assert stage_label("temperature", "temperature 0.7") == "温度 0.7"
    assert stage_label("top_k", "top-k off") == "top-k 关闭"
    assert PRESET_TITLES["Greedy"] == "贪心"
    for table in (STAGE_HELP, STOP_REASON_TEXT):
        assert all(english_words(text) == [] for text in table.values()), table
    qwen = next(e for e in load_catalogue() if e.id.startswith("qwen2.5-0.5b"))
    assert "中文" in qwen.description
    i18n.set_language(i18n.ENGLISH)
    assert STAGE_TITLES["temperature"] == "temperature"
    assert STOP_REASON_TEXT[STOP_EOG] == "the model wrote its end-of-turn token"


def test_units_follow_the_language() -> None:
    assert duration(185, locale=i18n.CHINESE) == "3 分 05 秒"
    assert duration(185, locale=i18n.ENGLISH) == "3 min 05 s"
    assert format_size(1, locale=i18n.CHINESE) == "1 字节"
    assert format_size(12_300_000, locale=i18n.CHINESE) == "12 MB"


@pytest.mark.parametrize(("choice", "system", "code"), [
    ("system", ("zh-Hans-CN", "en-US"), "zh_CN"),
    ("system", ("zh_CN",), "zh_CN"),
    ("system", ("zh-Hant-TW",), "en"),
    ("system", ("de-DE", "en-GB"), "en"),
    ("system", (), "en"),
    ("en", ("zh-CN",), "en"),
    ("zh_CN", ("en-US",), "zh_CN"),
])
def test_the_setting_and_the_desktop_pick_the_language(choice: str, system: tuple[str, ...],
                                                        code: str) -> None:
    assert i18n.resolve(choice, system) == code
