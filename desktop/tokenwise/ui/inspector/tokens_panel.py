"""The Tokens tab: the prompt as the model sees it, the reply's tokens, and a playground.

The playground tokenizes what the user types with the loaded model's tokenizer. The
tokenize function runs on the engine thread (the main window provides it) and answers on
the GUI thread; requests are debounced and stale answers dropped.

Signals: reply_token_clicked(int step_index)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from tokenwise.core.interface import TOKEN_SPECIAL, Token
from tokenwise.core.trace.records import Step
from tokenwise.ui.heat_legend import HeatLegend
from tokenwise.ui.inspector.chips import TokenChipsView, token_chip
from tokenwise.ui.inspector.heatmap import alternatives_text, step_chips
from tokenwise.ui.style import Ink, bold

TokenizeFunction = Callable[[str, Callable[[list[Token]], None]], None]
DEBOUNCE_MS = 150


def _section(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setFont(bold(label.font()))
    return label


class TokensPanel(QWidget):
    reply_token_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tokenize: TokenizeFunction | None = None
        self._unavailable = ""  # why the engine offers no tokenizer, when it offers none
        self._request = 0
        self._steps: list[Step] = []
        self._reply_dirty = False
        self._shown_steps = 0

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        scroll.setWidget(body)
        outer.addWidget(scroll)

        self.prompt_title = _section(self.tr("Prompt as the model sees it"), body)
        self.prompt_count = QLabel("")
        head = QHBoxLayout()
        head.addWidget(self.prompt_title)
        head.addStretch(1)
        head.addWidget(self.prompt_count)
        layout.addLayout(head)
        self.prompt_chips = TokenChipsView()
        layout.addWidget(self.prompt_chips)
        self.key = QLabel(self.tr(
            "Chips alternate colours per token; <span style='color:{s}'>outlined</span> are "
            "special tokens of the chat template; <span style='color:{b}'>&lt;0xE5&gt;</span> "
            "is one byte of a character split over several tokens."))
        self.key.setWordWrap(True)
        self.key.setObjectName("mutedLabel")
        layout.addWidget(self.key)

        reply_head = QHBoxLayout()
        reply_head.addWidget(_section(self.tr("Reply"), body))
        self.reply_count = QLabel("")
        reply_head.addWidget(self.reply_count)
        reply_head.addStretch(1)
        self.heat_toggle = QCheckBox(self.tr("Probability heatmap"))
        self.heat_toggle.setToolTip(self.tr("Colour every token of the reply by the probability "
                                            "the model gave it"))
        self.legend = HeatLegend()
        self.legend.setVisible(False)
        reply_head.addWidget(self.heat_toggle)
        reply_head.addWidget(self.legend)
        layout.addLayout(reply_head)
        self.reply_chips = TokenChipsView()
        self.reply_chips.tooltip_for = self._reply_tooltip
        layout.addWidget(self.reply_chips)

        layout.addSpacing(6)
        play_head = QHBoxLayout()
        play_head.addWidget(_section(self.tr("Tokenizer playground"), body))
        play_head.addStretch(1)
        self.play_count = QLabel("")
        play_head.addWidget(self.play_count)
        layout.addLayout(play_head)
        self.play_edit = QPlainTextEdit()
        self.play_edit.setPlaceholderText(self.tr("Type any text to see how this model splits "
                                                  "it…"))
        self.play_edit.setMaximumHeight(84)
        layout.addWidget(self.play_edit)
        self.play_chips = TokenChipsView()
        layout.addWidget(self.play_chips)
        layout.addStretch(1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._tokenize_now)
        self.play_edit.textChanged.connect(self._debounce.start)
        self.heat_toggle.toggled.connect(self._set_heat)
        self.reply_chips.chip_clicked.connect(self.reply_token_clicked)
        self._update_key()
        self._update_play_hint()

    def _update_key(self) -> None:
        ink = Ink.of(self)
        self.key.setText(self.key.text().replace("{s}", ink.special.name())
                         .replace("{b}", ink.byte.name()))

    # ------------------------------------------------------------------ prompt

    def set_prompt_tokens(self, tokens: Sequence[Token]) -> None:
        self.prompt_chips.set_items([token_chip(t) for t in tokens])
        special = sum(1 for t in tokens if t.kind == TOKEN_SPECIAL)
        self.prompt_count.setText(self.tr("{count} tokens · {special} special").format(
            count=f"{len(tokens):,}", special=special))

    # ------------------------------------------------------------------ reply

    def set_reply_steps(self, steps: list[Step]) -> None:
        self._steps = steps
        self._shown_steps = 0
        self.reply_chips.set_items([])
        self._refresh_reply()

    def reply_steps_appended(self) -> None:
        """The steps list grew (same list object): show the new tokens when visible."""
        self._refresh_reply()

    def _refresh_reply(self) -> None:
        if not self.isVisible():
            self._reply_dirty = True  # no layout work while the tab is hidden
            return
        self._reply_dirty = False
        new = self._steps[self._shown_steps:]
        if new:
            self.reply_chips.append_items(step_chips(new, Ink.of(self).dark))
            self._shown_steps = len(self._steps)
        self.reply_count.setText(self.tr("{count} tokens").format(count=f"{len(self._steps):,}"))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._reply_dirty:
            self._refresh_reply()

    def select_step(self, index: int) -> None:
        self.reply_chips.set_selected(index)

    def _reply_tooltip(self, i: int) -> str:
        return alternatives_text(self._steps[i]) if 0 <= i < len(self._steps) else ""

    def _set_heat(self, on: bool) -> None:
        self.reply_chips.set_heat(on)
        self.legend.setVisible(on)

    # ------------------------------------------------------------------ playground

    def set_tokenize_function(self, fn: TokenizeFunction | None) -> None:
        self._tokenize = fn
        self._update_play_hint()
        if fn is not None and self.play_edit.toPlainText():
            self._debounce.start()

    def set_unavailable_reason(self, reason: str) -> None:
        """Why this engine has no tokenizer to offer ("" when it has one)."""
        self._unavailable = reason
        self._update_play_hint()

    def _update_play_hint(self) -> None:
        self.play_edit.setEnabled(self._tokenize is not None)
        if self._tokenize is None:
            self.play_count.setText(
                self.tr("The tokenizer is unavailable: {reason}").format(
                    reason=self._unavailable) if self._unavailable
                else self.tr("load a model to use the playground"))
        elif not self.play_edit.toPlainText():
            self.play_count.setText("")  # the "load a model" hint is stale once one has loaded

    def _tokenize_now(self) -> None:
        if self._tokenize is None:
            return
        self._request += 1
        request = self._request
        text = self.play_edit.toPlainText()
        self.play_count.setText(self.tr("tokenizing…"))

        def done(tokens: list[Token]) -> None:
            if request == self._request:  # drop answers to text that has changed since
                self.show_playground_tokens(tokens, len(text))

        self._tokenize(text, done)

    def show_playground_tokens(self, tokens: Sequence[Token], n_chars: int) -> None:
        self.play_chips.set_items([token_chip(t) for t in tokens])
        self.play_count.setText(self.tr("{count} tokens · {chars} characters").format(
            count=f"{len(tokens):,}", chars=f"{n_chars:,}"))
