"""Reading the notebook display's HTML back: tags, text, table rows, and what is folded away."""

from __future__ import annotations

import html.parser
from typing import Any, Dict, List, Optional, Tuple


class Parsed(html.parser.HTMLParser):
    """The tags and text of an HTML fragment, its table rows (cell texts), and which rows
    sit inside a ``<details>`` section."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: List[str] = []
        self.text: List[str] = []
        self.rows: List[List[str]] = []
        #: For each row: whether it is inside ``<details>``.
        self.folded: List[bool] = []
        #: The style of each cell of each row.
        self.styles: List[List[str]] = []
        #: The attributes of every tag, in order.
        self.attributes: List[Tuple[str, Dict[str, Optional[str]]]] = []
        self.summary = ""
        self._details = 0
        self._in_cell = False
        self._in_summary = False
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Any]]) -> None:
        self.tags.append(tag)
        self.attributes.append((tag, dict(attrs)))
        if tag == "details":
            self._details += 1
        elif tag == "summary":
            self._in_summary = True
        elif tag == "tr":
            self.rows.append([])
            self.styles.append([])
            self.folded.append(self._details > 0)
        elif tag in ("td", "th"):
            self.rows[-1].append("")
            self.styles[-1].append(dict(attrs).get("style") or "")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self._details -= 1
        elif tag == "summary":
            self._in_summary = False
        elif tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_summary:
            self.summary += data
        if self._in_cell:
            self.rows[-1][-1] += data

    def lead(self) -> List[List[str]]:
        """The rows a card shows before its folded part."""
        return [row for row, folded in zip(self.rows, self.folded) if not folded]

    def rest(self) -> List[List[str]]:
        """The rows inside the card's ``<details>``."""
        return [row for row, folded in zip(self.rows, self.folded) if folded]
