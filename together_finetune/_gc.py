"""Pausing Python's cyclic garbage collector around bulk work that makes no cycles."""

from __future__ import annotations

import gc
import sysconfig
from contextlib import contextmanager
from typing import Generator

__all__ = ["gc_paused"]

#: ``gc.freeze()`` and ``gc.unfreeze()`` splice the collector's lists (constant time)
#: on the usual build; the free-threaded build has no generations and walks the heap.
_SPLICING_FREEZE = not sysconfig.get_config_var("Py_GIL_DISABLED")


@contextmanager
def gc_paused(*, promote: bool = False) -> Generator[None, None, None]:
    """Pause the cyclic collector for the block, if it runs; resume it afterwards.

    Parsing a large JSON body or decoding a long list makes tens of thousands of
    objects and no reference cycle: the collections their allocations trigger
    scan them (and the rest of the heap) and find nothing, which cost a third of
    the time of decoding 10,000 jobs (see ``bench/DECODE_RESULTS.md``). Nothing is
    lost by the pause: cycles made meanwhile, by any thread, are collected at the
    next collection after it. The standard library pauses it the same way
    (``timeit``). A collector that was already off stays off.

    :param promote: when the pause ends, move every object the collector tracks
        into its oldest generation (``gc.freeze()`` then ``gc.unfreeze()``: two
        list splices) instead of leaving the block's objects to the young
        collection the next allocation would start. That collection would scan the
        whole result of a long listing (60,000 objects for 10,000 jobs: 10 % of
        ``list()``) and find nothing; the oldest generation is scanned only by the
        rare full collections, as it would be once the objects reach it anyway.
        The young objects of the rest of the program move with them, so a cycle
        among those waits for the next full collection instead of the next young
        one. Not done when the program froze objects itself (``gc.freeze()``, which
        this would undo) or on the free-threaded build.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if promote and _SPLICING_FREEZE and gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        gc.enable()
