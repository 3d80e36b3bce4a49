"""Values made readable, the same way on a terminal and in a notebook.

Prices in dollars, times in local time with how long ago, durations in words,
numbers with thousands separators, a job's progress, the tone of a status, and
the nested settings of a job as one short phrase. The command line
(:mod:`together_finetune.cli`) and the notebook display
(:mod:`together_finetune.models._display`) both read values through here, so
they say the same thing.

Every function is pure (the time of day is an argument) and imports nothing of
the package, so models and the command line alike can use it. JSON output never
goes through here: scripts get the raw values.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from typing import Any, List, NamedTuple, Optional, Protocol

__all__ = [
    "Job",
    "Progress",
    "ago",
    "bar",
    "dollars",
    "duration",
    "epoch_time",
    "job_progress",
    "local_time",
    "number",
    "progress",
    "setting",
    "status_tone",
]

#: What a status means, by tone; the CLI paints the tone in ANSI colours, the notebook
#: display as a badge. A status not listed has no tone.
_STATUS_TONES = {
    "green": ("completed",),
    "cyan": ("running", "uploading", "compressing"),
    "yellow": ("pending", "queued"),
    "red": ("failed", "error", "user_error", "invalid_format"),
    "magenta": ("cancelled", "cancel_requested"),
}
_TONE_OF = {word: tone for tone, words in _STATUS_TONES.items() for word in words}


def status_tone(value: Any) -> str:
    """The tone of a job or file status (``"green"`` for done, ``"red"`` for failed, ...);
    ``""`` for a status with no meaning known here. Case is ignored."""
    if isinstance(value, enum.Enum):
        value = value.value
    return _TONE_OF.get(str(value).lower(), "")


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


def dollars(value: Optional[float]) -> str:
    """An amount in dollars to the cent, grouped (``$1,234.50``); ``-`` if missing.

    An amount above zero that rounds to nothing shows as ``<$0.01``, not as free.
    """
    if value is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-" if value is None else str(value)
    if not math.isfinite(value):
        return str(value)
    if 0 < value < 0.005:
        return "<$0.01"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def local_time(value: Optional[dt.datetime]) -> str:
    """A timestamp in local time to the second (``2025-03-01 14:03:07``); ``-`` if missing."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%Y-%m-%d %H:%M:%S")


