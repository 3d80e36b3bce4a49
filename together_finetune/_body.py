"""Reading and parsing response bodies: whole, at once, without the collector's scans."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, ContextManager

from ._gc import gc_paused

if TYPE_CHECKING:
    import requests

__all__ = ["parse_json", "paused_for", "read_body"]

#: Bodies from this size up are parsed with the cyclic collector paused.
BULK_BODY = 1 << 20

#: How much of a body is read at a time (``requests`` reads 10 KiB).
_READ_STEP = 1 << 20

_NO_PAUSE = contextlib.nullcontext()


def read_body(response: requests.Response) -> None:
    """Read the whole body of a streamed response now, as ``requests`` does unstreamed.

    ``requests`` reads it 10 KiB at a time: for a 20 MB listing that is 2,000 reads
    through urllib3, a sixth of the cost of fetching and parsing it. Read in 1 MiB
    steps through the same ``iter_content`` (so with the same errors) it costs a
    third of that. A body something already read (the response hook) is left as is.
    """
    state = vars(response)
    if state.get("_content") is False and not state.get("_content_consumed"):
        response._content = b"".join(response.iter_content(_READ_STEP)) or b""


def paused_for(response: requests.Response) -> ContextManager[Any]:
    """The collector paused for a large body (see :func:`parse_json`), else nothing.

    The objects left when the pause ends (the result decoded from the body) go
    straight to the collector's oldest generation (see :func:`gc_paused`).
    """
    return gc_paused(promote=True) if len(response.content) >= BULK_BODY else _NO_PAUSE


def parse_json(response: requests.Response) -> Any:
    """The response's JSON body; a large one is parsed with the cyclic collector paused.

    :raises ValueError: the body is not JSON.
    """
    with paused_for(response):  # a long listing: thousands of objects, no cycle
        return response.json()
