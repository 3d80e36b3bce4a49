"""A loss curve drawn with Unicode Braille dots, for ``metrics`` on a terminal.

Each character cell holds 2 x 4 dots, so a chart ``w`` cells wide and ``h`` high has
``2w x 4h`` points. The first series is drawn as a connected line of dots; later
series (the evaluation loss, logged at a few steps) as markers on top. The y axis is
labelled with the maximum and minimum, the x axis with the first and last step.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .._format import number

__all__ = ["loss_series", "render"]

Point = Tuple[float, float]
_BRAILLE = 0x2800
#: The bit of each dot in a Braille cell, by (column, row) within the cell.
_DOT = {(0, 0): 0x01, (0, 1): 0x02, (0, 2): 0x04, (0, 3): 0x40,
        (1, 0): 0x08, (1, 1): 0x10, (1, 2): 0x20, (1, 3): 0x80}  # fmt: skip
_MARKERS = "●◆▲■"
_STEP_KEYS = ("global_step", "step")


def _step_of(row: Mapping[str, object], prefix: str) -> Optional[float]:
    for key in (f"{prefix}global_step", f"{prefix}step", *_STEP_KEYS, "train/global_step"):
        value = row.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def loss_series(rows: Sequence[Mapping[str, object]]) -> Dict[str, List[Point]]:
    """``(step, loss)`` points of every ``*loss`` column, the training loss first.

    The step is the row's ``<prefix>global_step`` (``train/``, ``eval/``...), else its
    ``global_step`` or ``step``, else its position. NaN and infinite losses are skipped.
    """
    series: Dict[str, List[Point]] = {}
    for index, row in enumerate(rows):
        for key, value in row.items():
            if not key.split("/")[-1].endswith("loss"):
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if value != value or value in (float("inf"), float("-inf")):
                continue
            prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
            step = _step_of(row, prefix)
            series.setdefault(key, []).append((float(index) if step is None else step, value))
    ordered = sorted(series, key=lambda name: (not name.startswith("train"), name))
    return {name: series[name] for name in ordered}


def _scale(value: float, low: float, high: float, size: int) -> int:
    """``value`` in ``[low, high]`` as a dot index in ``[0, size)``."""
    if high <= low:
        return size // 2
    return min(size - 1, max(0, round((value - low) / (high - low) * (size - 1))))


def _line(grid: List[List[int]], a: Tuple[int, int], b: Tuple[int, int]) -> None:
    """Set the dots from ``a`` to ``b`` (both included), in ``(x, y)`` dot coordinates."""
    (x0, y0), (x1, y1) = a, b
    steps = max(abs(x1 - x0), abs(y1 - y0), 1)
    for i in range(steps + 1):
        x = x0 + round((x1 - x0) * i / steps)
        y = y0 + round((y1 - y0) * i / steps)
        grid[y // 4][x // 2] |= _DOT[(x % 2, y % 4)]


def render(series: Dict[str, List[Point]], width: int, height: int) -> List[str]:
    """The chart as lines of text, at most ``width`` columns and ``height + 3`` lines.

    ``height`` is the plot's height in lines; a legend line ends it.
    """
    points = [p for values in series.values() for p in values]
    if not points:
        return []
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    x_low, x_high, y_low, y_high = min(xs), max(xs), min(ys), max(ys)
    top, bottom = number(y_high), number(y_low)
    gutter = max(len(top), len(bottom)) + 1
    cells = max(10, width - gutter - 1)
    rows = max(2, height)
    dots_x, dots_y = cells * 2, rows * 4
    grid = [[0] * cells for _ in range(rows)]
    marks: Dict[Tuple[int, int], str] = {}

    def at(point: Point) -> Tuple[int, int]:
        x = _scale(point[0], x_low, x_high, dots_x)
        y = dots_y - 1 - _scale(point[1], y_low, y_high, dots_y)
        return x, y

    names = list(series)
    for order, name in enumerate(names):
        placed = [at(p) for p in sorted(series[name])]
        if order == 0:
            for a, b in zip(placed, placed[1:]):
                _line(grid, a, b)
            if len(placed) == 1:
                _line(grid, placed[0], placed[0])
        else:
            for x, y in placed:
                marks[(y // 4, x // 2)] = _MARKERS[(order - 1) % len(_MARKERS)]

    lines: list[str] = []
    for r in range(rows):
        label = top if r == 0 else (bottom if r == rows - 1 else "")
        body = "".join(marks.get((r, c), chr(_BRAILLE + grid[r][c])) for c in range(cells))
        lines.append(f"{label.rjust(gutter - 1)} ┤{body}" if label else f"{'':{gutter}}│{body}")
    lines.append(" " * gutter + "└" + "─" * cells)
    first, last = number(_whole(x_low)), number(_whole(x_high))
    axis = f"step {first}".ljust(cells - len(last)) + last
    lines.append(" " * (gutter + 1) + axis)
    legend = [f"⣀ {names[0]}"] + [
        f"{_MARKERS[(i - 1) % len(_MARKERS)]} {name}" for i, name in enumerate(names) if i
    ]
    lines.append(" " * (gutter + 1) + "   ".join(legend))
    return lines


def _whole(value: float) -> object:
    return int(value) if value.is_integer() else value