def epoch_time(value: Any) -> Optional[dt.datetime]:
    """Epoch seconds (how file objects carry ``created_at``) as an aware UTC datetime;
    ``None`` when missing or not a time."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


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


def relative(value: Optional[dt.datetime], now: dt.datetime) -> str:
    """How long ago ``value`` was (``3 min ago``, ``just now``) when within a week;
    ``""`` otherwise, or when the time has no zone."""
    if value is None or value.tzinfo is None:
        return ""
    seconds = (now - value).total_seconds()
    if seconds < -60 or seconds > 7 * 86400:
        return ""
    if seconds < 10:
        return "just now"
    return f"{duration(seconds)} ago"


def ago(value: Optional[dt.datetime], now: dt.datetime) -> str:
    """Local time, with how long ago when it was within a week (``... (3 min ago)``)."""
    hint = relative(value, now)
    shown = local_time(value)
    return f"{shown} ({hint})" if hint else shown


def bar(done: float, total: float, width: int = 20) -> str:
    """A progress bar ``[#####-----]`` in eighths (Unicode blocks), ``width`` cells inside."""
    fraction = 0.0 if total <= 0 else min(1.0, max(0.0, done / total))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return "[" + ("█" * full + partial).ljust(width) + "]"


class _Estimate(Protocol):
    @property
    def estimate_available(self) -> Optional[bool]: ...
    @property
    def seconds_remaining(self) -> Optional[float]: ...


class Job(Protocol):
    """What :func:`progress` reads of a job (a :class:`~together_finetune.models.FineTune`);
    named by its shape so that this module imports nothing of the package."""

    @property
    def status(self) -> Any: ...
    @property
    def is_terminal(self) -> bool: ...
    @property
    def steps_completed(self) -> Optional[int]: ...
    @property
    def total_steps(self) -> Optional[int]: ...
    @property
    def epochs_completed(self) -> Optional[int]: ...
    @property
    def n_epochs(self) -> Optional[int]: ...
    @property
    def progress(self) -> Optional[_Estimate]: ...


class Progress(NamedTuple):
    """A job's progress in words: ``fraction`` done (``None`` without a step count), then
    the parts the API gave (``step 40/100``, ``epoch 1/3``, ``about 3 min left``)."""

    fraction: Optional[float]
    parts: List[str]


def progress(job: Job) -> Progress:
    """How far ``job`` is: fraction, steps, epoch and time left, each as far as the API says."""
    parts = []
    fraction = None
    done, total = job.steps_completed, job.total_steps
    if total:
        shown = done or 0
        fraction = min(1.0, max(0.0, shown / total))
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
    return Progress(fraction, parts)


def job_progress(job: Job, width: int = 20) -> str:
    """A job's progress on one line: bar, steps, epoch and time left (``-`` when unknown)."""
    fraction, parts = progress(job)
    if fraction is not None:
        parts.insert(0, f"{bar(fraction, 1.0, width)} {fraction:4.0%}")
    return ", ".join(parts) if parts else "-"


def setting(value: Any) -> str:
    """A job's nested setting as a short phrase: ``LoRA r=8 α=16``, ``cosine, min 0.0``,
    ``SFT, train on inputs auto``; any other object as ``name=value`` pairs."""
    kind = type(value).__name__
    if kind == "FullTraining":
        return "Full"
    if kind == "LoRATraining":
        words = ["LoRA"]
        for label, field in (
            ("r", "lora_r"),
            ("\N{GREEK SMALL LETTER ALPHA}", "lora_alpha"),
            ("dropout", "lora_dropout"),
        ):
            if getattr(value, field, None) is not None:
                words.append(f"{label}={number(getattr(value, field))}")
        if getattr(value, "lora_trainable_modules", None):
            words.append(f"on {value.lora_trainable_modules}")
        return " ".join(words)
    if kind in ("LinearLRScheduler", "CosineLRScheduler"):
        name = "linear" if kind.startswith("Linear") else "cosine"
        text = f"{name}, min {value.min_lr_ratio}"
        cycles = getattr(value, "num_cycles", None)
        # half a cycle is the API's default: worth a word only when it differs
        return text if cycles in (None, 0.5) else f"{text}, {number(cycles)} cycles"
    if kind == "UnknownLRScheduler":
        return value.lr_scheduler_type or "default"
    if kind == "FineTuneProgress":
        left = value.seconds_remaining
        if value.estimate_available and left is not None:
            return f"about {duration(left)} to the next status"
        return "no estimate"
    if kind == "SFT":
        return f"SFT, train on inputs {yes_no(value.train_on_inputs)}"
    if kind in ("UnknownTrainingType", "UnknownTrainingMethod"):
        return str(getattr(value, "type", None) or getattr(value, "method", ""))
    pairs = _pairs(value)
    if kind == "DPO":
        return "DPO" + (", " + pairs if pairs else "")
    return pairs or kind


def yes_no(value: Any) -> str:
    """``yes`` / ``no`` for a boolean, the value as text otherwise."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _pairs(value: Any) -> str:
    """``name=value`` for each set public attribute of an attrs object (``extra`` aside)."""
    names = [f.name for f in getattr(type(value), "__attrs_attrs__", ())]
    shown = []
    for name in names:
        item = getattr(value, name, None)
        if name == "extra" or item is None:
            continue
        text = yes_no(item) if isinstance(item, bool) else number(item)
        shown.append(f"{name}={text}")
    return ", ".join(shown)
