"""What the list methods return: a real ``list`` that renders as an HTML table in Jupyter."""

from __future__ import annotations

from typing import List, TypeVar

from ._display import listing_html

T = TypeVar("T")


class Listing(List[T]):
    """The objects a list method returned (``fine_tunes.list()``, ``files.list()``, ...).

    A ``list`` in every way (indexing, ``len``, equality with plain lists,
    pickling, JSON); in a notebook it shows as one table with a row per object.
    """

    def _repr_html_(self) -> str:
        """A table of the objects' summary fields, for Jupyter."""
        return listing_html(self, type(self).__name__)
