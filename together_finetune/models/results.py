"""The library's own results: downloads and local dataset checks."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import attrs

from ._display import summarized


@summarized("id", "path", "size", "checkpoint")
@attrs.frozen
class DownloadResult:
    """Where a download landed.

    :ivar path: the complete file (or the directory it was extracted into).
    :ivar size: bytes of the downloaded file.
    :ivar sha256: hex digest of the downloaded file, computed while streaming.
    :ivar archive: the downloaded archive when it is still on disk (``None`` once an
        extracted archive was removed).
    """

    id: str
    checkpoint_step: Optional[int]
    path: Path
    size: int
    sha256: str = ""
    checkpoint: Optional[str] = None
    archive: Optional[Path] = None


@attrs.frozen
class DatasetProblem:
    """One problem (or warning) found in a data set.

    :param line: the line it is on, counted from 1 (``None``: the file as a whole).
    :param message: what is wrong.
    """

    line: Optional[int]
    message: str

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


@attrs.frozen
class DatasetReport:
    """What :func:`~together_finetune.dataset.check_dataset` found.

    :param path: the file checked.
    :param format: for fine-tuning ``"general"``, ``"instruction"``,
        ``"conversational"``, ``"preference"`` or ``"tokenized"`` (Parquet); for the
        other purposes ``"jsonl"`` or ``"parquet"``; ``"csv"``; or ``None`` when no
        format could be detected.
    :param num_examples: examples (non-blank lines; rows for CSV; ``None`` for
        Parquet, whose rows are not counted without ``pyarrow``).
    :param problems: every error (what the server certainly refuses), in file order.
    :param warnings: what may or may not be accepted by the server, in file order;
        at most the first 1000 are kept.
    :param warnings_omitted: warnings found beyond those kept in :attr:`warnings`.
    """

    path: str
    format: Optional[str]
    num_examples: Optional[int]
    problems: Tuple[DatasetProblem, ...] = ()
    warnings: Tuple[DatasetProblem, ...] = ()
    warnings_omitted: int = 0

    @property
    def ok(self) -> bool:
        """True when no error was found (warnings do not count)."""
        return not self.problems

    @property
    def warning_count(self) -> int:
        """Every warning found, kept or not."""
        return len(self.warnings) + self.warnings_omitted

    def summary(self, limit: int = 10) -> str:
        """A readable account of the report, listing at most ``limit`` problems and
        ``limit`` warnings."""
        warned = self.warning_count
        if self.ok:
            head = f"{self.path}: {self.format} format, {self.num_examples} examples, no problems"
            if warned:
                head += f", {_plural(warned, 'warning')}"
            lines = [head]
        else:
            count = len(self.problems)
            head = f"{self.path}: {_plural(count, 'problem')}"
            if warned:
                head += f", {_plural(warned, 'warning')}"
            lines = [head]
            lines += [f"  - {problem}" for problem in self.problems[:limit]]
            if count > limit:
                lines.append(f"  ... and {count - limit} more")
        lines += [f"  warning: {warning}" for warning in self.warnings[:limit]]
        if warned > limit:
            lines.append(f"  ... and {warned - limit} more warnings")
        return "\n".join(lines)
