"""A job's training metrics: the rows, a pandas frame of them, and a plot.

Part of ``client.fine_tunes`` (:class:`~together_finetune.fine_tunes.FineTunes`
inherits these methods); kept apart so each module stays one subject.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ._extras import require
from ._metrics import LoggedAt, metric_params, metrics_frame
from ._plot import check_plot_arguments, draw
from ._resource import Resource, job_path
from .converter import decode
from .errors import APIResponseValidationError
from .transport import Timeout

if TYPE_CHECKING:  # pragma: no cover - matplotlib is an optional extra
    from matplotlib.axes import Axes

__all__ = ["JobMetrics"]

_METRIC_FILTERS = ("global_step_from", "global_step_to", "logged_at_from", "logged_at_to")


class JobMetrics(Resource):
    """The metrics endpoints of ``client.fine_tunes``."""

    def list_metrics(
        self,
        id: str,
        *,
        global_step_from: Optional[int] = None,
        global_step_to: Optional[int] = None,
        logged_at_from: Optional[LoggedAt] = None,
        logged_at_to: Optional[LoggedAt] = None,
        resolution: Optional[int] = None,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> List[Dict[str, float]]:
        """Training metrics, chronological (``GET /fine-tunes/{id}/metrics``).

        Each row is a flat mapping such as ``{"train/loss": 0.5, "train/global_step": 7}``.
        The filters are inclusive and sent as query parameters. The times are
        timezone-aware datetimes (sent in UTC, ``2026-01-01T12:00:00Z``) or ISO-8601
        strings with a timezone (sent as given). An answer without ``metrics`` (or with
        ``null``) is an empty list.

        :param resolution: return about this many uniformly sampled training points
            (a positive integer) instead of every one.
        :raises ValueError: a filter has the wrong type, or a time has no timezone
            (nothing was sent).
        """
        extras = self._extras(extra_headers, extra_query)
        path = job_path(id, "/metrics")
        params = metric_params(
            global_step_from, global_step_to, logged_at_from, logged_at_to, resolution
        )
        body = self._sender(extras).request_json(
            "GET", path, params=params or None, timeout=timeout
        )
        if not isinstance(body, dict):
            raise APIResponseValidationError(
                f"GET {path}: expected an object with 'metrics', got {str(body)[:100]}",
                body=body,
            )
        return decode(body.get("metrics") or [], List[Dict[str, float]])

    def metrics_frame(
        self,
        id: str,
        *,
        global_step_from: Optional[int] = None,
        global_step_to: Optional[int] = None,
        logged_at_from: Optional[LoggedAt] = None,
        logged_at_to: Optional[LoggedAt] = None,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> Any:
        """The job's metrics as a ``pandas.DataFrame`` indexed by step (extra ``pandas``).

        One column per metric (``train/loss``, ``eval/loss``, ...), ``NaN`` where a step
        has no value; rows of one step are merged. Filters as in :meth:`list_metrics`.

        :raises ImportError: pandas is not installed (checked before anything is sent).
        """
        require("pandas", extra="pandas", feature="metrics_frame")
        filters = (global_step_from, global_step_to, logged_at_from, logged_at_to)
        extras = (extra_headers, extra_query)
        return metrics_frame(self._metric_rows(id, filters, timeout, extras))

    def plot_metrics(
        self,
        id: str,
        ax: Optional[Axes] = None,
        *,
        metrics: Optional[Sequence[str]] = None,
        global_step_from: Optional[int] = None,
        global_step_to: Optional[int] = None,
        logged_at_from: Optional[LoggedAt] = None,
        logged_at_to: Optional[LoggedAt] = None,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> Axes:
        """Draw the job's loss curves (training and evaluation) with matplotlib (extra ``plot``).

        :param ax: the matplotlib ``Axes`` to draw on (default: a new figure's).
        :param metrics: the metrics to draw instead of the losses.
        :returns: the axes drawn on.
        :raises ImportError: matplotlib is not installed (checked before anything is sent).
        """
        require("matplotlib", extra="plot", feature="plot_metrics")
        check_plot_arguments(ax, metrics)
        filters = (global_step_from, global_step_to, logged_at_from, logged_at_to)
        rows = self._metric_rows(id, filters, timeout, (extra_headers, extra_query))
        return draw(rows, ax, metrics=metrics, title=f"{id} loss" if metrics is None else id)

    def _metric_rows(
        self,
        id: str,
        filters: Tuple[Any, ...],
        timeout: Optional[Timeout],
        extras: Tuple[Any, Any],
    ) -> List[Dict[str, float]]:
        return self.list_metrics(
            id,
            **dict(zip(_METRIC_FILTERS, filters)),
            timeout=timeout,
            extra_headers=extras[0],
            extra_query=extras[1],
        )
