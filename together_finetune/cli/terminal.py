"""What the command line does differently on a terminal: colour, questions, one live line.

Nothing here changes what a script sees: when stdin or the output is not a terminal
there is no question (the answer is yes, as before prompts existed), no colour and
no redrawn line.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

__all__ = ["StatusLine", "colour_enabled", "confirm", "interactive", "width"]


def colour_enabled(stream: TextIO) -> bool:
    """Colour for ``stream``: a terminal, ``NO_COLOR`` unset or empty, ``TERM`` not ``dumb``."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def interactive() -> bool:
    """Whether a person can answer: stdin and stderr (where questions go) are terminals."""
    return _isatty(sys.stdin) and _isatty(sys.stderr)


def width() -> int:
    """Columns of the terminal (``COLUMNS`` first; 80 when unknown)."""
    return shutil.get_terminal_size((80, 24)).columns


def confirm(question: str, *, assume_yes: bool) -> bool:
    """Ask ``question [y/N]`` on a terminal; yes without asking otherwise or with ``assume_yes``.

    Only ``y`` or ``yes`` (any case) is a yes; an empty answer or end of input is a no.
    """
    if assume_yes or not interactive():
        return True
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):  # end of input: finish the prompt's line
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


class StatusLine:
    """One line on a terminal that each :meth:`show` redraws (``\\r`` and clear to the end).

    :meth:`above` prints a lasting line above it. Not on a terminal, :meth:`show`
    prints a line only when the text changed, and :meth:`above` is a plain line.
    """

    def __init__(self, stream: TextIO, live: bool) -> None:
        self.stream = stream
        self.live = live
        self.current = ""

    def show(self, text: str) -> None:
        """Replace the status line with ``text`` (cut to the terminal's width)."""
        if not self.live:
            if text != self.current:
                self.stream.write(text + "\n")
            self.current = text
            self.stream.flush()
            return
        if text == self.current:
            return  # nothing new: no flicker
        self.current = text
        self.stream.write("\r\x1b[K" + _fit(text, max(10, width() - 1)))
        self.stream.flush()

    def above(self, text: str) -> None:
        """Print ``text`` as a lasting line, the status line redrawn under it."""
        if not self.live:
            self.stream.write(text + "\n")
            self.stream.flush()
            return
        self.stream.write("\r\x1b[K" + text + "\n" + _fit(self.current, max(10, width() - 1)))
        self.stream.flush()

    def close(self) -> None:
        """Leave the status line as it is and go to the next line."""
        if self.live and self.current:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        self.current = ""


def _fit(text: str, columns: int) -> str:
    """``text`` cut to ``columns`` visible characters (its colour dropped if it is cut)."""
    from .fmt import visible_len

    if visible_len(text) <= columns:
        return text
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)[: columns - 1] + "…"


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
