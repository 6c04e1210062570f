"""Preview pages in a real browser: headless Chromium (Debian's ``chromium``, installed by
``scripts/browser-tools``, which ``make test`` and ``.ci/run`` run) opens GetDentryOpenInfo's
links, and the tests look at what it drew (a screenshot, decoded by ``tests/pngs.py``) and at the
DOM it built. Each run of Chromium is a fresh profile: a browser session of its own.

Headless Chromium draws no PDF (its viewer's page stays the viewer's dark background even for
a PDF served with no header at all), so PDF is checked over HTTP only (test_open_infos.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests import pngs
from tests.storage import Storage

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium: run scripts/browser-tools (make test does)"
)

RED, BLUE = (220, 30, 30), (30, 60, 220)
WIDTH, HEIGHT = 800, 500


def chromium(url: str, profile: Path, *, screenshot: Path | None = None) -> str:
    """Load ``url`` in headless Chromium with its own profile; the DOM it built (or, with
    ``screenshot``, Chromium's output) once the page and what it loads are in."""
    assert CHROMIUM is not None
    profile.mkdir(parents=True, exist_ok=True)
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # root in a container: Chromium's own sandbox cannot start
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        "--virtual-time-budget=5000",
        f"--screenshot={screenshot}" if screenshot else "--dump-dom",
        url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _near(color: pngs.RGB, target: pngs.RGB, tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, target, strict=True))


def _count(image: pngs.Image, target: pngs.RGB) -> int:
    return sum(
        1 for y in range(0, image.height, 4) for x in range(0, image.width, 4)
        if _near(image.at(x, y), target)
    )  # fmt: skip


def test_an_image_preview_draws_the_image(st: Storage, tmp_path: Path) -> None:
    picture = pngs.encode(320, 160, lambda x, y: RED if x < 160 else BLUE)
    space = st.new_space()
    file = st.upload(space.id, picture, "flag.png")
    url = st.open_info(space.id, file.id).url
    shot = tmp_path / "image.png"
    chromium(url, tmp_path / "a", screenshot=shot)
    image = pngs.decode(shot.read_bytes())
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    # 160 x 160 pixels of each colour, sampled every 4th pixel both ways: 1600 samples each
    assert 1400 <= _count(image, RED) <= 1700
    assert 1400 <= _count(image, BLUE) <= 1700
    assert image.at(WIDTH // 2 - 40, HEIGHT // 2 + 20) == RED  # centred: left half red
    assert image.at(WIDTH // 2 + 40, HEIGHT // 2 + 20) == BLUE

    # the same link in another browser: refused, and nothing of the image drawn
    refused = tmp_path / "refused.png"
    chromium(url, tmp_path / "b", screenshot=refused)
    other = pngs.decode(refused.read_bytes())
    assert _count(other, RED) == 0 and _count(other, BLUE) == 0
    assert "This link was opened elsewhere" in chromium(url, tmp_path / "c")


def test_a_text_preview_draws_the_text(st: Storage, tmp_path: Path) -> None:
    text = "".join(f"line {i}: if a < b && c > d: <b>not bold</b>\n" for i in range(12))
    space = st.new_space()
    file = st.upload(space.id, text.encode(), "notes.txt")
    shot = tmp_path / "text.png"
    chromium(st.open_info(space.id, file.id).url, tmp_path / "a", screenshot=shot)
    image = pngs.decode(shot.read_bytes())
    ink = sum(
        1 for y in range(60, 300) for x in range(16, 500) if sum(image.at(x, y)) < 3 * 110
    )  # dark text on the white <pre>
    assert ink > 1500
    assert image.at(WIDTH - 30, HEIGHT - 30) == (255, 255, 255)  # the <pre>, white, and empty

    dom = chromium(st.open_info(space.id, file.id).url, tmp_path / "b")
    assert "line 11: if a &lt; b &amp;&amp; c &gt; d: &lt;b&gt;not bold&lt;/b&gt;" in dom
    assert "<b>" not in dom


def test_a_html_file_runs_nothing(st: Storage, tmp_path: Path) -> None:
    evil = (
        b"<html><head><title>pwned</title></head><body>"
        b"<script>document.title = 'ran'</script>"
        b"<img src=x onerror=\"document.title='ran'\"></body></html>"
    )
    space = st.new_space()
    file = st.upload(space.id, evil, "evil.html")
    dom = chromium(st.open_info(space.id, file.id).url, tmp_path / "a")
    assert "<title>evil.html</title>" in dom  # no script set the title
    assert "<script" not in dom and "<img" not in dom  # the file's tags are text
    assert "&lt;title&gt;pwned&lt;/title&gt;" in dom
