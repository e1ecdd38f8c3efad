"""Chat templates render as the reference renderers run them, in a helper process; a
missing, broken or hostile template falls back to ChatML with a note."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenwise.core.chat.template import CHATML_NOTE, FALLBACK
from tokenwise.core.chat.template_sandbox import TemplateRenderer
from tokenwise.core.interface import ChatMessage

MESSAGES = [ChatMessage("system", "Be kind."), ChatMessage("user", "你好")]
CHATML = ("<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n"
          "<|im_start|>assistant\n")
PER_MESSAGE = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def renderer() -> Iterator[TemplateRenderer]:
    with TemplateRenderer() as templates:
        yield templates


def test_no_template_falls_back_to_chatml_with_a_note(renderer: TemplateRenderer) -> None:
    text, note = renderer.render(None, MESSAGES)
    assert note == CHATML_NOTE
    assert text == CHATML


def test_model_template_is_used(renderer: TemplateRenderer) -> None:
    template = ("{{ bos_token }}" + PER_MESSAGE +
                "{% if add_generation_prompt %}[assistant]{% endif %}")
    text, note = renderer.render(template, MESSAGES, special_tokens={"bos_token": "<s>"})
    assert text == "<s>[system]Be kind.[user]你好[assistant]"
    assert note == ""


def test_blocks_are_trimmed_as_the_reference_renderers_do(renderer: TemplateRenderer) -> None:
    template = ("{% for m in messages %}\n  {% if m.role %}\n{{ m.role }};\n  {% endif %}\n"
                "{% endfor %}")
    assert renderer.render(template, MESSAGES) == ("system;\nuser;\n", "")


def test_loop_controls_render(renderer: TemplateRenderer) -> None:
    template = ("{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}"
                "{{ m.content }}{% break %}{% endfor %}|"
                "{% for i in range(9) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}")
    assert renderer.render(template, MESSAGES) == ("你好|012", "")


@pytest.mark.parametrize(("arguments", "expected"), [
    ("", '{"b": [1, 2], "a": "é"}'),
    ("ensure_ascii=True", '{"b": [1, 2], "a": "\\u00e9"}'),
    ("indent=2", '{\n  "b": [\n    1,\n    2\n  ],\n  "a": "é"\n}'),
    ("separators=(',', ':')", '{"b":[1,2],"a":"é"}'),
    ("sort_keys=True", '{"a": "é", "b": [1, 2]}'),
])
def test_tojson_takes_each_keyword(renderer: TemplateRenderer, arguments: str,
                                   expected: str) -> None:
    template = "{{ {'b': [1, 2], 'a': 'é'} | tojson(" + arguments + ") }}"
    assert renderer.render(template, MESSAGES) == (expected, "")


def test_raise_exception_gives_the_templates_message_and_chatml(
        renderer: TemplateRenderer) -> None:
    template = "{{ raise_exception('Only user and assistant roles are supported') }}"
    text, note = renderer.render(template, MESSAGES)
    assert text == CHATML
    assert note == ("The model's chat template refused this conversation: Only user and "
                    f"assistant roles are supported. {FALLBACK}")


def test_strftime_now_gives_the_date(renderer: TemplateRenderer) -> None:
    before = time.strftime("%Y-%m-%d")
    text, note = renderer.render("{{ strftime_now('%Y-%m-%d') }}", MESSAGES)
    assert note == ""
    assert text in {before, time.strftime("%Y-%m-%d")}


def test_every_special_token_reaches_the_template(renderer: TemplateRenderer) -> None:
    tokens = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>",
              "unk_token": "<unk>"}
    template = "{{ bos_token }}{{ eos_token }}{{ pad_token }}{{ unk_token }}"
    assert renderer.render(template, MESSAGES, special_tokens=tokens) == (
        "<s></s><pad><unk>", "")


def test_a_type_error_falls_back_with_a_note(renderer: TemplateRenderer) -> None:
    text, note = renderer.render("{{ messages | tojson(colour='red') }}", MESSAGES)
    assert text == CHATML
    assert note.startswith("The model's chat template failed (TypeError: ")
    assert "colour" in note and note.endswith(FALLBACK)


def test_a_syntax_error_falls_back_with_a_note(renderer: TemplateRenderer) -> None:
    text, note = renderer.render("{% for m in messages %}", MESSAGES)
    assert text == CHATML
    assert note.startswith("The model's chat template failed (")


HOSTILE = {
    "escape": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "reach Python internals"),
    "recursion": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
                  "recursed without end"),
    "endless loop": ("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}"
                     "{% endfor %}", "ran for more than 1 s"),
    "gigabytes": ("{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}",
                  "more text than any prompt could hold"),
    "one huge string": ("{{ 'x' * 4000000000 }}", "more text than any prompt could hold"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_template_is_stopped_within_a_second(name: str) -> None:
    template, reason = HOSTILE[name]
    with TemplateRenderer() as renderer:
        renderer.render(PER_MESSAGE, MESSAGES)  # the helper is up: time the render alone
        t0 = time.perf_counter()
        text, note = renderer.render(template, MESSAGES)
        elapsed = time.perf_counter() - t0
        assert elapsed < 1.5
        assert text == CHATML
        assert reason in note and note.endswith(FALLBACK)
        assert "<class" not in text
        # the next render works, in a helper restarted where the old one was killed
        assert renderer.render(PER_MESSAGE, MESSAGES) == ("[system]Be kind.[user]你好", "")


def test_a_render_past_the_limit_kills_and_restarts_the_helper() -> None:
    with TemplateRenderer(timeout_s=0.3) as renderer:
        renderer.render(PER_MESSAGE, MESSAGES)
        first = renderer.pid
        assert first is not None
        _, note = renderer.render(HOSTILE["endless loop"][0], MESSAGES)
        assert "more than 0.3 s" in note
        assert not running(first)
        assert renderer.render(PER_MESSAGE, MESSAGES)[1] == ""
        assert renderer.pid not in (None, first)


def test_the_helper_caps_its_memory() -> None:
    with TemplateRenderer() as renderer:
        renderer.render(PER_MESSAGE, MESSAGES)
        assert renderer.pid is not None
        limits = resource.prlimit(renderer.pid, resource.RLIMIT_AS)
        assert 0 < limits[0] <= 2 * 1024 ** 3


def test_close_ends_the_helper() -> None:
    renderer = TemplateRenderer()
    renderer.render(PER_MESSAGE, MESSAGES)
    pid = renderer.pid
    assert pid is not None and running(pid)
    renderer.close()
    assert not running(pid)
    assert renderer.pid is None


def test_starter_template_renders_as_before(engine) -> None:
    rendered = engine.render_chat(MESSAGES)
    assert rendered.text == CHATML
    assert rendered.note == ""
    turns = [ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello!"),
             ChatMessage("user", "2+2?")]
    assert engine.render_chat(turns).text == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!"
        "<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n")


def test_the_engine_passes_the_gguf_special_tokens(engine) -> None:
    # SmolLM2's GGUF: bos 1, eos 2, padding 2, unknown 0
    assert engine.special_tokens == {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
                                     "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>"}


def test_closing_the_engine_ends_its_helper(starter_model_path, tmp_path) -> None:
    from tokenwise.core import paths
    from tokenwise.core.engine.local import Engine

    paths.set_base(tmp_path)
    try:
        engine = Engine(starter_model_path, n_ctx=256, preflight=False)
    finally:
        paths.set_base(None)
    pid = engine.templates.pid
    assert pid is not None
    engine.render_chat(MESSAGES)
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"tokenwise.core.chat.template_worker" in command
    engine.close()
    assert not running(pid)
