"""The HTML pieces of the notebook display: cards, badges, progress bars and tables.

The markup is self-contained, as exported notebooks and every front end need it:
inline styles only, no script, no class a stylesheet must define, nothing loaded
from elsewhere. Text takes the colour of the page (``inherit``), borders and muted
text are translucent greys, and badges are solid colours with white text, so the
same markup reads on light and dark themes; Jupyter's theme variables are used
where a front end defines them, each with a fallback.

Every function takes text or markup and says which: ``text`` is escaped here,
``markup`` is trusted (it was built by these functions).
"""

from __future__ import annotations

import datetime as dt
import html
from typing import List, Optional, Sequence, Tuple

from .. import _format

#: Badge colours by tone (see :func:`together_finetune._format.status_tone`): dark
#: enough for white text, light enough to stand out on a dark page.
BADGE_COLOURS = {
    "green": "#1a7f37",
    "cyan": "#0b7285",
    "yellow": "#9a6700",
    "red": "#c62828",
    "magenta": "#8e44ad",
    "": "#6e7781",
}

_FONT = "var(--jp-ui-font-family, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif)"
_MONO = "var(--jp-code-font-family, ui-monospace, SFMono-Regular, Menlo, Consolas, monospace)"
_BORDER = "var(--jp-border-color2, rgba(128, 128, 128, 0.35))"
_RULE = "rgba(128, 128, 128, 0.2)"
_BOX = (
    f"font-family:{_FONT};font-size:13px;line-height:1.45;color:inherit;"
    f"border:1px solid {_BORDER};border-radius:8px;padding:10px 14px;margin:4px 0;"
    "max-width:760px;box-sizing:border-box;text-align:left"
)
#: Jupyter's stylesheet stripes, centres and right-aligns tables: every cell says how it reads.
_TABLE = "border-collapse:collapse;border:0;margin:0;font-size:13px;color:inherit;"
_ROW = ' style="background:none;border:0"'
_MUTED = "opacity:.7"


def esc(text: str) -> str:
    """``text`` escaped for HTML, quotes included."""
    return html.escape(text, quote=True)


def muted(text: str) -> str:
    """``text`` in the lighter grey of secondary information."""
    return f'<span style="{_MUTED}">{esc(text)}</span>'


def code(text: str) -> str:
    """``text`` in the monospace font of IDs, paths and digests."""
    style = f"font-family:{_MONO};font-size:12.5px;background:none;padding:0"
    return f'<code style="{style}">{esc(text)}</code>'


def badge(text: str, tone: str) -> str:
    """``text`` as a small pill in the colour of ``tone`` (grey for no tone)."""
    colour = BADGE_COLOURS.get(tone, BADGE_COLOURS[""])
    return (
        f'<span style="display:inline-block;padding:1px 8px;border-radius:10px;'
        f"font-size:11.5px;font-weight:600;line-height:1.5;color:#fff;background:{colour};"
        f'white-space:nowrap">{esc(text)}</span>'
    )


def moment(value: Optional[dt.datetime], now: dt.datetime) -> str:
    """A time as the CLI shows it, local with how long ago; the UTC time as its tooltip."""
    if value is None:
        return esc("-")
    hint = _format.relative(value, now)
    shown = esc(_format.local_time(value))
    if value.tzinfo is not None:
        utc = value.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
        shown = f'<span title="{esc(utc.replace("+00:00", "Z"))}">{shown}</span>'
    return f"{shown} {muted(f'({hint})')}" if hint else shown


def progress_bar(fraction: Optional[float], parts: Sequence[str], tone: str = "cyan") -> str:
    """A bar filled to ``fraction`` (none when ``None``), then the percentage and ``parts``."""
    words = list(parts)
    drawn = ""
    if fraction is not None:
        fraction = min(1.0, max(0.0, fraction))
        colour = BADGE_COLOURS.get(tone, BADGE_COLOURS["cyan"])
        drawn = (
            '<span style="display:inline-block;width:160px;height:8px;border-radius:4px;'
            "background:rgba(128, 128, 128, 0.25);overflow:hidden;vertical-align:middle;"
            'margin-right:8px">'
            f'<span style="display:block;width:{fraction * 100:.1f}%;height:100%;'
            f'background:{colour}"></span></span>'
        )
        words.insert(0, f"{fraction:.0%}")
    return drawn + esc(" · ".join(words))


