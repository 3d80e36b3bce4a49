"""A job's training metrics: the query filters, and the rows merged by step into a DataFrame.

The API sends metrics as flat rows (``{"train/loss": 0.5, "train/global_step": 7}``);
an evaluation may come as a row of its own for a step that also has a training row.
pandas is imported only by :func:`metrics_frame`, and only when it is called.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ._extras import require
from .converter import encode

#: The keys that carry a row's step, in order of preference.
STEP_KEYS = ("train/global_step", "eval/global_step", "global_step", "step")

#: A time filter: a timezone-aware ``datetime``, or an ISO-8601 string with an offset.
LoggedAt = Union[datetime, str]

# An ISO-8601 (RFC 3339) date-time with its offset, as the API's ``date-time`` format has it.
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:?\d\d)")
_NAIVE_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d([Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?)?")


def _time_param(name: str, when: Any) -> str:
    """A time filter as sent: a datetime in UTC, a string as given once it is checked."""
    if isinstance(when, str):
        if _DATE_TIME.fullmatch(when.strip()):
            return when.strip()
        if _NAIVE_DATE_TIME.fullmatch(when.strip()):
            raise ValueError(
                f"{name} must be timezone-aware: add a timezone ('Z' for UTC, or an "
                f"offset such as '+02:00'), got {when!r}"
            )
        raise ValueError(
            f"{name} must be an ISO-8601 date-time with a timezone "
            f"(e.g. '2026-01-01T12:00:00Z'), got {when!r}"
        )
    if not isinstance(when, datetime):
        raise ValueError(
            f"{name} must be a timezone-aware datetime or an ISO-8601 string, got {when!r}"
        )
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware: add a timezone "
            f"(e.g. datetime(..., tzinfo=timezone.utc) or .astimezone()), got the naive {when!r}"
        )
    return str(encode(when.astimezone(timezone.utc)))


def metric_params(
    global_step_from: Optional[int],
    global_step_to: Optional[int],
    logged_at_from: Optional[LoggedAt],
    logged_at_to: Optional[LoggedAt],
    resolution: Optional[int] = None,
) -> Dict[str, Any]:
    """The query parameters of ``GET /fine-tunes/{id}/metrics``: datetimes are sent in
    UTC, ISO-8601 strings as given.

    :raises ValueError: a filter has the wrong type.
    """
    params: Dict[str, Any] = {}
    if resolution is not None:
        if not isinstance(resolution, int) or isinstance(resolution, bool) or resolution < 1:
            raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
        params["resolution"] = resolution
    for name, step in (("global_step_from", global_step_from), ("global_step_to", global_step_to)):
        if step is None:
            continue
        if not isinstance(step, int) or isinstance(step, bool):
            raise ValueError(f"{name} must be an integer, got {step!r}")
        params[name] = step
    for name, when in (("logged_at_from", logged_at_from), ("logged_at_to", logged_at_to)):
        if when is not None:
            params[name] = _time_param(name, when)
    return params


def by_step(rows: Sequence[Mapping[str, float]]) -> Dict[int, Dict[str, float]]:
    """The rows merged per step, in step order; the step keys themselves left out.

    A row without any of :data:`STEP_KEYS` has no place on a step axis and is skipped.
    """
    merged: Dict[int, Dict[str, float]] = {}
    for row in rows:
        step = next((row[key] for key in STEP_KEYS if row.get(key) is not None), None)
        if step is None or not math.isfinite(step):
            continue
        values = {key: value for key, value in row.items() if key not in STEP_KEYS}
        merged.setdefault(int(step), {}).update(values)
    return dict(sorted(merged.items()))


def metric_names(steps: Mapping[int, Mapping[str, float]]) -> List[str]:
    """Every metric that appears, in the order it first appears."""
    names: Dict[str, None] = {}
    for values in steps.values():
        names.update(dict.fromkeys(values))
    return list(names)


def loss_names(names: Sequence[str]) -> List[str]:
    """The metrics that are losses (``train/loss``, ``eval/loss``, ``eval_loss``, ...)."""
    return [name for name in names if name.rsplit("/", 1)[-1].rsplit("_", 1)[-1] == "loss"]


def metrics_frame(rows: Sequence[Mapping[str, float]]) -> Any:
    """The rows as a ``pandas.DataFrame``: index ``step`` (ints, ascending), a column per
    metric, ``NaN`` where a step lacks a metric."""
    pandas = require("pandas", extra="pandas", feature="metrics_frame")
    steps = by_step(rows)
    names = metric_names(steps)
    index = pandas.Index(list(steps), name="step", dtype="int64")
    data = [[values.get(name, math.nan) for name in names] for values in steps.values()]
    return pandas.DataFrame(data, index=index, columns=names, dtype="float64")
