"""How the API's objects show themselves: a one-line ``repr`` and an HTML table for notebooks.

Everything here reads a model's fields through :func:`attrs.fields`, so a field
added to a class shows up without a change here. Every server-provided string
is escaped before it goes into HTML; fields named like credentials are never
shown, and long values are shortened.
"""

from __future__ import annotations

import enum
import html
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Callable, Iterable, List, Sequence, Tuple, TypeVar

import attrs

C = TypeVar("C", bound=type)

#: The longest ``repr`` of one object; the issue's budget is 300 characters.
MAX_REPR = 300
#: The longest text of one value in a ``repr`` or a table cell.
MAX_VALUE = 80
#: Rows of a list's HTML table; the rest is counted, like pandas does.
MAX_ROWS = 50

_SECRET_NAMES = ("key", "token", "secret", "password", "authorization")
_TABLE = '<table class="together-finetune" style="border-collapse:collapse">'
_LEFT = ' style="text-align:left"'


def summarized(*names: str) -> Callable[[C], C]:
    """Class decorator: ``repr`` shows the fields ``names`` (those set) on one short line,
    and ``_repr_html_`` renders the object as a two-column table in Jupyter.

    Applied above ``@attrs.frozen``, it replaces the ``repr`` attrs wrote, which
    lists every field (a job's ran to thousands of characters).
    """

    def decorate(cls: C) -> C:
        setattr(cls, "__summary_fields__", names)  # noqa: B010 - an attribute mypy does not know
        setattr(cls, "__repr__", short_repr)  # noqa: B010
        setattr(cls, "_repr_html_", object_html)  # noqa: B010
        return cls

    return decorate


def is_secret(name: str) -> bool:
    """True for a field or key named like a credential (``wandb_key``, ``hf_api_token``)."""
    lowered = name.lower()
    return any(lowered == word or lowered.endswith("_" + word) for word in _SECRET_NAMES)


def summary_fields(cls: type) -> Tuple[str, ...]:
    """The fields that stand for an object of ``cls`` in a repr or a list's table."""
    names: Tuple[str, ...] = getattr(cls, "__summary_fields__", ())
    if not names and attrs.has(cls):
        # ``extra`` (what the server sent beyond the known fields) never stands for an object.
        names = tuple(field.name for field in attrs.fields(cls) if field.name != "extra")[:4]
    return tuple(name for name in names if not is_secret(name))


def shorten(text: str, limit: int = MAX_VALUE) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def value_text(value: Any) -> str:
    """A field value as short readable text (enums by value, times to the second)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, str):
        return shorten(value)
    if isinstance(value, Mapping):
        shown = ", ".join(
            f"{key}={value_text(item)}" for key, item in value.items() if not is_secret(str(key))
        )
        return shorten("{" + shown + "}")
    if isinstance(value, (list, tuple)):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    return shorten(repr(value))


def short_repr(obj: Any) -> str:
    """``Type(field=value, ...)`` for the summary fields that are set; at most :data:`MAX_REPR`."""
    parts: list[str] = []
    for name in summary_fields(type(obj)):
        value = getattr(obj, name, None)
        if value is None:
            continue
        text = value_text(value)
        parts.append(f"{name}={text if _is_number(value) else repr(text)}")
    line = f"{type(obj).__name__}({', '.join(parts)})"
    return line if len(line) <= MAX_REPR else line[: MAX_REPR - 2] + "…)"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, enum.Enum)


def _shown_fields(obj: Any) -> List[Tuple[str, Any]]:
    """The fields worth a row: set, not empty, not a credential; the summary first."""
    if not attrs.has(type(obj)):
        return []
    first = summary_fields(type(obj))
    names = list(first) + [f.name for f in attrs.fields(type(obj)) if f.name not in first]
    pairs: list[tuple[str, Any]] = []
    for name in names:
        value = getattr(obj, name, None)
        empty = isinstance(value, (list, tuple, Mapping)) and not value
        if is_secret(name) or value is None or empty:
            continue
        pairs.append((name, value))
    return pairs


def _cell(text: str, tag: str = "td") -> str:
    return f"<{tag}{_LEFT}>{html.escape(text)}</{tag}>"


def object_html(obj: Any) -> str:
    """One object as a two-column HTML table: its type and ID on top, a row per set field."""
    title = type(obj).__name__
    ident = getattr(obj, "id", None)
    if isinstance(ident, str):
        title += " " + shorten(ident)
    rows = "".join(
        f"<tr>{_cell(name, 'th')}{_cell(value_text(value))}</tr>"
        for name, value in _shown_fields(obj)
        if name != "id"  # already in the title
    )
    head = f'<thead><tr><th colspan="2"{_LEFT}>{html.escape(title)}</th></tr></thead>'
    return f"{_TABLE}{head}<tbody>{rows}</tbody></table>"


def listing_html(items: Sequence[Any], name: str) -> str:
    """A list of objects as an HTML table: one row per object, a column per summary field
    (a field unset in every row is left out); at most :data:`MAX_ROWS` rows."""
    kinds = {type(item) for item in items}
    caption = f"{name} of {len(items)} item{'s' if len(items) != 1 else ''}"
    if not items:
        return f"<p>{html.escape(caption)}</p>"
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind is not None and attrs.has(kind):
        caption = f"{name} of {len(items)} {kind.__name__}"
        columns = [
            c for c in summary_fields(kind) if any(getattr(i, c, None) is not None for i in items)
        ]
        rows: Iterable[List[str]] = (
            [_optional_text(getattr(item, column, None)) for column in columns]
            for item in items[:MAX_ROWS]
        )
    else:
        columns = ["value"]
        rows = ([shorten(repr(item))] for item in items[:MAX_ROWS])
    head = "".join(_cell(column, "th") for column in columns)
    body = "".join("<tr>" + "".join(_cell(text) for text in row) + "</tr>" for row in rows)
    if len(items) > MAX_ROWS:
        more = f"… and {len(items) - MAX_ROWS} more"
        body += f'<tr><td colspan="{len(columns)}"{_LEFT}>{html.escape(more)}</td></tr>'
    return (
        f"{_TABLE}<caption{_LEFT}>{html.escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _optional_text(value: Any) -> str:
    return "" if value is None else value_text(value)
