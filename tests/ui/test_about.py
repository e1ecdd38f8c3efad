"""Help > About: version, backend, and the licences of Tokenwise, its parts and the model."""

from __future__ import annotations

from typing import Any

from tokenwise import __version__


def test_about_names_the_version_backend_and_licences(qtbot: Any, window: Any) -> None:
    from tokenwise.ui.about import AboutDialog

    dialog = AboutDialog(window.flow.model_info, window)
    qtbot.addWidget(dialog)
    head = dialog.summary.text()
    assert f"Tokenwise {__version__}" in head
    assert "llama-cpp-python 0.3.36" in head and "backend: CPU" in head
    assert "SmolLM2-135M-Instruct" in head and "apache-2.0" in head.lower()
    licences = dialog.licences.toPlainText()
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in licences
    assert "PySide6" in licences and "llama_cpp_python" in licences


def test_help_menu_opens_about(qtbot: Any, window: Any) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from tokenwise.ui.about import AboutDialog

    titles = [a.text() for a in window.menuBar().actions()]
    assert titles[-1] == "&Help"
    seen: list[str] = []

    def close_it() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, AboutDialog)
        seen.append(dialog.summary.text())
        dialog.reject()

    QTimer.singleShot(0, close_it)
    window.act_about.trigger()
    assert seen and "Tokenwise" in seen[0]


def test_about_without_a_model(qtbot: Any) -> None:
    from tokenwise.ui.about import AboutDialog

    dialog = AboutDialog(None)
    qtbot.addWidget(dialog)
    assert "No model is loaded" in dialog.summary.text()


def test_the_crash_report_shows_versions_and_log_and_copies(qtbot: Any, window: Any) -> None:
    from PySide6.QtWidgets import QApplication

    from tokenwise.core import crashes

    crashes.log_path().write_text("line one\nGGML_ASSERT(x) failed\n", encoding="utf-8")
    text = crashes.report_text()
    assert text.startswith(f"Tokenwise {__version__}; Python ")
    assert "llama-cpp-python 0.3.36" in text and "GGML_ASSERT(x) failed" in text
    window.offer_crash_report(text)
    dialog = window.crash_dialog
    assert dialog.isVisible() and dialog.report.toPlainText() == text
    dialog.copy_button.click()
    assert QApplication.clipboard().text() == text
