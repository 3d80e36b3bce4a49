"""Values made readable: numbers, local times, durations, progress bars and status colours.

Every function is pure (the time of day and whether to colour are arguments), so the
tests can pin them. JSON output never goes through here: scripts get the raw values.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ..models import FineTune

__all__ = [
    "ago",
    "bar",
    "duration",
    "job_progress",
    "local_time",
    "number",
    "paint",
    "status",
    "visible_len",
]

#: Status words by colour (SGR codes); a status not listed stays plain.
_STATUS_COLOURS = {
    "32": ("completed",),
    "36": ("running", "uploading", "compressing"),
    "33": ("pending", "queued"),
    "31": ("failed", "error", "user_error"),
    "35": ("cancelled", "cancel_requested"),
}
_COLOUR_OF = {word: code for code, words in _STATUS_COLOURS.items() for word in words}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def paint(text: str, code: str, colour: bool) -> str:
    """``text`` in the SGR colour ``code`` when ``colour``; as it is otherwise."""
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def status(value: str, colour: bool) -> str:
    """A job status, coloured by what it means (green done, red failed, ...)."""
    return paint(value, _COLOUR_OF.get(value, ""), colour)


def visible_len(text: str) -> int:
    """The width of ``text`` on a terminal, colour codes not counted."""
    return len(_ANSI.sub("", text))


def number(value: Any) -> str:
    """A number for reading: integers grouped (``12,345``), floats to 3 significant digits.

    Very small or very large floats use engineering notation (``9.52e-6``: the exponent a
    multiple of 3); ``-`` for ``None``; NaN and infinities as Python spells them.
    """
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    size = abs(value)
    if 1e-3 <= size < 1e6:
        if size >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    exponent = 3 * math.floor(math.log10(size) / 3)
    mantissa = float(f"{value / 10**exponent:.3g}")
    if abs(mantissa) >= 1000:  # rounding carried over: 999.96e-6 is 1.00e-3
        mantissa /= 1000
        exponent += 3
    return f"{mantissa:.3g}e{exponent}"


def local_time(value: Optional[dt.datetime]) -> str:
    """A timestamp in local time to the second (``2025-03-01 14:03:07``); ``-`` if missing."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """A length of time, coarsely: ``45s``, ``3 min``, ``2 h 05 min``, ``3 d 4 h``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def ago(value: Optional[dt.datetime], now: dt.datetime) -> str:
    """Local time, with how long ago when it was within a week (``... (3 min ago)``)."""
    shown = local_time(value)
    if value is None or value.tzinfo is None:
        return shown
    seconds = (now - value).total_seconds()
    if seconds < -60 or seconds > 7 * 86400:
        return shown
    if seconds < 10:
        return f"{shown} (just now)"
    return f"{shown} ({duration(seconds)} ago)"


def bar(done: float, total: float, width: int = 20) -> str:
    """A progress bar ``[#####-----]`` in eighths (Unicode blocks), ``width`` cells inside."""
    fraction = 0.0 if total <= 0 else min(1.0, max(0.0, done / total))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return "[" + ("█" * full + partial).ljust(width) + "]"


def job_progress(job: FineTune, width: int = 20) -> str:
    """A job's progress: bar, steps, epoch and time left, each as far as the API gives it."""
    parts: list[str] = []
    done, total = job.steps_completed, job.total_steps
    if total:
        shown = done or 0
        parts.append(f"{bar(shown, total, width)} {shown / total:4.0%}")
        parts.append(f"step {shown:,}/{total:,}")
    elif done is not None:
        parts.append(f"step {done:,}")
    if job.epochs_completed is not None:
        epochs = f"/{job.n_epochs}" if job.n_epochs else ""
        parts.append(f"epoch {job.epochs_completed}{epochs}")
    estimate = job.progress
    if (
        estimate is not None
        and estimate.estimate_available
        and estimate.seconds_remaining is not None
        and not job.is_terminal
    ):
        left = duration(estimate.seconds_remaining)
        running = job.status.value == "running"
        parts.append(f"about {left} left" if running else f"next status in about {left}")
    return ", ".join(parts) if parts else "-"
