"""Plain argument checks shared by every layer; this module imports nothing else of the
package, so the client and the engines use it without loading more."""

from __future__ import annotations

from collections import abc
from typing import Any, Dict, Optional

__all__ = ["check_callback", "check_extra", "check_flag", "check_seconds"]


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


def check_extra(value: Any, what: str, *, header: bool = False) -> Optional[Dict[str, Any]]:
    """A copy of ``extra_headers`` / ``extra_query`` / ``extra_body`` once checked.

    ``None`` stays ``None``; otherwise ``value`` must be a mapping with string keys
    (and, for headers, string values, none of them ``Authorization``: the client
    owns that one). Header values may be secret: only names appear in messages.

    :raises ValueError: ``value`` has the wrong shape.
    """
    if value is None:
        return None
    if not isinstance(value, abc.Mapping):
        raise ValueError(f"{what} must be a mapping, got {type(value).__name__}")
    if not all(isinstance(key, str) and key for key in value):
        raise ValueError(f"{what} must have non-empty string keys, got {list(value)!r}")
    if header:
        if not all(isinstance(item, str) for item in value.values()):
            raise ValueError(f"{what} must map header names to strings, got {list(value)!r}")
        if any(key.strip().lower() == "authorization" for key in value):
            raise ValueError(
                f"{what} cannot set Authorization: the client sends the API key itself "
                "(pass api_key= to the Client)"
            )
    return dict(value)
