"""Colours and fonts the painted widgets share, read from the widget's palette.

Every colour derives from the palette (Highlight is the app's accent), so the light and dark
themes both work without a second set of constants.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QWidget


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved towards ``b`` by ``t`` (0..1)."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


@dataclass(frozen=True, slots=True)
class Ink:
    """The handful of colours one paint pass needs, resolved once per palette."""

    dark: bool
    base: QColor
    text: QColor
    muted: QColor
    faint: QColor  # tracks and grid lines
    accent: QColor
    accent_soft: QColor  # bars of non-final stages, the chosen row's band
    accent_text: QColor
    second: QColor  # a second series (entropy)
    special: QColor  # special tokens
    byte: QColor  # byte fragments

    @classmethod
    def of(cls, widget: QWidget) -> Ink:
        pal = widget.palette()
        base = pal.color(QPalette.ColorRole.Base)
        text = pal.color(QPalette.ColorRole.Text)
        accent = pal.color(QPalette.ColorRole.Highlight)
        dark = base.lightness() < 128
        return cls(
            dark=dark,
            base=base,
            text=text,
            muted=mix(text, base, 0.45),
            faint=mix(text, base, 0.88 if dark else 0.92),
            accent=accent,
            accent_soft=mix(accent, base, 0.38 if dark else 0.62),
            accent_text=pal.color(QPalette.ColorRole.HighlightedText),
            second=QColor("#E0913A") if not dark else QColor("#F0A860"),
            special=QColor("#B2547A") if not dark else QColor("#E28AAE"),
            byte=QColor("#2F8F7A") if not dark else QColor("#6CCFB8"),
        )


def tabular(font: QFont) -> QFont:
    """The same font with tabular (equal-width) figures, so percentages line up."""
    f = QFont(font)
    f.setFeature(QFont.Tag("tnum"), 1)
    return f


def smaller(font: QFont, delta: float = 1.5) -> QFont:
    f = QFont(font)
    size = f.pointSizeF()
    if size > 0:
        f.setPointSizeF(max(6.5, size - delta))
    return f


def bold(font: QFont) -> QFont:
    f = QFont(font)
    f.setBold(True)
    return f


def mono(font: QFont) -> QFont:
    f = QFont("monospace")
    f.setStyleHint(QFont.StyleHint.Monospace)
    f.setPointSizeF(font.pointSizeF() if font.pointSizeF() > 0 else 9)
    return f
