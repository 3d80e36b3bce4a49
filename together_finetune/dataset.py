"""Local checks of a training file, run before anything is sent: :func:`check_dataset`."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import IO, Any, Dict, FrozenSet, Iterator, List, Optional, Tuple, Union

from .errors import DatasetError
from .models import DatasetProblem, DatasetReport

__all__ = [
    "FORMATS",
    "MAX_FILE_SIZE",
    "DatasetError",
    "DatasetProblem",
    "DatasetReport",
    "check_dataset",
]

#: The largest file the API accepts (50.1 GiB).
MAX_FILE_SIZE = int(50.1 * (1 << 30))

#: Format name -> (required keys, optional keys) of each JSONL example.
FORMATS: Dict[str, Tuple[FrozenSet[str], FrozenSet[str]]] = {
    "general": (frozenset({"text"}), frozenset()),
    "instruction": (frozenset({"prompt", "completion"}), frozenset()),
    "conversational": (frozenset({"messages"}), frozenset({"tools"})),
    "preference": (
        frozenset({"input", "preferred_output", "non_preferred_output"}),
        frozenset(),
    ),
}
_ROLES = ("system", "user", "assistant", "tool")
_PARQUET_COLUMNS = frozenset({"input_ids", "attention_mask", "labels", "position_ids"})
_EXTENSIONS = {".jsonl": "jsonl", ".parquet": "parquet", ".csv": "csv"}


def check_dataset(
    path: Union[str, os.PathLike[str]],
    *,
    purpose: str = "fine-tune",
    file_type: Optional[str] = None,
) -> DatasetReport:
    """Check a training file locally, without sending anything.

    ``file_type`` (``"jsonl"``, ``"parquet"`` or ``"csv"``) overrides the type the
    extension implies, as it does for :meth:`Files.upload <together_finetune.files.Files.upload>`.

    The file is streamed line by line, so memory stays flat whatever its size.
    Every problem is reported with its line number (counted from 1). The rules:

    * the file is a regular, non-empty file of at most 50.1 GiB, named
      ``.jsonl``, ``.parquet`` or ``.csv``;
    * CSV is refused for fine-tuning; for other purposes (evaluation) it needs a
      header and the same number of columns on every row;
    * Parquet starts and ends with ``PAR1``; with ``pyarrow`` installed it must
      have ``input_ids`` and only the columns ``input_ids``, ``attention_mask``,
      ``labels``, ``position_ids``, and at least one row;
    * JSONL is UTF-8; blank lines are skipped; every other line is one JSON
      object; there is at least one example;
    * one format per file, detected from the first example, each line having
      exactly that format's keys: general ``{"text": str}``; instruction
      ``{"prompt": str, "completion": str}``; conversational
      ``{"messages": [...]}`` (optionally ``tools``); preference
      ``{"input": {"messages": [...]}, "preferred_output": [...],
      "non_preferred_output": [...]}``; strings are non-empty;
    * ``messages`` is a non-empty list of objects, each with a ``role`` among
      ``system``, ``user``, ``assistant``, ``tool`` and a ``content``; no two
      consecutive messages share a role; an optional ``weight`` is 0 or 1;
    * each preference output is a list of exactly one ``assistant`` message.

    The server checks more (for example the token lengths of the chosen model)
    and fails the job later when those are broken.
    """
    target = Path(os.fspath(path))
    problems: List[DatasetProblem] = []
    name = str(target)

    def report(fmt: Optional[str], count: Optional[int]) -> DatasetReport:
        return DatasetReport(path=name, format=fmt, num_examples=count, problems=tuple(problems))

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
    if kind == "csv":
        if purpose == "fine-tune":
            problems.append(
                DatasetProblem(
                    None, "CSV files are not accepted for fine-tuning: use JSONL or Parquet"
                )
            )
            return report("csv", None)
        count = _check_csv(target, problems)
        return report("csv", count)
    if kind == "parquet":
        rows = _check_parquet(target, problems)
        return report("tokenized", rows)
    fmt, count = _check_jsonl(target, problems)
    return report(fmt, count)


# -- JSONL --------------------------------------------------------------------------------


def _check_jsonl(path: Path, problems: List[DatasetProblem]) -> Tuple[Optional[str], int]:
    fmt: Optional[str] = None
    fmt_line = 0
    count = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            count += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(
                    DatasetProblem(number, f"not UTF-8 (invalid byte at column {exc.start + 1})")
                )
                continue
            try:
                example = json.loads(text)
            except ValueError as exc:
                problems.append(DatasetProblem(number, f"not valid JSON: {exc}"))
                continue
            if not isinstance(example, dict):
                problems.append(
                    DatasetProblem(number, f"not a JSON object (got {_json_type(example)})")
                )
                continue
            line_format = _classify(example)
            if line_format is None:
                keys = ", ".join(sorted(example)) or "none"
                problems.append(
                    DatasetProblem(
                        number,
                        f"unknown format (keys: {keys}); expected one of: "
                        "text | prompt, completion | messages | "
                        "input, preferred_output, non_preferred_output",
                    )
                )
                continue
            if fmt is None:
                fmt, fmt_line = line_format, number
            elif line_format != fmt:
                problems.append(
                    DatasetProblem(
                        number,
                        f"mixed formats: this example is {line_format} but the file is {fmt} "
                        f"(from line {fmt_line})",
                    )
                )
                continue
            for message in _check_example(example, fmt):
                problems.append(DatasetProblem(number, message))
    if count == 0:
        problems.append(DatasetProblem(None, "the file has no examples (only blank lines)"))
    return fmt, count


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _classify(example: Dict[str, Any]) -> Optional[str]:
    """The format an example's keys point to (``None``: none or several)."""
    keys = set(example)
    found = [name for name, (required, _) in FORMATS.items() if keys & required]
    return found[0] if len(found) == 1 else None


