"""Loss curves with matplotlib, for notebooks (an ``Axes``) and the CLI (a PNG or SVG file).

matplotlib is imported only when a plot is drawn. A file is drawn on a bare
``Figure`` (no pyplot), so writing one changes no global matplotlib state.
"""

from __future__ import annotations

import os
from collections import abc
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

from ._extras import require
from ._metrics import by_step, loss_names, metric_names

if TYPE_CHECKING:  # pragma: no cover - matplotlib is an optional extra
    from matplotlib.axes import Axes

#: The file types ``save_plot`` writes, by suffix.
FORMATS = {".png": "png", ".svg": "svg"}


def check_plot_arguments(ax: Any, metrics: Any) -> None:
    """Raise ``ValueError`` for an ``ax`` or ``metrics`` no plot can use (before sending)."""
    if ax is not None and not callable(getattr(ax, "plot", None)):
        raise ValueError(f"ax must be a matplotlib Axes or None, got {ax!r}")
    if metrics is not None and (
        isinstance(metrics, (str, bytes))
        or not isinstance(metrics, abc.Sequence)
        or not all(isinstance(name, str) and name for name in metrics)
    ):
        raise ValueError(f"metrics must be a list of metric names or None, got {metrics!r}")


def draw(
    rows: Sequence[Mapping[str, float]],
    ax: Optional[Axes] = None,
    *,
    metrics: Optional[Sequence[str]] = None,
    title: Optional[str] = None,
) -> Axes:
    """Draw one line per metric against the step on ``ax`` (default: a new pyplot figure).

    :param metrics: the metrics to draw (default: every loss, training and evaluation).
    :raises ValueError: a metric named in ``metrics`` is not in the rows.
    """
    ticker = require("matplotlib.ticker", extra="plot", feature="plot_metrics")
    steps = by_step(rows)
    names = metric_names(steps)
    chosen = loss_names(names) if metrics is None else list(metrics)
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise ValueError(
            f"no metric named {', '.join(map(repr, unknown))}; "
            f"the job has {', '.join(map(repr, names)) or 'none'}"
        )
    if ax is None:
        pyplot = require("matplotlib.pyplot", extra="plot", feature="plot_metrics")
        ax = pyplot.subplots()[1]
    assert ax is not None  # for mypy: subplots() always makes one
    for name in chosen:
        points = [(step, values[name]) for step, values in steps.items() if name in values]
        # Evaluations are sparse: markers keep a curve of two points visible.
        marker = "o" if len(points) < len(steps) else None
        ax.plot([p[0] for p in points], [p[1] for p in points], label=name, marker=marker)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))  # no step 2.5
    ax.set_xlabel("step")
    ax.set_ylabel("loss" if metrics is None else "value")
    if title:
        ax.set_title(title)
    if chosen:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no loss logged yet", ha="center", va="center", transform=ax.transAxes)
    return ax


def save_plot(
    rows: Sequence[Mapping[str, float]],
    path: Union[str, os.PathLike[str]],
    *,
    title: Optional[str] = None,
) -> str:
    """Draw the loss curves into a PNG or SVG file (chosen by the suffix); returns the format.

    The file is written whole or not at all: to a temporary name beside it, then renamed.

    :raises ValueError: the suffix is neither ``.png`` nor ``.svg``.
    """
    target = os.fspath(path)
    kind = FORMATS.get(os.path.splitext(target)[1].lower())
    if kind is None:
        raise ValueError(f"the plot file must end in .png or .svg, got {target!r}")
    figure_module: Any = require("matplotlib.figure", extra="plot", feature="--plot")
    figure = figure_module.Figure(figsize=(7, 4), dpi=100, layout="tight")
    draw(rows, figure.add_subplot(), title=title)
    partial = target + ".part"
    try:
        figure.savefig(partial, format=kind)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return kind
