"""How the API's objects show themselves: a one-line ``repr``, and a card or a table in notebooks.

Every field is read through :func:`attrs.fields`, so a field added to a class shows
up (in the collapsed part of its card) without a change here. Values read as the
command line prints them (:mod:`together_finetune._format`): dollars, local times,
grouped numbers. Every server-provided string is escaped; fields named like
credentials are never shown; long values are shortened. ``_repr_html_`` never
raises: a value that cannot be formatted shows as escaped text, and an object
whose card fails shows as a plain table of its fields.

A class picks its key fields with :func:`summarized`; what its card leads with and
the columns of a list of it are described in :mod:`._cards`.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
from collections.abc import Mapping
from typing import (
    Any,
    Callable,
    Collection,
    Dict,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

import attrs

from .. import _format
from . import _html

C = TypeVar("C", bound=type)

#: The longest ``repr`` of one object; the issue's budget is 300 characters.
MAX_REPR = 300
#: The longest text of one value in a ``repr`` or a table cell.
MAX_VALUE = 80
#: The longest text of one value in a card.
MAX_CARD_VALUE = 160
#: Rows of a list's HTML table; the rest is counted, like pandas does.
MAX_ROWS = 50

_SECRET_NAMES = ("key", "token", "secret", "password", "authorization")


class Card(NamedTuple):
    """What a card leads with: a title, badges (markup), rows of (label, markup), and the
    fields those rows show (left out of the collapsed rest). ``notes``: markup for
    fields of the rest that read better than the generic way (a job's events)."""

    title: str
    badges: List[str]
    lead: List[Tuple[str, str]]
    used: Collection[str]
    notes: Mapping[str, str] = {}


class Cell(NamedTuple):
    """A listing's column: its header, the field it mainly shows (the text shown when the
    cell cannot be made), and how a row's cell is made (markup, ``""`` when missing)."""

    column: _html.Column
    field: str
    render: Callable[[Any, dt.datetime], str]


CardMaker = Callable[[Any, dt.datetime], Card]
ColumnsMaker = Callable[[Sequence[Any]], List[Cell]]


def summarized(*names: str) -> Callable[[C], C]:
    """Class decorator: ``repr`` shows the fields ``names`` (those set) on one short line,
    and ``_repr_html_`` renders the object as a card in Jupyter (leading with the
    ``names`` fields, unless :func:`present` gave the class a card of its own).

    Applied above ``@attrs.frozen``, it replaces the ``repr`` attrs wrote, which
    lists every field (a job's ran to thousands of characters).
    """

    def decorate(cls: C) -> C:
        setattr(cls, "__summary_fields__", names)  # noqa: B010 - an attribute mypy does not know
        setattr(cls, "__repr__", short_repr)  # noqa: B010
        setattr(cls, "_repr_html_", object_html)  # noqa: B010
        return cls

    return decorate


def present(cls: type, card: CardMaker, columns: Optional[ColumnsMaker] = None) -> None:
    """Give ``cls`` its own card (what it leads with) and, for lists of it, columns."""
    setattr(cls, "__display_card__", card)  # noqa: B010 - attributes mypy does not know
    setattr(cls, "__display_columns__", columns)  # noqa: B010


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


def value_text(value: Any, limit: int = MAX_VALUE) -> str:
    """A field value as short readable text (enums by value, times to the second)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, str):
        return shorten(value, limit)
    if isinstance(value, os.PathLike):
        return shorten(os.fspath(value), limit)
    if isinstance(value, Mapping):
        shown = ", ".join(
            f"{key}={value_text(item)}" for key, item in value.items() if not is_secret(str(key))
        )
        return shorten("{" + shown + "}", limit)
    if isinstance(value, (list, tuple)):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    return shorten(repr(value), limit)


def safe_text(value: Any, limit: int = MAX_VALUE) -> str:
    """:func:`value_text`, or the type's name when even that fails (a broken ``repr``)."""
    try:
        return value_text(value, limit)
    except Exception:  # a broken repr: the display never raises
        return f"<{type(value).__name__}>"


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


def shown_fields(obj: Any) -> List[Tuple[str, Any]]:
    """The fields worth a row, in declaration order: set, not empty, not a credential."""
    if not attrs.has(type(obj)):
        return []
    pairs: list[tuple[str, Any]] = []
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name, None)
        empty = isinstance(value, (list, tuple, Mapping)) and not value
        if is_secret(field.name) or value is None or empty:
            continue
        pairs.append((field.name, value))
    return pairs


def value_html(value: Any, now: dt.datetime) -> str:
    """A value as a card shows it: times local, numbers grouped, settings as a phrase;
    escaped text when it cannot be formatted."""
    try:
        return _value_markup(value, now)
    except Exception:  # a value that cannot be formatted: as text
        return _html.esc(safe_text(value, MAX_CARD_VALUE))


