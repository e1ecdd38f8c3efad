"""`tokenwise screenshot --scenes DIR` (the README's pictures) writes every scene in both
languages, each a real picture: of a window's size and far from blank."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from tokenwise.ui.screenshot_scenes import SCENES


def distinct_colours(image: QImage, step: int = 7) -> int:
    seen = set()
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            seen.add(image.pixel(x, y))
    return len(seen)


def test_the_scenes_are_written_and_not_blank(tmp_path: Path, starter_model_path: Path) -> None:
    out = tmp_path / "docs"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TOKENWISE_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from tokenwise.cli import main; "
         "sys.exit(main(['screenshot', '--scenes', sys.argv[1]]))", str(out)],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    for language in ("en", "zh_CN"):
        for scene in SCENES:
            path = out / f"{scene}-{language}.png"
            image = QImage(str(path))
            assert not image.isNull(), path
            assert image.width() >= 400 and image.height() >= 500, (path, image.size())
            assert distinct_colours(image) > 40, path  # text, bars and chips, not a fill
    main_en, main_zh = QImage(str(out / "main-en.png")), QImage(str(out / "main-zh_CN.png"))
    assert (main_en.width(), main_en.height()) == (1440, 900)
    assert main_en != main_zh  # the Chinese window is another picture
