"""Light and dark themes: one accent colour, an 8 px grid, a palette plus one style sheet.

The style sheet (resources/tokenwise.qss) is a template whose ``@name`` words are replaced
by the colours of the active theme, so both themes share one set of rules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from tokenwise.core import paths

ACCENT = "#5B5BD6"


@dataclass(frozen=True, slots=True)
class Colors:
    window: str
    surface: str  # panels, cards
    sidebar: str
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    accent_soft: str  # selected rows, the user's bubble
    assistant_bubble: str
    user_bubble: str
    code_bg: str
    selection: str
    danger: str
    dark: bool


LIGHT = Colors(
    window="#F7F7FA", surface="#FFFFFF", sidebar="#EFEFF4", text="#1C1C28", muted="#6B6B80",
    border="#DCDCE6", accent=ACCENT, accent_text="#FFFFFF", accent_soft="#E6E6FA",
    assistant_bubble="#FFFFFF", user_bubble="#E9E9FB", code_bg="#F1F1F6",
    selection="#C9C9F5", danger="#C62828", dark=False,
)
DARK = Colors(
    window="#18181F", surface="#202029", sidebar="#14141A", text="#E9E9F0", muted="#9A9AB0",
    border="#2E2E3A", accent="#7272E8", accent_text="#FFFFFF", accent_soft="#2B2B4A",
    assistant_bubble="#22222C", user_bubble="#2E2E52", code_bg="#15151B",
    selection="#3D3D78", danger="#EF6B6B", dark=True,
)

_current: Colors = LIGHT


def current() -> Colors:
    return _current


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def resolve(choice: str) -> Colors:
    """``choice`` is "system", "light" or "dark"."""
    if choice == "dark":
        return DARK
    if choice == "light":
        return LIGHT
    return DARK if system_is_dark() else LIGHT


def style_sheet(colors: Colors, font_size: int) -> str:
    template = (paths.resources_dir() / "tokenwise.qss").read_text(encoding="utf-8")
    values = {k: v for k, v in asdict(colors).items() if isinstance(v, str)}
    values["font_size"] = f"{font_size}pt"
    values["small_size"] = f"{max(7, font_size - 1)}pt"
    values["icons"] = (paths.resources_dir() / "icons").as_posix()
    # longest names first so that @accent_text is not read as @accent + "_text"
    for name in sorted(values, key=len, reverse=True):
        template = template.replace(f"@{name}", values[name])
    return template


def palette(colors: Colors) -> QPalette:
    pal = QPalette()
    role = QPalette.ColorRole
    pal.setColor(role.Window, QColor(colors.window))
    pal.setColor(role.WindowText, QColor(colors.text))
    pal.setColor(role.Base, QColor(colors.surface))
    pal.setColor(role.AlternateBase, QColor(colors.sidebar))
    pal.setColor(role.Text, QColor(colors.text))
    pal.setColor(role.Button, QColor(colors.surface))
    pal.setColor(role.ButtonText, QColor(colors.text))
    pal.setColor(role.Highlight, QColor(colors.accent))
    pal.setColor(role.HighlightedText, QColor(colors.accent_text))
    pal.setColor(role.ToolTipBase, QColor(colors.surface))
    pal.setColor(role.ToolTipText, QColor(colors.text))
    pal.setColor(role.PlaceholderText, QColor(colors.muted))
    pal.setColor(role.Link, QColor(colors.accent))
    return pal


def apply(app: QApplication, choice: str = "system", font_size: int = 10) -> Colors:
    """Apply a theme to the whole application; returns its colours."""
    global _current
    _current = resolve(choice)
    app.setStyle("Fusion")
    app.setPalette(palette(_current))
    font = app.font()
    font.setPointSize(font_size)
    app.setFont(font)
    app.setStyleSheet(style_sheet(_current, font_size))
    return _current


def heat_hue(prob: float) -> int:
    """The heat colour's hue: 0 red (unlikely) .. 120 green (likely)."""
    return int(120 * min(1.0, max(0.0, prob)))


def heat_color(prob: float, dark: bool) -> QColor:
    """A token's background by probability: red (unlikely) through amber to green (likely)."""
    hue = heat_hue(prob)
    color = QColor.fromHsv(hue, 150 if dark else 110, 120 if dark else 255)
    color.setAlpha(200 if dark else 150)
    return color
