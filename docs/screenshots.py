"""Render how jobs look in a notebook, in headless Chromium, for the docs.

Run from the repository root after ``pip install -e '.[dev]'``::

    python docs/screenshots.py            # writes docs/notebook-card.png, docs/notebook-listing.png
    python docs/screenshots.py --chromium /path/to/chromium --out /tmp/shots

The jobs come from the library's fake API server (nothing leaves the machine),
decoded by the client, and rendered with their own ``_repr_html_``: a job card and
a listing of jobs, each in a light and a dark page, as notebook front ends show
them. Chromium is the Debian package ``chromium`` (``apt-get install chromium``);
Pillow, when installed, trims the empty bottom of each picture.

This is not a test: nothing here runs in the test suite, so nothing skips when
no browser is installed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, List, Optional, Tuple

from together_finetune import Client, Listing
from together_finetune.testing import FakeTogether

DOCS = Path(__file__).resolve().parent
#: The window's width: a card's, and a listing's (a wide table scrolls in a notebook).
WIDTHS = {"card": 860, "listing": 1240}
#: Page colours and Jupyter's theme variables, as JupyterLab's light and dark themes set them.
THEMES = {
    "light": ("#ffffff", "rgba(0, 0, 0, 0.87)", "#e0e0e0"),
    "dark": ("#111111", "rgba(255, 255, 255, 0.87)", "#424242"),
}
#: Rules like those a notebook front end's stylesheet applies to every output table
#: (right-aligned cells, padding, striped and centred rows): the page has them so the
#: pictures show the display's inline styles holding against them.
FRONT_END_CSS = (
    "table{margin-left:auto;margin-right:auto;border:none;border-collapse:collapse}"
    "td,th{text-align:right;vertical-align:middle;padding:0.5em;border:none}"
    "th{font-weight:bold}"
    "tbody tr:nth-child(odd){background:rgba(128,128,128,0.12)}"
    "code{background:rgba(128,128,128,0.2);padding:2px 4px}"
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def _ago(now: dt.datetime, **delta: float) -> str:
    return (now - dt.timedelta(**delta)).isoformat().replace("+00:00", "Z")


def sample_jobs() -> Tuple[Any, Listing[Any]]:
    """A running job as ``retrieve`` returns it, and ``list()`` of a few jobs, from the fake."""
    now = dt.datetime.now(dt.timezone.utc)
    with FakeTogether() as server:
        for status, model, price, hours in (
            ("completed", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", 12_400_000_000, 30),
            ("error", "Qwen/Qwen2.5-7B-Instruct", 0, 26),
            ("cancelled", "mistralai/Mistral-7B-Instruct-v0.3", 1_150_000_000, 6),
            ("queued", "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference", 0, 0.05),
        ):
            server.add_job(
                status=status,
                model=model,
                total_price=price,
                created_at=_ago(now, hours=hours),
                updated_at=_ago(now, hours=max(0.0, hours - 2)),
            )
        running = server.add_job(
            status="running",
            model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
            created_at=_ago(now, minutes=42),
            started_at=_ago(now, minutes=31),
            updated_at=_ago(now, seconds=20),
            total_price=3_750_000_000,
            n_epochs=3,
            epochs_completed=1,
            steps_completed=140,
            total_steps=400,
            progress={"estimate_available": True, "seconds_remaining": 1260},
        )
        with Client(api_key=server.api_key, base_url=server.base_url) as client:
            return client.fine_tunes.retrieve(running["id"]), client.fine_tunes.list()


def page(fragment: str, label: str, opened: bool, width: int) -> str:
    """``fragment`` on a light and a dark page, one above the other."""
    panels = []
    for theme, (background, text, border) in THEMES.items():
        shown = (
            fragment.replace("<details ", "<details open ")
            if opened and theme == "dark"
            else fragment
        )
        note = f"{theme} theme" + (", details opened" if opened and theme == "dark" else "")
        panels.append(
            f'<section style="background:{background};color:{text};padding:18px 22px 22px;'
            f'--jp-border-color2:{border};--jp-ui-font-color1:{text}">'
            '<div style="font:12px sans-serif;opacity:0.55;margin-bottom:8px">'
            f"{label} · {note}</div>"
            f"{shown}</section>"
        )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><style>{FRONT_END_CSS}</style></head>'
        f'<body style="margin:0;width:{width}px;background:#7f7f7f">{"".join(panels)}</body></html>'
    )


def find_chromium(given: Optional[str]) -> str:
    """The browser to run: ``given``, else ``chromium`` on the PATH."""
    for name in [given] if given else ["chromium", "chromium-browser"]:
        found = shutil.which(name) if name else None
        if found:
            return found
    raise SystemExit("no chromium found: apt-get install chromium, or pass --chromium PATH")


def shoot(chromium: str, markup: str, target: Path, width: int, height: int) -> None:
    """Render ``markup`` to the PNG ``target`` in a fresh browser profile."""
    with tempfile.TemporaryDirectory(prefix="tf-shots-") as scratch:
        source = Path(scratch) / "page.html"
        source.write_text(markup, encoding="utf-8")
        profile = Path(scratch) / "profile"
        command = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={target}",
            source.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    trim(target)


def trim(target: Path) -> None:
    """Cut the empty bottom of the picture (the page is shorter than the window), and
    store it in 256 colours."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - the picture keeps its margin
        return
    with Image.open(target) as image:
        rgb = image.convert("RGB")
    width, height = rgb.size
    empty = rgb.getpixel((width - 1, height - 1))
    bottom = height
    while bottom > 1 and all(rgb.getpixel((x, bottom - 1)) == empty for x in range(0, width, 4)):
        bottom -= 1
    # 256 colours keep text and badges crisp at a third of the size
    rgb.crop((0, 0, width, bottom)).quantize(colors=256).save(target, optimize=True)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", help="the browser binary (default: chromium on the PATH)")
    parser.add_argument("--out", type=Path, default=DOCS, help="where the PNGs go (default: docs/)")
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    job, jobs = sample_jobs()
    args.out.mkdir(parents=True, exist_ok=True)
    for kind, markup, label, opened, height in (
        ("card", job._repr_html_(), "job", True, 1400),
        ("listing", jobs._repr_html_(), "client.fine_tunes.list()", False, 900),
    ):
        target = args.out / f"notebook-{kind}.png"
        width = WIDTHS[kind]
        shoot(chromium, page(markup, label, opened, width), target, width, height)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
