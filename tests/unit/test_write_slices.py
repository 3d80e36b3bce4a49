"""Downloads hand the kernel at most WRITE_SLICE bytes per write (bench/PARALLEL_RESULTS.md).

Larger writes make the page cache use large folios, whose pages cost far more system time
on a virtual machine that returns free memory to its host; both engines cut their writes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List

import pytest

from together_finetune._transfer import segments
from together_finetune._transfer.pump import WRITE_SLICE, write_all

DATA = os.urandom(3 * WRITE_SLICE + 1234)


class ShortWrites:
    """A raw file that takes at most ``most`` bytes per call and records each call."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.calls: List[int] = []
        self.data = bytearray()

    def write(self, view: memoryview) -> int:
        self.calls.append(len(view))
        taken = bytes(view[: self.most])
        self.data += taken
        return len(taken)


def test_write_all_cuts_a_chunk_into_slices() -> None:
    f = ShortWrites(most=1 << 30)
    write_all(f, DATA)  # type: ignore[arg-type]
    assert bytes(f.data) == DATA
    assert f.calls == [WRITE_SLICE] * 3 + [1234]


def test_write_all_finishes_after_short_writes() -> None:
    f = ShortWrites(most=WRITE_SLICE // 3)
    write_all(f, DATA)  # type: ignore[arg-type]
    assert bytes(f.data) == DATA
    assert max(f.calls) <= WRITE_SLICE


@pytest.mark.skipif(not hasattr(os, "pwrite"), reason="positional writes are POSIX")
def test_parallel_pieces_are_written_in_slices_at_their_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.pwrite
    calls: List[int] = []

    def recording(fd: int, data: memoryview, offset: int) -> int:
        calls.append(len(data))
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", recording)
    part = tmp_path / "file.part"
    part.write_bytes(b"\0" * (100 + len(DATA)))
    with open(part, "r+b", buffering=0) as f:
        segments._write_at(f, memoryview(DATA), 100)
    assert part.read_bytes() == b"\0" * 100 + DATA
    assert calls == [WRITE_SLICE] * 3 + [1234]
