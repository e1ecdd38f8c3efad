"""The probability heatmap: colours by probability, its legend, and the top-5 hover text.

The chat view and the inspector's reply chips share these, so a token has one colour
everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QColor

from tokenwise.core.formatting import percent
from tokenwise.core.interface import TOKEN_BYTE, TOKEN_NORMAL
from tokenwise.core.trace.records import Step
from tokenwise.ui import theme
from tokenwise.ui.i18n import T
from tokenwise.ui.inspector.chips import ChipItem


def heat_color(prob: float, dark: bool) -> QColor:
    return theme.heat_color(prob, dark)


def alternatives_text(step: Step, n: int = 5) -> str:
    """The hover text of a reply token: its probability and the top-``n`` alternatives."""
    head = f"'{step.label}'  {percent(step.prob)} " + T("(rank {rank})").format(rank=step.rank)
    if step.forced:
        head += T(" · forced by a branch")
    lines = [head, T("top candidates:")]
    for i, c in enumerate(step.candidates[:n], start=1):
        mark = "▸" if c.token_id == step.token_id else " "
        lines.append(f"{mark} {i}. '{c.label}'  {percent(c.prob)}")
    return "\n".join(lines)


def step_chips(steps: Sequence[Step], dark: bool) -> list[ChipItem]:
    items = []
    for s in steps:
        try:
            s.piece.decode("utf-8")
            kind = TOKEN_NORMAL
        except UnicodeDecodeError:
            kind = TOKEN_BYTE
        items.append(ChipItem(s.token_id, s.label or "∅", kind, "", "",
                              heat_color(s.prob, dark)))
    return items
