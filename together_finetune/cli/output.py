"""How commands print: tables and key/value blocks for people, JSON for scripts, secrets masked."""

from __future__ import annotations

import json
import math
import sys
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from ..models import DownloadResult, FineTune

MASK = "***"
#: Request-body keys whose values are never printed.
SECRET_FIELDS = ("wandb_key", "wandb_api_key", "hf_api_token")


class Out:
    """Where a command writes: stdout for results, stderr for diagnostics.

    ``colour``: whether results may be coloured (a terminal, ``NO_COLOR`` unset, not JSON).
    """

    def __init__(self, json_mode: bool) -> None:
        from .terminal import colour_enabled

        self.json_mode = json_mode
        self.colour = not json_mode and colour_enabled(sys.stdout)

    @staticmethod
    def line(text: str = "") -> None:
        """Write one line of the result."""
        sys.stdout.write(text + "\n")

    @staticmethod
    def flush() -> None:
        """Push what was written so far (for output that follows a live job)."""
        sys.stdout.flush()

    def json(self, data: Any) -> None:
        """Write ``data`` as indented JSON."""
        # NaN and infinity are not JSON: jq and strict parsers reject them; print null.
        self.line(json.dumps(finite(data), indent=2, ensure_ascii=False, allow_nan=False))

    @staticmethod
    def note(text: str) -> None:
        """Write a diagnostic line to stderr."""
        sys.stderr.write(text + "\n")


def finite(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by ``None``."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: finite(value) for key, value in data.items()}
    if isinstance(data, list):
        return [finite(value) for value in data]
    return data


def plain(obj: Any) -> Any:
    """A model (or list of them) as JSON-ready data with wire keys; ``None`` fields dropped."""
    from ..converter import converter

    return _drop_none(converter.unstructure(obj))


def _drop_none(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_drop_none(v) for v in data]
    return data


def when(value: Any) -> str:
    """A datetime in local time to the second, with how long ago when recent; ``-`` if missing."""
    import datetime as dt

    from .._format import ago

    return ago(value, dt.datetime.now(dt.timezone.utc))


def text(value: Any) -> str:
    """A value for a table cell: ``-`` when missing, ``yes``/``no`` for booleans."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    from .fmt import visible_len

    all_rows = [list(headers)] + [list(row) for row in rows]
    widths = [max(visible_len(row[i]) for row in all_rows) for i in range(len(headers))]
    lines: list[str] = []
    for row in all_rows:
        # padded by visible width: colour codes take no room on the screen
        cells = [cell + " " * (widths[i] - visible_len(cell)) for i, cell in enumerate(row[:-1])]
        cells.append(row[-1])
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def block(pairs: Sequence[Tuple[str, str]]) -> str:
    """One ``KEY  value`` line per pair, the values aligned."""
    width = max(len(key) for key, _ in pairs)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in pairs)


def flatten(data: Dict[str, Any], prefix: str = "") -> List[Tuple[str, str]]:
    """Nested JSON data as ``(dotted.key, cell text)`` pairs for :func:`block`."""
    pairs: List[Tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            pairs.extend(flatten(value, name + "."))
        elif isinstance(value, list):
            pairs.append((name, ", ".join(text(v) for v in value) or "-"))
        else:
            pairs.append((name, text(value)))
    return pairs


def job_block(job: FineTune, colour: bool = False, more: Sequence[Tuple[str, str]] = ()) -> str:
    """One job as a key/value block (the status coloured when ``colour``), ending with
    the ``more`` pairs, all aligned together."""
    from .._format import job_progress
    from .fmt import status

    pairs = [
        ("ID", job.id),
        ("STATUS", status(job.status.value, colour)),
        ("MODEL", text(job.model)),
        ("OUTPUT MODEL", text(job.model_output_name)),
        ("PROGRESS", job_progress(job)),
        ("CREATED", when(job.created_at)),
        ("UPDATED", when(job.updated_at)),
    ]
    if job.training_file is not None:
        pairs.insert(4, ("TRAINING FILE", job.training_file))
    if job.wandb_url:
        pairs.append(("WANDB", job.wandb_url))
    pairs.extend(more)
    return block(pairs)


def show_job(job: FineTune, out: Out, more: Sequence[Tuple[str, str]] = ()) -> None:
    """Print one job: a block (ending with the ``more`` pairs), or its JSON."""
    if out.json_mode:
        out.json(plain(job))
    else:
        out.line(job_block(job, out.colour, more))


def scrub(message: str, secrets: Sequence[Optional[str]]) -> str:
    """``message`` with every occurrence of each secret replaced by the mask."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, MASK)
    return message


def masked(body: Any) -> Any:
    """The request body with its secret fields masked, every other value as it is sent."""
    if isinstance(body, dict):
        return {
            key: (MASK if key in SECRET_FIELDS and value is not None else masked(value))
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [masked(v) for v in body]
    return body


def wants_progress_bar(no_progress: bool, out: Out) -> bool:
    """A progress bar on stderr: asked for, a terminal, and tqdm installed."""
    if no_progress or out.json_mode or not sys.stderr.isatty():
        return False
    import importlib.util

    return importlib.util.find_spec("tqdm") is not None


def show_download(result: DownloadResult, out: Out) -> None:
    """Print a finished download: its JSON, or one line with the path, size and sha256."""
    from .._format import number

    if out.json_mode:
        out.json(
            {
                "id": result.id,
                "path": str(result.path),
                "size": result.size,
                "sha256": result.sha256,
                "checkpoint": result.checkpoint,
                "checkpoint_step": result.checkpoint_step,
                "archive": None if result.archive is None else str(result.archive),
            }
        )
    elif result.path.is_dir():
        kept = f"; archive kept at {result.archive}" if result.archive is not None else ""
        out.line(
            f"extracted to {result.path} ({number(result.size)} bytes downloaded, "
            f"sha256 {result.sha256}{kept})"
        )
    else:
        out.line(f"downloaded {result.path} ({number(result.size)} bytes, sha256 {result.sha256})")
