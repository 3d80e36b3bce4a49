"""The ``on_response`` hook: one report per HTTP attempt, with the retry engine's verdict.

:class:`AttemptReporter` times each request the transport sends and builds its
:class:`~together_finetune.ResponseInfo`. An answer that succeeded (below 400) is
reported at once; a failure waits for the retry engine running the attempt to decide
whether it will retry (``_retry.report_later``). The hook runs in the requesting thread;
an exception it raises is logged once per client and changes nothing.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from ._redact import redact_url, redact_urls, redacted_copy
from ._retry import current_attempt, report_later
from .errors import TogetherError

if TYPE_CHECKING:
    import requests

    from .models.network import ResponseInfo

__all__ = ["AttemptReporter", "ResponseHook"]

#: ``Client(on_response=...)``: called with each HTTP attempt's :class:`ResponseInfo`.
ResponseHook = Callable[["ResponseInfo"], None]

logger = logging.getLogger("together_finetune")


class AttemptReporter:
    """Sends requests for the transport and reports each one to ``hook``."""

    def __init__(self, hook: ResponseHook) -> None:
        self.hook = hook
        self._warned = False

    def send(
        self,
        session: requests.Session,
        method: str,
        url: str,
        kwargs: Mapping[str, Any],
    ) -> requests.Response:
        """``session.request(method, url, **kwargs)``, reported."""
        import requests

        attempt = current_attempt()
        started = time.perf_counter()
        try:
            response = session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            elapsed = time.perf_counter() - started
            shown = _with_params(url, kwargs.get("params"))
            report_later(self._report(method, shown, None, elapsed, attempt, None, exc))
            raise
        elapsed = time.perf_counter() - started
        status = response.status_code
        request_id = response.headers.get("x-request-id")
        report = self._report(method, response.url or url, status, elapsed, attempt, request_id)
        if status >= 400:
            report_later(report)
        else:
            report(False, None)
        return response

    def _report(
        self,
        method: str,
        url: str,
        status: Optional[int],
        elapsed: float,
        attempt: int,
        request_id: Optional[str],
        own_error: Optional[BaseException] = None,
    ) -> Callable[[bool, Optional[BaseException]], None]:
        """The report of one attempt, to send with the retry engine's decision."""

        def report(will_retry: bool, error: Optional[BaseException]) -> None:
            from .models.network import ResponseInfo

            # The client's own error when the engine has one (its message is safe to
            # show), else requests' (redacted); nothing for an answer that succeeded.
            if not isinstance(error, TogetherError):
                error = redacted_copy(own_error) if own_error is not None else None
            if status is not None and status < 400:
                error = None
            info = ResponseInfo(
                method=method,
                url=redact_url(url),
                status_code=status,
                elapsed=elapsed,
                attempt=attempt,
                request_id=request_id,
                error=error,
                will_retry=will_retry,
            )
            self._call(info)

        return report

    def _call(self, info: ResponseInfo) -> None:
        try:
            self.hook(info)
        except Exception as exc:  # the hook never changes the outcome of a call
            if not self._warned:
                self._warned = True
                logger.warning(
                    "the on_response hook raised %s: %s (the call went on; later failures "
                    "of the hook are not logged)",
                    type(exc).__name__,
                    redact_urls(str(exc))[:300],
                )


def _with_params(url: str, params: Any) -> str:
    """``url`` with ``params`` in its query string, as requests would send it."""
    if not params:
        return url
    from urllib.parse import urlencode

    pairs = [(k, v) for k, v in dict(params).items() if v is not None]
    query = urlencode(pairs, doseq=True)
    return f"{url}{'&' if '?' in url else '?'}{query}" if query else url
