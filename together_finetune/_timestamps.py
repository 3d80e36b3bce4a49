"""Timestamps as the API sends them: ISO-8601 strings (``Z`` allowed) or epoch seconds.

The converter's datetime hook and the CLI's time arguments both read them here.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any

__all__ = ["ISO_PARSER", "parse_datetime"]

_FULL_ISO_PARSER = sys.version_info >= (3, 11)

#: ``datetime.fromisoformat`` where it reads every ISO-8601 form the API sends
#: (Python 3.11+): a string it accepts needs no more than its result, given UTC
#: if naive. ``None`` on older Pythons, whose parser needs :func:`parse_datetime`.
ISO_PARSER = datetime.fromisoformat if _FULL_ISO_PARSER else None


def parse_datetime(value: Any, _: Any = None) -> datetime:
    """Parse an ISO-8601 string (``Z`` allowed) or epoch seconds into an aware datetime."""
    if _FULL_ISO_PARSER and value.__class__ is str:
        # Python 3.11+ reads every ISO-8601 form the API sends (Z included) in one call.
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            # Python < 3.11 rejects fractions that are not 3 or 6 digits long.
            head, dot, rest = text.partition(".")
            if not dot:
                raise
            digits = "".join(c for c in rest if c.isdigit())
            zone = rest[len(digits) :]
            parsed = datetime.fromisoformat(f"{head}.{digits[:6].ljust(6, '0')}{zone}")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError) as exc:  # the platform's time_t cannot hold it
            raise ValueError(f"timestamp {value!r} is out of range") from exc
    raise TypeError(f"expected an ISO-8601 timestamp, got {type(value).__name__} {value!r:.60}")
