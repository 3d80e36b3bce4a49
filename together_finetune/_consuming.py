"""Structuring a long list the caller gives up: each item freed as soon as it is decoded.

A 10,000-job listing is 21 MB of parsed dicts. Decoded first and freed after,
the free walks all of it a second time, long after it left the CPU's caches, and
the new objects take fresh memory. Freed one item at a time, right after its
object is made, each dict is released while still cached and its memory is
reused by the next item's objects: 15-20 % off the decode and free of that list
(see ``bench/DECODE_RESULTS.md``).

The list is the caller's to give up (a body parsed for this decode and nothing
else): it is emptied as it is read. When an item does not fit, the items before
it are put back as their decoded objects unstructure (what they decoded to), so
the error carries the whole body, and the items from the misfit on are explained
as cattrs' own list hook would: one error per item that does not fit, each noted
with its index.
"""

from __future__ import annotations

import typing
from typing import Any, List, Optional

import cattrs
from cattrs.errors import IterableValidationError, IterableValidationNote

from ._structure_gen import structure_hook

__all__ = ["consumable_list", "structure_consuming"]


def consumable_list(data: Any, cls: Any) -> bool:
    """Whether ``data`` is a ``list`` and ``cls`` a ``List[X]`` that can be read consuming."""
    return (
        data.__class__ is list and typing.get_origin(cls) is list and len(typing.get_args(cls)) == 1
    )


def structure_consuming(conv: cattrs.Converter, data: List[Any], cls: Any) -> List[Any]:
    """Structure ``data`` (a ``list``) as ``cls`` (``List[X]``), emptying it as it goes.

    On success ``data`` is left holding ``None`` in every place. On a misfit it is
    whole again (see the module's docstring) and the error is cattrs'
    :class:`~cattrs.errors.IterableValidationError`, as its list hook would raise.
    """
    (element,) = typing.get_args(cls)
    hook = structure_hook(conv, element)
    out: List[Any] = []
    append = out.append
    index = 0
    item: Any = None
    try:
        for index in range(len(data)):
            item = data[index]
            data[index] = None  # ``item`` holds it until the next one replaces it
            append(hook(item, element))
    except Exception as exc:
        data[index] = item
        for done, value in enumerate(out):
            data[done] = conv.unstructure(value)
        explained = _explained(data, index, hook, element, cls)
        if explained is None:  # it fitted the second time: nothing to explain it with
            raise
        raise explained from exc
    return out


def _explained(
    data: List[Any], start: int, hook: Any, element: Any, cls: Any
) -> Optional[Exception]:
    """cattrs' list error for ``data[start:]`` (the items before ``start`` fitted)."""
    errors: List[Exception] = []
    for index in range(start, len(data)):
        try:
            hook(data[index], element)
        except Exception as exc:
            note = IterableValidationNote(f"Structuring {cls} @ index {index}", index, element)
            notes = [*getattr(exc, "__notes__", []), note]
            setattr(exc, "__notes__", notes)  # noqa: B010 - not in Python 3.9's stubs
            errors.append(exc)
    if not errors:
        return None
    return IterableValidationError(f"While structuring {cls!r}", errors, cls)
