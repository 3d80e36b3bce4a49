"""Local checks of a data file, run before anything is sent: :func:`check_dataset`.

The check refuses only what certainly fails on the server; whatever the server may
accept is reported as a warning, so a valid file is never held back. The fine-tuning
formats apply to ``purpose="fine-tune"`` only; files of the other purposes get the
structural rules of the official SDK.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import IO, Iterator, List, Optional, Union

from ._dataset_formats import FORMATS, Findings, check_format_lines, json_objects
from .errors import DatasetError
from .models import DatasetProblem, DatasetReport

__all__ = [
    "FORMATS",
    "MAX_FILE_SIZE",
    "PURPOSES",
    "DatasetError",
    "DatasetProblem",
    "DatasetReport",
    "check_dataset",
]

#: The largest file the API accepts (50.1 GiB).
MAX_FILE_SIZE = int(50.1 * (1 << 30))

#: The file purposes the API documents (``calibration``: the official SDK's). Another
#: purpose is still checked (by the rules of :func:`check_dataset`) and sent as given:
#: the API decides whether it knows it.
PURPOSES = (
    "fine-tune",
    "eval",
    "eval-sample",
    "eval-output",
    "eval-summary",
    "batch-generated",
    "batch-api",
    "calibration",
)
#: The keys of each line of a ``batch-api`` file.
_BATCH_KEYS = ("custom_id", "body")
_PARQUET_COLUMNS = frozenset({"input_ids", "attention_mask", "labels", "position_ids"})
_EXTENSIONS = {".jsonl": "jsonl", ".parquet": "parquet", ".csv": "csv"}
_PYARROW_MISSING = (
    "the Parquet file was not inspected (its columns and rows are checked when pyarrow "
    "is installed: pip install 'together-finetune[parquet]')"
)


def check_dataset(
    path: Union[str, os.PathLike[str]],
    *,
    purpose: str = "fine-tune",
    file_type: Optional[str] = None,
) -> DatasetReport:
    """Check a data file locally, without sending anything.

    ``file_type`` (``"jsonl"``, ``"parquet"`` or ``"csv"``) overrides the type the
    extension implies, as it does for :meth:`Files.upload <together_finetune.files.Files.upload>`.

    The file is streamed line by line, so memory stays flat whatever its size.
    Everything found is reported with its line number (counted from 1), as an
    **error** in :attr:`~DatasetReport.problems` when the server certainly refuses
    it, or as a **warning** in :attr:`~DatasetReport.warnings` when it may not.
    :attr:`DatasetReport.ok` depends on errors only.

    Errors, whatever the purpose:

    * the file is not a regular, non-empty file of at most 50.1 GiB, named
      ``.jsonl``, ``.parquet`` or ``.csv``;
    * a JSONL line that is not UTF-8 or not one JSON object (blank lines are
      skipped), or a file with no line;
    * a CSV file without a header, or with a row whose number of columns differs
      from the header's (or no row);
    * Parquet that does not start and end with ``PAR1``.

    Files of the other purposes (:data:`PURPOSES`: ``eval``, ``batch-api``, ...,
    and any purpose this version does not know, which is sent as given) are checked
    for that structure only, as the official SDK does. A line of a ``batch-api``
    file without ``custom_id`` or ``body`` is a warning; so is a CSV file for a
    purpose other than evaluation (the official SDK takes CSV only for ``eval``), and
    a Parquet file for ``eval`` (which the official SDK refuses).

    For ``purpose="fine-tune"`` these are errors too:

    * a CSV file (fine-tuning takes JSONL or Parquet);
    * with ``pyarrow`` installed, a Parquet file without an ``input_ids`` column,
      with columns other than ``input_ids``, ``attention_mask``, ``labels``,
      ``position_ids``, or without rows. Without ``pyarrow`` the file is not
      inspected, and a warning says how to install it (extra ``parquet``);
    * a line without the keys of a format: general ``{"text": str}``;
      instruction ``{"prompt": str, "completion": str}``; conversational
      ``{"messages": [...]}`` (optionally ``tools``); preference
      ``{"input": {"messages": [...]}, "preferred_output": [...],
      "non_preferred_output": [...]}``; or with the keys of two formats at once;
    * a format other than the first line's (one format per file);
    * a known key of the wrong type: a string field that is not a string,
      ``messages``, ``tools`` or ``tool_calls`` that is not a list, a message,
      a content part or a tool call that is not an object, a ``role``,
      ``reasoning``, ``name`` or id that is not a string, ``content`` that is
      a number, a boolean or an object;
    * a message ``weight`` other than 0 or 1;
    * a preference output that is not a list of exactly one ``assistant`` message.

    Accepted: tools and ``tool_calls``, parallel tool calls (an assistant
    message with several ``tool_calls``, then one ``tool`` message each),
    ``reasoning`` (or ``reasoning_content``) on assistant messages, per-message
    and per-sample (top-level) ``weight``, ``content`` as a list of parts
    (``{"type": "text", "text": ...}``, ``{"type": "image_url", "image_url":
    {"url": ...}}``), and keys no format names (a ``metadata`` object, say).

    Warnings (the server may refuse these, or may not): empty strings and
    lists, a message with no ``role`` or ``content``, an unknown role or content
    part type, two consecutive messages of one role (other than the ``tool``
    answers to parallel tool calls), a ``tool`` message that answers no tool
    call, a per-sample weight that is not 0 or 1, and each key no format names
    (once per file).

    The server checks more (for example the token lengths of the chosen model)
    and fails the file or the job later when those are broken.

    :param purpose: what the file is for, as :meth:`Files.upload
        <together_finetune.files.Files.upload>` sends it.
    :raises ValueError: ``purpose`` is not a non-empty string, or ``file_type`` is
        not one of the three types.
    """
    if not isinstance(purpose, str) or not purpose.strip():
        raise ValueError(f"purpose must be a non-empty string, got {purpose!r}")
    target = Path(os.fspath(path))
    found = Findings()
    name = str(target)

    def report(fmt: Optional[str], count: Optional[int]) -> DatasetReport:
        return DatasetReport(
            path=name,
            format=fmt,
            num_examples=count,
            problems=tuple(found.problems),
            warnings=tuple(found.warnings),
            warnings_omitted=found.warnings_omitted,
        )

    problems = found.problems
    if not target.exists():
        problems.append(DatasetProblem(None, "the file does not exist"))
        return report(None, 0)
    if not target.is_file():
        problems.append(DatasetProblem(None, "not a regular file"))
        return report(None, 0)
    size = target.stat().st_size
    if size == 0:
        problems.append(DatasetProblem(None, "the file is empty"))
        return report(None, 0)
    if size > MAX_FILE_SIZE:
        problems.append(
            DatasetProblem(None, f"the file is {size} bytes; at most {MAX_FILE_SIZE} are accepted")
        )
        return report(None, None)
    if file_type is not None and file_type not in _EXTENSIONS.values():
        raise ValueError(f"file_type must be 'jsonl', 'parquet' or 'csv', got {file_type!r}")
    kind = file_type or _EXTENSIONS.get(target.suffix.lower())
    if kind is None:
        problems.append(
            DatasetProblem(
                None,
                f"unknown file type {target.suffix or '(no extension)'!r}: "
                "use .jsonl, .parquet or .csv",
            )
        )
        return report(None, None)
    fine_tune = purpose == "fine-tune"
    if purpose not in PURPOSES:
        found.warn(
            None,
            f"purpose {purpose!r} is not one this library knows ({', '.join(PURPOSES)}): "
            "only the file's structure was checked, and the API decides whether it accepts it",
        )
    if kind == "csv":
        if fine_tune:
            problems.append(
                DatasetProblem(
                    None, "CSV files are not accepted for fine-tuning: use JSONL or Parquet"
                )
            )
            return report("csv", None)
        if not purpose.startswith("eval") and purpose in PURPOSES:
            found.warn(
                None,
                f"the official SDK accepts CSV files only for evaluation; the API may refuse "
                f"a CSV file for {purpose!r}",
            )
        return report("csv", _check_csv(target, problems))
    if kind == "parquet":
        if not fine_tune:
            # The column rules are those of a tokenized fine-tuning data set.
            if purpose == "eval":
                found.warn(
                    None,
                    "the official SDK does not accept Parquet files for evaluation; "
                    "the API may refuse it (use JSONL or CSV)",
                )
            _parquet_magic(target, problems)
            return report("parquet", None)
        return report("tokenized", _check_parquet(target, found))
    if fine_tune:
        fmt, count = check_format_lines(target, found)
        return report(fmt, count)
    return report("jsonl", _check_json_lines(target, found, purpose))


def _check_json_lines(path: Path, found: Findings, purpose: str) -> int:
    """The official SDK's rules for a JSONL file that is not for fine-tuning; the lines."""
    count = 0
    for number, line in json_objects(path, found):
        count += 1
        if line is not None and purpose == "batch-api":
            missing = [key for key in _BATCH_KEYS if key not in line]
            if missing:
                found.warn(
                    number,
                    f"no {' or '.join(repr(key) for key in missing)}: a batch request line "
                    'is {"custom_id": ..., "body": {...}}',
                )
    if count == 0:
        found.problems.append(DatasetProblem(None, "the file has no lines (only blank ones)"))
    return count


