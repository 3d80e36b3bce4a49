"""The end of a wait, shared by ``fine_tunes.wait`` and ``files.wait_until_processed``."""

from __future__ import annotations

import pytest

from together_finetune._polling import Deadline
from together_finetune.testing import ManualClock


def test_no_timeout_never_passes_and_pauses_the_whole_interval() -> None:
    clock = ManualClock()
    deadline = Deadline(clock, None)
    clock.advance(10**9)
    assert not deadline.passed()
    assert deadline.pause(5.0) == 5.0


def test_the_last_pause_is_cut_to_the_time_left() -> None:
    clock = ManualClock()
    deadline = Deadline(clock, 12)
    clock.advance(10)
    assert not deadline.passed()
    assert deadline.pause(5.0) == 2.0
    clock.advance(2)
    assert deadline.passed()


def test_a_pause_is_never_negative() -> None:
    # The clock may pass the end between the check and the pause.
    clock = ManualClock()
    deadline = Deadline(clock, 1)
    clock.advance(3)
    assert deadline.pause(5.0) == 0.0


@pytest.mark.parametrize("bad", [-1, True, "5"])
def test_a_bad_timeout_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0"):
        Deadline(ManualClock(), bad)  # type: ignore[arg-type]