def _value_markup(value: Any, now: dt.datetime) -> str:
    if isinstance(value, bool):
        return _html.esc(_format.yes_no(value))
    if isinstance(value, enum.Enum):
        return _html.esc(str(value.value))
    if isinstance(value, dt.datetime):
        return _html.moment(value, now)
    if isinstance(value, (int, float)):
        return _html.esc(_format.number(value))
    if isinstance(value, str):
        return _html.esc(shorten(value, MAX_CARD_VALUE))
    if attrs.has(type(value)):
        return _html.esc(shorten(_format.setting(value), MAX_CARD_VALUE))
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return _html.esc(shorten(", ".join(value), MAX_CARD_VALUE))
    return _html.esc(value_text(value, MAX_CARD_VALUE))


def object_html(obj: Any) -> str:
    """One object as a card: its key fields first, the rest in a collapsed section."""
    try:
        return _card_html(obj, dt.datetime.now(dt.timezone.utc))
    except Exception:  # never raise into a notebook: the plain table
        return _plain_html(obj)


def _title(obj: Any) -> str:
    ident = getattr(obj, "id", None)
    return shorten(ident) if isinstance(ident, str) else ""


def _card_html(obj: Any, now: dt.datetime) -> str:
    maker: Optional[CardMaker] = getattr(type(obj), "__display_card__", None)
    if maker is not None:
        made = maker(obj, now)
    else:
        lead = [
            (name, value_html(getattr(obj, name), now))
            for name in summary_fields(type(obj))
            if name != "id" and getattr(obj, name, None) is not None
        ]
        made = Card(_title(obj), [], lead, {"id", *summary_fields(type(obj))})
    rest = [
        (name, made.notes[name] if name in made.notes else value_html(value, now))
        for name, value in shown_fields(obj)
        if name not in made.used
    ]
    return _html.card(type(obj).__name__, made.title, made.badges, made.lead, rest)


def _plain_html(obj: Any) -> str:
    """Every set field as escaped text, with no formatting that could fail."""
    try:
        rows = [(name, _html.esc(safe_text(value))) for name, value in shown_fields(obj)]
        return _html.card(type(obj).__name__, _title(obj), [], rows, [])
    except Exception:  # not even the fields can be read
        return _html.card(type(obj).__name__, "", [], [], [])


def listing_html(items: Sequence[Any], name: str) -> str:
    """A list of objects as an HTML table: one row per object (at most :data:`MAX_ROWS`),
    the columns its class asks for (a column empty in every row is left out)."""
    caption = f"{name} of {len(items)} item{'s' if len(items) != 1 else ''}"
    if not items:
        return f"<p>{_html.esc(caption)}</p>"
    kinds = {type(item) for item in items}
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind is not None and attrs.has(kind):
        try:
            typed = f"{name} of {len(items)} {kind.__name__}"
            shown = items[:MAX_ROWS]
            return _table_html(typed, kind, shown, len(items) - len(shown))
        except Exception:  # a class whose columns fail: one column of text
            return _text_table(caption, items)
    return _text_table(caption, items)


def _text_table(caption: str, items: Sequence[Any]) -> str:
    """A list of anything, one ``repr`` a row (mixed kinds, or a class whose columns fail)."""
    shown = items[:MAX_ROWS]
    rows = [[_html.esc(shorten(safe_repr(item)))] for item in shown]
    return _html.table(caption, [_html.Column("value")], rows, len(items) - len(shown))


def safe_repr(value: Any) -> str:
    """``repr(value)``, or the type's name when that fails."""
    try:
        return repr(value)
    except Exception:  # a broken repr: the display never raises
        return f"<{type(value).__name__}>"


def default_columns(kind: type, items: Sequence[Any]) -> List[Cell]:
    """A column per summary field of ``kind``; numbers right-aligned."""

    def render(name: str) -> Callable[[Any, dt.datetime], str]:
        def cell(item: Any, now: dt.datetime) -> str:
            value = getattr(item, name, None)
            return "" if value is None else value_html(value, now)

        return cell

    return [
        Cell(
            _html.Column(name, any(_is_number(getattr(i, name, None)) for i in items)),
            name,
            render(name),
        )
        for name in summary_fields(kind)
    ]


def _table_html(caption: str, kind: type, items: Sequence[Any], hidden: int) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    maker: Optional[ColumnsMaker] = getattr(kind, "__display_columns__", None)
    cells = maker(items) if maker is not None else default_columns(kind, items)
    grid: Dict[int, List[str]] = {}
    for index, cell in enumerate(cells):
        grid[index] = [_cell_markup(cell, item, now) for item in items]
    kept = [index for index in grid if any(grid[index])]
    rows = [[grid[index][row] for index in kept] for row in range(len(items))]
    return _html.table(caption, [cells[index].column for index in kept], rows, hidden)


def _cell_markup(cell: Cell, item: Any, now: dt.datetime) -> str:
    try:
        return cell.render(item, now)
    except Exception:  # a cell that cannot be made: its field as text
        value = getattr(item, cell.field, None)
        return "" if value is None else _html.esc(safe_text(value))
