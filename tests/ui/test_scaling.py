"""At 200% scaling (QT_SCALE_FACTOR=2, on a 1920x1080 screen: 960x540 logical) and in
both languages, no label or button of the main window, the Models window or the settings
dialog is drawn smaller than its text needs. Each case runs in its own process, since Qt
reads the scale factor once at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).parent / "probes" / "clipped_labels.py"


def probe(language: str, scale: int, size: tuple[int, int], home: Path) -> dict[str, object]:
    env = {**os.environ, "QT_SCALE_FACTOR": str(scale), "QT_QPA_PLATFORM": "offscreen",
           "TOKENWISE_HOME": str(home)}
    done = subprocess.run([sys.executable, str(PROBE), language, *map(str, size)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(("language", "scale", "size"), [
    ("en", 2, (960, 540)),
    ("zh_CN", 2, (960, 540)),
    ("zh_CN", 1, (1360, 840)),
])
def test_no_label_is_clipped(tmp_path: Path, starter_model_path: Path, language: str,
                             scale: int, size: tuple[int, int]) -> None:
    result = probe(language, scale, size, tmp_path)
    assert result["scale"] == scale
    clipped = result["clipped"]
    assert isinstance(clipped, dict) and set(clipped) == {
        "MainWindow", "ModelsWindow", "SettingsDialog"}
    assert clipped == {"MainWindow": [], "ModelsWindow": [], "SettingsDialog": []}