# -- CSV and Parquet ------------------------------------------------------------------------


def _check_csv(path: Path, problems: List[DatasetProblem]) -> int:
    rows = 0
    columns: Optional[int] = None
    not_utf8: List[int] = []

    def decoded(raw: IO[bytes]) -> Iterator[str]:
        # Line by line, so a bad byte is reported on its own line.
        for number, line in enumerate(raw, 1):
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError:
                not_utf8.append(number)
                return

    with open(path, "rb") as raw:
        reader = csv.reader(decoded(raw))
        try:
            for row in reader:
                line = reader.line_num
                if columns is None:
                    if not any(cell.strip() for cell in row):
                        problems.append(DatasetProblem(line, "the header row is empty"))
                    columns = len(row)
                    continue
                rows += 1
                if len(row) != columns:
                    problems.append(
                        DatasetProblem(line, f"{len(row)} columns where the header has {columns}")
                    )
        except csv.Error as exc:
            problems.append(DatasetProblem(reader.line_num, f"not valid CSV: {exc}"))
    if not_utf8:
        problems.append(DatasetProblem(not_utf8[0], "not UTF-8"))
    if rows == 0 and not problems:
        problems.append(DatasetProblem(None, "the file has a header but no rows"))
    return rows


def _parquet_magic(path: Path, problems: List[DatasetProblem]) -> bool:
    """Whether the file starts and ends with ``PAR1``; a problem recorded when not."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4)
        f.seek(max(0, size - 4))
        tail = f.read(4)
    if size < 8 or head != b"PAR1" or tail != b"PAR1":
        problems.append(DatasetProblem(None, "not a Parquet file (no PAR1 magic bytes)"))
        return False
    return True


def _check_parquet(path: Path, found: Findings) -> Optional[int]:
    """A tokenized fine-tuning data set: its columns and rows, read from the footer."""
    problems = found.problems
    if not _parquet_magic(path, problems):
        return None
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        found.warn(None, _PYARROW_MISSING)
        return None
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's errors for a broken footer
        problems.append(DatasetProblem(None, f"unreadable Parquet file: {exc}"))
        return None
    # The top-level columns (the Parquet schema's own names are the leaves: a list
    # column of token IDs is named "element" there).
    names = set(parquet.schema_arrow.names)
    metadata = parquet.metadata
    if "input_ids" not in names:
        problems.append(DatasetProblem(None, "a Parquet data set needs an 'input_ids' column"))
    extra = sorted(names - _PARQUET_COLUMNS)
    if extra:
        problems.append(DatasetProblem(None, f"unexpected Parquet columns: {', '.join(extra)}"))
    rows = int(metadata.num_rows)
    if rows == 0:
        problems.append(DatasetProblem(None, "the Parquet file has no rows"))
    return rows
