"""The one retry engine: every repeated request of the client is driven from here.

The API requests (:mod:`together_finetune.transport`), the storage PUTs
(``_transfer/upload.py``) and the download resumes (``_transfer/stream.py`` and
``_transfer/segments.py``) each describe one attempt as a function that either returns
or raises :class:`Failure` (saying whether the failure may be retried); :func:`call`
runs that function under tenacity, configured from the client's retry policy.

One meaning of a budget: ``budget`` is the number of retries in a row *without
progress*. An operation that never makes progress (an API request, a PUT) gets
``budget + 1`` attempts; a download resets the count whenever it gets past the
furthest byte it ever reached, so with a file of ``S`` bytes it makes at most
``(budget + 1) * (S + 1)`` requests, whatever the server does.

The engine also tells the client's ``on_response`` hook whether a failed HTTP attempt
will be retried: the transport hands it the report of each failed request
(:func:`report_later`), and :func:`call` sends it once it has decided, in the same
thread. :func:`current_attempt` numbers the requests of each attempt.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, List, Optional, Protocol, TypeVar

from .errors import APIStatusError, AttemptFailed, TogetherError

if TYPE_CHECKING:  # tenacity loads with the first request, not at import
    import tenacity

__all__ = ["Failure", "WaitPolicy", "call", "current_attempt", "report_later"]

#: One attempt's classified failure (defined with every exception, in errors.py).
Failure = AttemptFailed

T = TypeVar("T")
#: Logs go to the client's logger (named here to keep this module below the transport).
_LOGGER_NAME = "together_finetune"


#: A report waiting for the engine's decision: called with ``(will_retry, error)``.
Report = Callable[[bool, Optional[BaseException]], None]


class _Frame:
    """One running :func:`call` in this thread: its attempt number and unsent reports."""

    def __init__(self) -> None:
        self.attempt = 1
        self.pending: List[Report] = []

    def flush(self, will_retry: bool, error: Optional[BaseException]) -> None:
        pending, self.pending = self.pending, []
        for report in pending:
            report(will_retry, error)


_local = threading.local()


def _frames() -> List[_Frame]:
    frames: Optional[List[_Frame]] = getattr(_local, "frames", None)
    if frames is None:
        frames = _local.frames = []
    return frames


def current_attempt() -> int:
    """The 1-based attempt of the innermost :func:`call` running in this thread (else 1)."""
    frames = _frames()
    return frames[-1].attempt if frames else 1


def report_later(report: Report) -> None:
    """Send ``report`` once the innermost running :func:`call` has decided about a retry.

    Outside any :func:`call` nothing will retry: it is sent at once.
    """
    frames = _frames()
    if frames:
        frames[-1].pending.append(report)
    else:
        report(False, None)


class WaitPolicy(Protocol):
    """What the engine needs from a retry policy: how long to wait before a retry."""

    def wait(self, retry_number: int, retry_after: Optional[float]) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based) given the server's hint."""
        ...


class _Budget:
    """Counts attempts in a row without progress; read by tenacity's retry, wait and stop."""

    def __init__(self, budget: int, progress: Optional[Callable[[], int]], frame: _Frame) -> None:
        self.budget = budget
        self.frame = frame
        self.progress = progress
        self.mark = progress() if progress is not None else 0
        self.misses = 0  # failed attempts since the last progress
        self.last: Optional[Failure] = None

    def retry(self, state: tenacity.RetryCallState) -> bool:
        # tenacity calls this first, once per finished attempt: update the count here.
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if not isinstance(exc, AttemptFailed):
            self.frame.flush(False, exc)
            return False  # a result, or an error that is not ours to retry
        self.last = exc
        mark = self.progress() if self.progress is not None else 0
        if mark > self.mark:
            self.mark = mark
            self.misses = 0
        self.misses += 1
        self.frame.flush(exc.retryable and self.misses <= self.budget, exc.error)
        return exc.retryable

    def stop(self, state: tenacity.RetryCallState) -> bool:
        return self.misses > self.budget


def call(
    attempt: Callable[[], T],
    *,
    policy: WaitPolicy,
    sleep: Callable[[float], None],
    budget: int,
    progress: Optional[Callable[[], int]] = None,
    give_up: Optional[Callable[[Failure, int], TogetherError]] = None,
) -> T:
    """Run ``attempt`` until it returns, retrying :class:`Failure` as the budget allows.

    :param budget: retries in a row without progress before giving up.
    :param progress: a number that grows when the operation gets further (a download's
        furthest byte); ``None`` for operations that succeed or fail as a whole.
    :param give_up: builds the error to raise from the last retryable failure and the
        number of attempts without progress; by default the failure's own error.
    :raises TogetherError: the last failure's error (``attempts`` set), once not
        retryable or out of budget. Other exceptions pass through unretried.
    """
    import tenacity

    frame = _Frame()
    tracker = _Budget(budget, progress, frame)

    def wait(state: tenacity.RetryCallState) -> float:
        retry_after = tracker.last.retry_after if tracker.last is not None else None
        return policy.wait(tracker.misses, retry_after)

    retrying = tenacity.Retrying(
        stop=tracker.stop,
        retry=tracker.retry,
        wait=wait,
        sleep=sleep,
        before_sleep=_log_retry(budget),
        reraise=True,
    )
    attempts = 0
    frames = _frames()
    frames.append(frame)
    try:
        for try_ in retrying:
            with try_:
                attempts = frame.attempt = try_.retry_state.attempt_number
                result = attempt()
    except Failure as failed:
        error = failed.error
        if give_up is not None and failed.retryable:
            error = give_up(failed, tracker.misses)
        error.attempts = attempts
        raise error from failed.__cause__
    finally:
        frames.remove(frame)
        frame.flush(False, None)  # an attempt interrupted before tenacity saw its end
    # tenacity ends the loop only after an attempt returned (reraise=True raises otherwise).
    return result  # pyright: ignore[reportPossiblyUnboundVariable, reportReturnType]


def _log_retry(budget: int) -> Callable[[tenacity.RetryCallState], None]:
    import logging

    logger = logging.getLogger(_LOGGER_NAME)

    def log(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if not isinstance(exc, AttemptFailed):  # pragma: no cover - only a Failure is retried
            return
        reason = type(exc.error).__name__
        if isinstance(exc.error, APIStatusError):
            reason = f"HTTP {exc.error.status_code}"
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.info(
            "retrying %s in %.2f s after %s (attempt %d of %d)",
            exc.what,
            wait,
            reason,
            state.attempt_number,
            budget + 1,
        )

    return log
