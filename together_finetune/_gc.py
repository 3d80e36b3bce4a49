"""Pausing Python's cyclic garbage collector around bulk work that makes no cycles."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Generator

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Generator[None, None, None]:
    """Pause the cyclic collector for the block, if it runs; resume it afterwards.

    Parsing a large JSON body or decoding a long list makes tens of thousands of
    objects and no reference cycle: the collections their allocations trigger
    scan them (and the rest of the heap) and find nothing, which cost a third of
    the time of decoding 10,000 jobs (see ``bench/DECODE_RESULTS.md``). Nothing is
    lost by the pause: cycles made meanwhile, by any thread, are collected at the
    next collection after it. The standard library pauses it the same way
    (``timeit``). A collector that was already off stays off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
