"""Plain argument checks shared by every layer; this module imports nothing else of the
package, so the client and the engines use it without loading more."""

from __future__ import annotations

from typing import Any

__all__ = ["check_callback", "check_flag", "check_seconds"]


def check_flag(value: Any, what: str) -> None:
    """Raise ``ValueError`` unless ``value`` is ``True`` or ``False``.

    A truthy stand-in such as the string ``"false"`` would turn an option on (say,
    ``overwrite``), so flags take booleans only.
    """
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be True or False, got {value!r}")


def check_callback(value: Any, what: str) -> None:
    """Raise ``ValueError`` unless ``value`` is ``None`` or callable (checked before sending)."""
    if value is not None and not callable(value):
        raise ValueError(f"{what} must be a callable or None, got {value!r}")


def check_seconds(value: Any, what: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a number of seconds >= 0 (not NaN)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"{what} must be a number of seconds >= 0, got {value!r}")
