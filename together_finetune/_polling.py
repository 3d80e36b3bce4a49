"""Polling a job until it is terminal: what ``wait`` and ``follow_events`` share.

The poller reads the job, then its events (so a terminal job's last events are
included), reports each event once, and sleeps between polls. It knows nothing
of HTTP: it gets the two reads, the sleep and the clock as plain callables.
"""

from __future__ import annotations

from typing import Callable, Dict, Generator, Hashable, Iterator, List, Optional, Tuple

from ._checks import check_callback, check_flag, check_seconds
from ._resource import check_job_id
from .errors import FineTuneFailedError, WaitTimeoutError
from .models import FineTune, FineTuneEvent

__all__ = ["Poller"]


class Poller:
    """Polls one client's jobs.

    :param retrieve: ``retrieve(job_id)``, the job as it is now.
    :param list_events: ``list_events(job_id)``, its whole event log, oldest first.
    :param sleep: waits that many seconds between polls.
    :param clock: monotonic seconds, for the overall timeout.
    """

    def __init__(
        self,
        retrieve: Callable[[str], FineTune],
        list_events: Callable[[str], List[FineTuneEvent]],
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.retrieve = retrieve
        self.list_events = list_events
        self.sleep = sleep
        self.clock = clock

    def wait(
        self,
        id: str,
        *,
        poll_interval: float,
        timeout: Optional[float],
        on_event: Optional[Callable[[FineTuneEvent], None]],
        raise_on_failure: bool,
        on_update: Optional[Callable[[FineTune], None]] = None,
    ) -> FineTune:
        """Poll until the job is terminal; see :meth:`FineTunes.wait`."""
        check_job_id(id)
        check_callback(on_event, "on_event")
        check_callback(on_update, "on_update")
        check_flag(raise_on_failure, "raise_on_failure")
        events: List[FineTuneEvent] = []
        for job, new_events in self.poll(id, poll_interval, timeout, on_event is not None):
            for event in new_events:
                events.append(event)
                if on_event is not None:
                    on_event(event)
            if on_update is not None:
                on_update(job)
            if job.is_terminal:
                if raise_on_failure and job.status.is_failure:
                    if on_event is None:
                        events = self.list_events(id)
                    raise FineTuneFailedError(failure_message(job, events), job=job)
                return job
        raise AssertionError("unreachable")  # pragma: no cover

    def follow(self, id: str, *, poll_interval: float) -> Generator[FineTuneEvent, None, None]:
        """Each event once, in order, until the job is terminal (arguments checked at once)."""
        check_job_id(id)
        check_poll_interval(poll_interval)
        return (
            event
            for _job, new_events in self.poll(id, poll_interval, None, True)
            for event in new_events
        )

    def poll(
        self, id: str, poll_interval: float, timeout: Optional[float], want_events: bool
    ) -> Iterator[Tuple[FineTune, List[FineTuneEvent]]]:
        """Yield the job and its new events after each poll, ending with the terminal job."""
        check_job_id(id)
        check_poll_interval(poll_interval)
        deadline = Deadline(self.clock, timeout)
        # How many copies of each event were already reported: the log is
        # append-only, so an event is new when it occurs more often than before
        # (two identical events both count).
        seen: Dict[Hashable, int] = {}
        while True:
            job = self.retrieve(id)
            fresh: List[FineTuneEvent] = []
            # Events are read after the job, so a terminal job's last events are included.
            if want_events:
                counts: Dict[Hashable, int] = {}
                for event in self.list_events(id):
                    key = event_key(event)
                    counts[key] = counts.get(key, 0) + 1
                    if counts[key] > seen.get(key, 0):
                        seen[key] = counts[key]
                        fresh.append(event)
            yield job, fresh
            if job.is_terminal:
                return
            if deadline.passed():
                raise WaitTimeoutError(
                    f"job {id} was still {job.status.value} after waiting {timeout:g} s", job=job
                )
            self.sleep(deadline.pause(poll_interval))


class Deadline:
    """The end of a wait of ``timeout`` seconds (``None``: no end) on ``clock``."""

    def __init__(self, clock: Callable[[], float], timeout: Optional[float]) -> None:
        if timeout is not None:
            check_seconds(timeout, "timeout")
        self.clock = clock
        self.at = None if timeout is None else clock() + timeout

    def passed(self) -> bool:
        """Whether the wait is over."""
        return self.at is not None and self.at - self.clock() <= 0

    def pause(self, poll_interval: float) -> float:
        """How long to sleep before the next poll: the interval, cut to the time left."""
        if self.at is None:
            return poll_interval
        return max(0.0, min(poll_interval, self.at - self.clock()))


def check_poll_interval(poll_interval: float) -> None:
    """Raise ``ValueError`` unless ``poll_interval`` is a positive number."""
    if (
        not isinstance(poll_interval, (int, float))
        or isinstance(poll_interval, bool)
        or not poll_interval > 0
    ):
        raise ValueError(f"poll_interval must be a positive number, got {poll_interval!r}")


def event_key(event: FineTuneEvent) -> Hashable:
    """What identifies an event across polls (fields a server may fill in later excluded)."""
    return (
        event.created_at,
        event.type,
        event.level,
        event.message,
        event.step,
        event.checkpoint_path,
        event.model_path,
        event.hash,
    )


def failure_message(job: FineTune, events: List[FineTuneEvent]) -> str:
    """The last error event's message, else a sentence naming the job and its status."""
    for event in reversed(events):
        level = event.level.value.lower() if event.level is not None else ""
        kind = event.type.value.lower() if event.type is not None else ""
        if event.message and (level == "error" or kind in ("job_error", "job_user_error")):
            return event.message
    return f"job {job.id} ended as {job.status.value}"
