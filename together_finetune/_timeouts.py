"""Timeouts: a number of seconds or a ``(connect, read)`` pair, checked in one place."""

from __future__ import annotations

from typing import Tuple, Union

__all__ = ["DEFAULT_TIMEOUT", "Timeout", "normalize_timeout"]

#: A timeout in seconds, or a ``(connect, read)`` pair.
Timeout = Union[float, Tuple[float, float]]

DEFAULT_TIMEOUT: Tuple[float, float] = (5.0, 60.0)


def normalize_timeout(timeout: Timeout) -> Tuple[float, float]:
    """Turn a number or ``(connect, read)`` pair into a validated pair of seconds."""
    if isinstance(timeout, tuple):
        if len(timeout) != 2:
            raise ValueError(f"timeout must be a number or a (connect, read) pair, got {timeout!r}")
        connect, read = float(timeout[0]), float(timeout[1])
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        connect = read = float(timeout)
    else:
        raise ValueError(f"timeout must be a number or a (connect, read) pair, got {timeout!r}")
    if not (connect > 0 and read > 0):
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    return connect, read
