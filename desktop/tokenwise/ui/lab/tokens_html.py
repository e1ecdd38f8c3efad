"""Tokens as HTML, each shaded by its probability (the chat's heatmap colours), with repeated
copies of a loop underlined."""

from __future__ import annotations

import html
from collections.abc import Sequence

from tokenwise.core.formatting import percent
from tokenwise.core.trace.records import piece_label
from tokenwise.ui.theme import heat_color

LOOP_STYLE = "text-decoration: underline; border-bottom: 2px solid #c0392b; color: #c0392b;"


def heat_html(pieces: Sequence[bytes], probs: Sequence[float], looped: Sequence[bool],
              dark: bool) -> str:
    parts = []
    for piece, prob, loop in zip(pieces, probs, looped, strict=True):
        color = heat_color(prob, dark)
        rgba = f"rgba({color.red()},{color.green()},{color.blue()},{color.alphaF():.2f})"
        label = piece_label(piece)
        text = html.escape(label).replace("↵", "↵<br>")
        title = html.escape(f"'{label}'  {percent(prob)}")
        style = f"background-color:{rgba};" + (LOOP_STYLE if loop else "")
        parts.append(f'<span style="{style}" title="{title}">{text}</span>')
    return "<div style='line-height:150%'>" + "".join(parts) + "</div>"
