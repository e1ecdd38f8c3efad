"""Chat templates render in a sandbox; a missing or broken template falls back to ChatML."""

from __future__ import annotations

import pytest

from tokenwise.core.chat.template import CHATML_NOTE, ChatTemplateError, render
from tokenwise.core.interface import ChatMessage

MESSAGES = [ChatMessage("system", "Be kind."), ChatMessage("user", "你好")]


def test_no_template_falls_back_to_chatml_with_a_note() -> None:
    text, note = render(None, MESSAGES)
    assert note == CHATML_NOTE
    assert text == ("<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n"
                    "<|im_start|>assistant\n")


def test_model_template_is_used() -> None:
    template = ("{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
                "{% if add_generation_prompt %}[assistant]{% endif %}")
    text, note = render(template, MESSAGES, bos_token="<s>")
    assert text == "<s>[system]Be kind.[user]你好[assistant]"
    assert note == ""


def test_sandbox_blocks_escapes() -> None:
    evil = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    text, note = render(evil, MESSAGES)
    assert "subclasses" not in text and "<class" not in text
    assert "failed" in note and "ChatML" in note


def test_raise_exception_is_reported() -> None:
    template = "{{ raise_exception('Only user and assistant roles are supported') }}"
    with pytest.raises(ChatTemplateError, match="roles are supported"):
        render(template, MESSAGES)


def test_starter_template_renders(engine) -> None:
    rendered = engine.render_chat(MESSAGES)
    assert rendered.text.startswith("<|im_start|>system\nBe kind.<|im_end|>")
    assert rendered.text.endswith("<|im_start|>assistant\n")
    assert rendered.note == ""