def _pairs_table(rows: Sequence[Tuple[str, str]]) -> str:
    cells = "".join(
        f'<tr{_ROW}><th style="text-align:left;vertical-align:top;font-weight:normal;{_MUTED};'
        f'padding:2px 18px 2px 0;border:0;white-space:nowrap">{esc(label)}</th>'
        f'<td style="text-align:left;vertical-align:top;padding:2px 0;border:0;'
        f'overflow-wrap:anywhere">{markup}</td></tr>'
        for label, markup in rows
    )
    return f'<table style="{_TABLE}"><tbody>{cells}</tbody></table>'


def card(
    kind: str,
    title: str,
    badges: Sequence[str],
    lead: Sequence[Tuple[str, str]],
    rest: Sequence[Tuple[str, str]],
) -> str:
    """One object: a header (``kind``, the ``title`` text, the ``badges`` markup), the
    ``lead`` rows (label text, value markup), then the ``rest`` in a collapsed section."""
    head = [f'<span style="{_MUTED};font-size:12px">{esc(kind)}</span>']
    if title:
        head.append(f'<span style="font-family:{_MONO};font-weight:600">{esc(title)}</span>')
    head.extend(badges)
    parts = [
        f'<div style="{_BOX}">',
        '<div style="display:flex;flex-wrap:wrap;align-items:center;gap:4px 10px;'
        f'margin-bottom:6px">{"".join(head)}</div>',
    ]
    if lead:
        parts.append(_pairs_table(lead))
    if rest:
        label = f"{len(rest)} more field{'s' if len(rest) != 1 else ''}"
        parts.append(
            f'<details style="margin-top:6px;border-top:1px solid {_RULE};padding-top:4px">'
            f'<summary style="cursor:pointer;{_MUTED};font-size:12px;padding:2px 0">'
            f"{esc(label)}</summary>{_pairs_table(rest)}</details>"
        )
    parts.append("</div>")
    return "".join(parts)


class Column:
    """A listing's column: its header text, whether its cells are numbers (right-aligned,
    digits of equal width), and whether long cells may wrap (a message; IDs, names and
    times stay on one line, and a wide table scrolls)."""

    def __init__(self, header: str, numeric: bool = False, wrap: bool = False) -> None:
        self.header = header
        self.numeric = numeric
        self.wrap = wrap

    def style(self) -> str:
        """The alignment of the column's cells."""
        if self.numeric:
            return "text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap"
        return "text-align:left" + ("" if self.wrap else ";white-space:nowrap")


def table(
    caption: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], hidden: int = 0
) -> str:
    """A listing: the ``caption`` text, a header row, ``rows`` of cell markup, and a last
    row counting the ``hidden`` ones."""
    pad = "padding:4px 10px;vertical-align:top;border:0"
    head = "".join(
        f'<th style="{column.style()};{pad};border-bottom:1px solid {_BORDER};'
        f'font-weight:600;white-space:nowrap">{esc(column.header)}</th>'
        for column in columns
    )
    body: List[str] = []
    for row in rows:
        cells = "".join(
            f'<td style="{column.style()};{pad};border-bottom:1px solid {_RULE}">{markup}</td>'
            for column, markup in zip(columns, row)
        )
        body.append(f"<tr{_ROW}>{cells}</tr>")
    if hidden:
        body.append(
            f'<tr{_ROW}><td colspan="{len(columns)}" style="text-align:left;{pad};{_MUTED}">'
            f"{esc(f'… and {hidden} more')}</td></tr>"
        )
    return (
        f'<div style="{_BOX};padding:6px 4px;max-width:100%;display:inline-block;'
        f'overflow-x:auto"><table style="{_TABLE}">'
        f'<caption style="caption-side:top;text-align:left;padding:0 10px 6px;{_MUTED};'
        f'font-size:12px">{esc(caption)}</caption>'
        f"<thead><tr{_ROW}>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )
