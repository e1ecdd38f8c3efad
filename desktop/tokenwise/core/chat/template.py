"""Render a conversation with the model's own chat template, in the Jinja environment the
reference renderers (transformers, llama.cpp's Jinja path) use.

A model's template is untrusted code: :mod:`.template_sandbox` runs :func:`render_source` in a
helper process with a time and memory limit. This module is the renderer itself, with no
process of its own, and the words the user reads when a template fails.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import jinja2.ext
from jinja2 import Template, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tokenwise.core.errors import TokenwiseError
from tokenwise.core.i18n import N_, _, gap
from tokenwise.core.interface import ChatMessage

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CHATML_NOTE = N_("This model has no chat template; Tokenwise used ChatML, which it may not "
                 "know.")
FALLBACK = N_("Tokenwise used ChatML instead, which the model may not know.")
#: the special tokens a template may name, as transformers passes them
SPECIAL_TOKENS = ("bos_token", "eos_token", "pad_token", "unk_token")
#: more text than any context holds (a million tokens is about 4 MB)
MAX_RENDER_CHARS = 32 * 1024 * 1024


class ChatTemplateError(TokenwiseError):
    """The template called ``raise_exception``: it refuses this conversation."""


class RenderTooLargeError(TokenwiseError):
    pass


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.datetime.now().strftime(fmt)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


@lru_cache(maxsize=8)
def _compile(source: str) -> Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.filters["tojson"] = _tojson
    return env.from_string(source)


def message_payload(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def render_source(source: str, messages: list[dict[str, str]], *,
                  special_tokens: Mapping[str, str], add_generation_prompt: bool) -> str:
    """The template's text for ``messages``; raises whatever the template raises."""
    tokens = {name: special_tokens.get(name, "") for name in SPECIAL_TOKENS}
    text = _compile(source).render(messages=messages,
                                   add_generation_prompt=add_generation_prompt, **tokens)
    if len(text) > MAX_RENDER_CHARS:
        raise RenderTooLargeError(f"{len(text):,} characters")
    return text


def chatml(messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True) -> str:
    """The fallback prompt (Tokenwise's own template, trusted, rendered here)."""
    return render_source(CHATML_TEMPLATE, message_payload(messages), special_tokens={},
                         add_generation_prompt=add_generation_prompt)


def failure_note(exc: BaseException) -> str:
    """What the user reads when the model's template failed with ``exc``."""
    fallback = gap() + _(FALLBACK)
    if isinstance(exc, ChatTemplateError):
        return _("The model's chat template refused this conversation: {error}.").format(
            error=exc) + fallback
    if isinstance(exc, SecurityError):
        return _("The model's chat template tried to reach Python internals and was stopped "
                 "({error}).").format(error=exc) + fallback
    if isinstance(exc, RecursionError):
        return _("The model's chat template recursed without end and was stopped.") + fallback
    if isinstance(exc, (MemoryError, RenderTooLargeError)):
        return _("The model's chat template wrote more text than any prompt could hold and "
                 "was stopped.") + fallback
    kind = "" if isinstance(exc, TemplateError) else f"{type(exc).__name__}: "
    return _("The model's chat template failed ({error}).").format(
        error=f"{kind}{exc}") + fallback


def timeout_note(seconds: float) -> str:
    return _("The model's chat template ran for more than {seconds} s and was stopped.").format(
        seconds=f"{seconds:g}") + gap() + _(FALLBACK)
