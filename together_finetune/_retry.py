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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional, Protocol, TypeVar

from .errors import APIStatusError, AttemptFailed, TogetherError

if TYPE_CHECKING:  # tenacity loads with the first request, not at import
    import tenacity

__all__ = ["Failure", "WaitPolicy", "call"]

#: One attempt's classified failure (defined with every exception, in errors.py).
Failure = AttemptFailed

T = TypeVar("T")
#: Logs go to the client's logger (named here to keep this module below the transport).
_LOGGER_NAME = "together_finetune"


class WaitPolicy(Protocol):
    """What the engine needs from a retry policy: how long to wait before a retry."""

    def wait(self, retry_number: int, retry_after: Optional[float]) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based) given the server's hint."""
        ...


class _Budget:
    """Counts attempts in a row without progress; read by tenacity's retry, wait and stop."""

    def __init__(self, budget: int, progress: Optional[Callable[[], int]]) -> None:
        self.budget = budget
        self.progress = progress
        self.mark = progress() if progress is not None else 0
        self.misses = 0  # failed attempts since the last progress
        self.last: Optional[Failure] = None

    def retry(self, state: tenacity.RetryCallState) -> bool:
        # tenacity calls this first, once per finished attempt: update the count here.
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if not isinstance(exc, AttemptFailed):
            return False  # a result, or an error that is not ours to retry
        self.last = exc
        mark = self.progress() if self.progress is not None else 0
        if mark > self.mark:
            self.mark = mark
            self.misses = 0
        self.misses += 1
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

    tracker = _Budget(budget, progress)

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
    try:
        for try_ in retrying:
            with try_:
                attempts = try_.retry_state.attempt_number
                result = attempt()
    except Failure as failed:
        error = failed.error
        if give_up is not None and failed.retryable:
            error = give_up(failed, tracker.misses)
        error.attempts = attempts
        raise error from failed.__cause__
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
