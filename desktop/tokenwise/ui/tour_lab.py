"""The tour's last stop runs in the strategies lab: greedy and a small beam search on the
tour's prompt (Compare), then the tour's reply scored in one pass (Score), all through the
lab's own tasks on the engine's thread.

Signals:
    done(object): the TourLab of the run, or None when the lab could not run (its columns
        and the Score tab say why).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from tokenwise.core.tour import LAB_BEAM_WIDTH, LAB_MAX_TOKENS, TourLab
from tokenwise.ui.lab.column import KIND_BEAM, KIND_GREEDY, KIND_OFF
from tokenwise.ui.lab.window import LabWindow

SCORE_TAB = 1


class TourLabRun(QObject):
    done = Signal(object)

    def __init__(self, lab: LabWindow, prompt: str, reply: str) -> None:
        super().__init__(lab)
        self.lab = lab
        self.reply = reply
        self._scoring = False
        self._ended = False
        lab.prompt.setPlainText(prompt)
        lab.max_tokens.setValue(LAB_MAX_TOKENS)
        for column, kind in zip(lab.columns, (KIND_GREEDY, KIND_BEAM, KIND_OFF, KIND_OFF),
                                strict=True):
            column.kind.setCurrentIndex(kind)
        lab.columns[1].width_spin.setValue(LAB_BEAM_WIDTH)
        lab.column_finished.connect(self._on_column)
        lab.score_finished.connect(self._on_scored)

    def start(self) -> None:
        self.lab.run()

    def _on_column(self, _index: int) -> None:
        if self._scoring or self._ended or self.lab.busy:
            return
        greedy, beam = self.lab.columns[0].result, self.lab.columns[1].result
        if greedy is None or beam is None:
            self._finish(None)
            return
        self._scoring = True
        self.lab.score.input.setPlainText(self.reply)
        self.lab.tabs.setCurrentIndex(SCORE_TAB)
        self.lab.score.start()

    def _on_scored(self) -> None:
        if not self._scoring or self._ended:
            return
        scored = self.lab.score.scored
        greedy, beam = self.lab.columns[0].result, self.lab.columns[1].result
        if scored is None or greedy is None or beam is None:
            self._finish(None)
            return
        self._finish(TourLab(
            beam_width=LAB_BEAM_WIDTH, greedy_total=greedy.total_logprob,
            beam_total=beam.total_logprob, scored_tokens=scored.result.n_tokens,
            pass_seconds=scored.result.seconds,
            generation_seconds=scored.generation_estimate_s))

    def _finish(self, lab: TourLab | None) -> None:
        self._ended = True
        self.lab.column_finished.disconnect(self._on_column)
        self.lab.score_finished.disconnect(self._on_scored)
        self.done.emit(lab)
