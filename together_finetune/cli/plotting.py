"""``metrics JOB --plot FILE``: the loss curves written as a PNG or SVG figure (extra ``plot``)."""

from __future__ import annotations

import os
from typing import Dict, List

from .base import UsageError
from .output import Out

SUFFIXES = (".png", ".svg")


def check_target(path: str) -> None:
    """Refuse, before anything is sent, a file type that cannot be written or a missing extra."""
    if os.path.splitext(path)[1].lower() not in SUFFIXES:
        raise UsageError(f"--plot: the file must end in .png or .svg, got {path!r}")
    from .._extras import require

    try:
        require("matplotlib", extra="plot", feature="--plot")
    except ImportError as exc:
        raise UsageError(str(exc)) from exc


def write(job_id: str, rows: List[Dict[str, float]], path: str, out: Out) -> int:
    """Write the figure; exit status 1 (and no file) when the job has no metrics yet."""
    if not rows:
        out.note(f"no metrics for {job_id}: no plot written")
        return 1
    from .._plot import save_plot

    kind = save_plot(rows, path, title=f"{job_id} loss")
    if out.json_mode:
        out.json({"id": job_id, "plot": path, "format": kind, "rows": len(rows)})
    else:
        out.line(f"wrote the loss plot of {job_id} to {path}")
    return 0