def _check_example(example: Dict[str, Any], fmt: str) -> List[str]:
    required, optional = FORMATS[fmt]
    problems = [f"missing field {key!r}" for key in sorted(required - set(example))]
    problems += [
        f"unexpected field {key!r} for the {fmt} format"
        for key in sorted(set(example) - required - optional)
    ]
    if fmt in ("general", "instruction"):
        for key in sorted(required & set(example)):
            problems += _check_string(example[key], repr(key))
    elif fmt == "conversational":
        if "messages" in example:
            problems += _check_messages(example["messages"], "'messages'")
        if "tools" in example and not isinstance(example["tools"], list):
            problems.append("'tools' must be a list")
    else:
        problems += _check_preference(example)
    return problems


def _check_string(value: Any, what: str) -> List[str]:
    if not isinstance(value, str):
        return [f"{what} must be a string, got {_json_type(value)}"]
    if not value.strip():
        return [f"{what} is empty"]
    return []


def _check_messages(messages: Any, what: str) -> List[str]:
    if not isinstance(messages, list):
        return [f"{what} must be a list, got {_json_type(messages)}"]
    if not messages:
        return [f"{what} is empty"]
    problems: List[str] = []
    previous: Optional[str] = None
    for index, message in enumerate(messages):
        where = f"{what}[{index}]"
        if not isinstance(message, dict):
            problems.append(f"{where} must be an object, got {_json_type(message)}")
            previous = None
            continue
        role = message.get("role")
        if "role" not in message:
            problems.append(f"{where} has no 'role'")
        elif not isinstance(role, str) or role not in _ROLES:
            problems.append(f"{where} has role {role!r}; expected one of {', '.join(_ROLES)}")
        elif role == previous:
            problems.append(f"{where} has the same role as the message before it ({role!r})")
        previous = role if isinstance(role, str) else None
        if "content" not in message:
            if not message.get("tool_calls"):
                problems.append(f"{where} has no 'content'")
        else:
            content = message["content"]
            if isinstance(content, str):
                if not content.strip() and not message.get("tool_calls"):
                    problems.append(f"{where} has empty 'content'")
            elif isinstance(content, list):
                if not content:
                    problems.append(f"{where} has empty 'content'")
            elif not (content is None and message.get("tool_calls")):
                problems.append(
                    f"{where} 'content' must be a string or a list, got {_json_type(content)}"
                )
        if "weight" in message and (
            isinstance(message["weight"], bool) or message["weight"] not in (0, 1)
        ):
            problems.append(f"{where} has weight {message['weight']!r}; expected 0 or 1")
    return problems


def _check_preference(example: Dict[str, Any]) -> List[str]:
    problems: List[str] = []
    if "input" in example:
        value = example["input"]
        if not isinstance(value, dict) or "messages" not in value:
            problems.append("'input' must be an object with 'messages'")
        else:
            problems += _check_messages(value["messages"], "'input.messages'")
    for key in ("preferred_output", "non_preferred_output"):
        if key not in example:
            continue
        output = example[key]
        if not isinstance(output, list) or len(output) != 1:
            problems.append(f"{key!r} must be a list of exactly one assistant message")
            continue
        problems += _check_messages(output, repr(key))
        message = output[0]
        if isinstance(message, dict) and message.get("role") != "assistant":
            problems.append(
                f"{key!r} must be an assistant message, got role {message.get('role')!r}"
            )
    return problems


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


def _check_parquet(path: Path, problems: List[DatasetProblem]) -> Optional[int]:
    with open(path, "rb") as f:
        head = f.read(4)
        f.seek(max(0, path.stat().st_size - 4))
        tail = f.read(4)
    if path.stat().st_size < 8 or head != b"PAR1" or tail != b"PAR1":
        problems.append(DatasetProblem(None, "not a Parquet file (no PAR1 magic bytes)"))
        return None
    try:
        import pyarrow.parquet as pq  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    try:  # pragma: no cover - needs pyarrow
        metadata = pq.ParquetFile(path).metadata
    except Exception as exc:  # pragma: no cover - pyarrow's errors for a broken footer
        problems.append(DatasetProblem(None, f"unreadable Parquet file: {exc}"))
        return None
    names = set(metadata.schema.names)  # pragma: no cover
    if "input_ids" not in names:  # pragma: no cover
        problems.append(DatasetProblem(None, "a Parquet data set needs an 'input_ids' column"))
    extra = sorted(names - _PARQUET_COLUMNS)  # pragma: no cover
    if extra:  # pragma: no cover
        problems.append(DatasetProblem(None, f"unexpected Parquet columns: {', '.join(extra)}"))
    rows = int(metadata.num_rows)  # pragma: no cover
    if rows == 0:  # pragma: no cover
        problems.append(DatasetProblem(None, "the Parquet file has no rows"))
    return rows  # pragma: no cover
