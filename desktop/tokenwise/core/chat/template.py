"""Render a conversation with the model's own chat template, in a sandboxed Jinja."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tokenwise.core.errors import TokenwiseError
from tokenwise.core.interface import ChatMessage

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CHATML_NOTE = "This model has no chat template; Tokenwise used ChatML, which it may not know."


class ChatTemplateError(TokenwiseError):
    pass


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(f"The model's chat template refused this conversation: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.datetime.now().strftime(fmt)


@lru_cache(maxsize=8)
def _compile(source: str) -> Any:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.filters["tojson"] = _tojson
    return env.from_string(source)


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


def render(
    template: str | None,
    messages: Sequence[ChatMessage],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> tuple[str, str]:
    """Return (prompt text, note). A missing template falls back to ChatML with a note."""
    note = ""
    if not template:
        template, note = CHATML_TEMPLATE, CHATML_NOTE
    payload = [{"role": m.role, "content": m.content} for m in messages]
    try:
        text = _compile(template).render(
            messages=payload,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except ChatTemplateError:
        raise
    except TemplateError as exc:
        if template == CHATML_TEMPLATE:
            raise
        fallback, _ = render(None, messages, add_generation_prompt=add_generation_prompt)
        return fallback, f"The model's chat template failed ({exc}); Tokenwise used ChatML."
    return text, note
