"""The library's messages in the command line's words: flags, not Python keywords.

The library tells its callers to ``pass overwrite=True``; a command-line user has
``--overwrite`` instead. Every error message passes through :func:`cli_wording`
before it is printed.
"""

from __future__ import annotations

import re

__all__ = ["cli_wording"]

#: A library keyword named in a message, and the flag that sets it on the command line.
_FLAGS = {
    "overwrite=True": "--overwrite",
    "file_type=": "--file-type",
    "api_key=...": "--api-key",
}
_HINT = re.compile(r"\bpass (" + "|".join(re.escape(k) for k in _FLAGS) + r")")


def cli_wording(message: str) -> str:
    """``message`` with each library keyword hint replaced by the flag to use."""
    return _HINT.sub(lambda found: "use " + _FLAGS[found.group(1)], message)
