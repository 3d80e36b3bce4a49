"""Terminal colours: status words painted by what they mean, and widths without the codes.

What a value reads as (numbers, prices, local times, progress) is shared with the
notebook display and lives in :mod:`together_finetune._format`.
"""

from __future__ import annotations

import re

from .._format import status_tone

__all__ = ["paint", "status", "visible_len"]

#: SGR colour codes of the tones of :func:`together_finetune._format.status_tone`.
_SGR = {"green": "32", "cyan": "36", "yellow": "33", "red": "31", "magenta": "35"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def paint(text: str, code: str, colour: bool) -> str:
    """``text`` in the SGR colour ``code`` when ``colour``; as it is otherwise."""
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def status(value: str, colour: bool) -> str:
    """A job status, coloured by what it means (green done, red failed, ...)."""
    return paint(value, _SGR.get(status_tone(value), ""), colour)


def visible_len(text: str) -> int:
    """The width of ``text`` on a terminal, colour codes not counted."""
    return len(_ANSI.sub("", text))
