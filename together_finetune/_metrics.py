"""A job's training metrics: the query filters, and the rows merged by step into a DataFrame.

The API sends metrics as flat rows (``{"train/loss": 0.5, "train/global_step": 7}``);
an evaluation may come as a row of its own for a step that also has a training row.
pandas is imported only by :func:`metrics_frame`, and only when it is called.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ._extras import require
from .converter import encode

#: The keys that carry a row's step, in order of preference.
STEP_KEYS = ("train/global_step", "eval/global_step", "global_step", "step")


def metric_params(
    global_step_from: Optional[int],
    global_step_to: Optional[int],
    logged_at_from: Optional[datetime],
    logged_at_to: Optional[datetime],
    resolution: Optional[int] = None,
) -> Dict[str, Any]:
    """The query parameters of ``GET /fine-tunes/{id}/metrics``; times are sent in UTC.

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
        if when is None:
            continue
        if not isinstance(when, datetime):
            raise ValueError(f"{name} must be a datetime, got {when!r}")
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(
                f"{name} must be timezone-aware (e.g. datetime.now(timezone.utc)), "
                f"got the naive {when!r}"
            )
        params[name] = encode(when.astimezone(timezone.utc))
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
