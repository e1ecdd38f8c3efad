"""What rendering a chat template in the helper process adds to a turn.

Run: .venv/bin/python tests/benchmarks/bench_template.py
Renders the same templates with the same conversations in this process and in the helper
process (:mod:`tokenwise.core.chat.template_sandbox`), interleaved, and prints the median of
each and the median extra cost per render of the helper.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "desktop"))

from tokenwise.core.chat.template import CHATML_TEMPLATE, message_payload, render_source
from tokenwise.core.chat.template_sandbox import TemplateRenderer
from tokenwise.core.interface import ChatMessage

REPEAT = 200
SMOLLM2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TOOLS = (
    "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}"
    "<|{{ m.role }}|>{{ m.content | trim }}{{ {'n': loop.index} | tojson(sort_keys=True) }}"
    "{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}


def conversation(turns: int) -> list[ChatMessage]:
    messages = [ChatMessage("system", "You are a careful assistant.")]
    for i in range(turns):
        messages.append(ChatMessage("user", f"Question {i}: " + "why is the sky blue? " * 20))
        messages.append(ChatMessage("assistant", "Rayleigh scattering. " * 60))
    return messages


def main() -> None:
    cases = [(name, source, conversation(turns))
             for name, source in (("chatml", CHATML_TEMPLATE), ("smollm2", SMOLLM2),
                                  ("tools", TOOLS))
             for turns in (1, 20)]
    with TemplateRenderer() as renderer:
        extra_all: list[float] = []
        print(f"{'template':<10} {'turns':>5} {'in-process ms':>14} {'helper ms':>10} "
              f"{'extra ms':>9}")
        for name, source, messages in cases:
            payload = message_payload(messages)
            expected = render_source(source, payload, special_tokens=TOKENS,
                                     add_generation_prompt=True)
            assert renderer.render(source, messages, special_tokens=TOKENS) == (expected, "")
            inside, helper = [], []
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                render_source(source, message_payload(messages), special_tokens=TOKENS,
                              add_generation_prompt=True)
                t1 = time.perf_counter()
                renderer.render(source, messages, special_tokens=TOKENS)
                t2 = time.perf_counter()
                inside.append((t1 - t0) * 1000)
                helper.append((t2 - t1) * 1000)
            extra = [h - i for i, h in zip(inside, helper, strict=True)]
            extra_all.extend(extra)
            print(f"{name:<10} {len(messages) // 2:>5} {statistics.median(inside):>14.3f} "
                  f"{statistics.median(helper):>10.3f} {statistics.median(extra):>9.3f}")
        print(f"helper process adds {statistics.median(extra_all):.3f} ms per render "
              f"(median of {len(extra_all)}, budget 20 ms)")


if __name__ == "__main__":
    main()
