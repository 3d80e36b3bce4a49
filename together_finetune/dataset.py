"""Local checks of a training file, run before anything is sent: :func:`check_dataset`.

The check refuses only what certainly fails on the server; whatever the server may
accept is reported as a warning, so a valid file is never held back.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import IO, Any, Dict, FrozenSet, Iterator, List, Optional, Set, Tuple, Union

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

#: Format name -> (required keys, optional keys) of each JSONL example. Other keys
#: are allowed (the server ignores what it does not know) and noted as warnings.
FORMATS: Dict[str, Tuple[FrozenSet[str], FrozenSet[str]]] = {
    "general": (frozenset({"text"}), frozenset({"weight"})),
    "instruction": (frozenset({"prompt", "completion"}), frozenset({"weight"})),
    "conversational": (frozenset({"messages"}), frozenset({"tools", "weight"})),
    "preference": (
        frozenset({"input", "preferred_output", "non_preferred_output"}),
        frozenset({"weight"}),
    ),
}
_ROLES = ("system", "user", "assistant", "tool")
_PARQUET_COLUMNS = frozenset({"input_ids", "attention_mask", "labels", "position_ids"})
_EXTENSIONS = {".jsonl": "jsonl", ".parquet": "parquet", ".csv": "csv"}
# Warnings kept in a report; the rest are only counted, so a huge file stays cheap.
_WARNINGS_KEPT = 1000
# Distinct unknown top-level keys remembered (each is noted once per file).
_EXTRA_KEYS_KEPT = 100


class _Findings:
    """Errors and warnings as they are found; warnings past the cap are only counted."""

    def __init__(self) -> None:
        self.problems: List[DatasetProblem] = []
        self.warnings: List[DatasetProblem] = []
        self.warnings_omitted = 0

    def warn(self, line: Optional[int], message: str) -> None:
        if len(self.warnings) < _WARNINGS_KEPT:
            self.warnings.append(DatasetProblem(line, message))
        else:
            self.warnings_omitted += 1


class _Notes:
    """What one example's checks found, before line numbers are attached."""

    __slots__ = ("errors", "warnings")

    def __init__(self) -> None:
        self.errors: List[str] = []
        self.warnings: List[str] = []


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
    Everything found is reported with its line number (counted from 1), as an
    **error** in :attr:`~DatasetReport.problems` when the server certainly refuses
    it, or as a **warning** in :attr:`~DatasetReport.warnings` when it may not.
    :attr:`DatasetReport.ok` depends on errors only.

    Errors:

    * the file is not a regular, non-empty file of at most 50.1 GiB, named
      ``.jsonl``, ``.parquet`` or ``.csv``;
    * CSV for fine-tuning; for other purposes (evaluation) a CSV file needs a
      header and the same number of columns on every row;
    * Parquet that does not start and end with ``PAR1``; with ``pyarrow``
      installed, one without ``input_ids``, with columns other than
      ``input_ids``, ``attention_mask``, ``labels``, ``position_ids``, or no row;
    * a JSONL line that is not UTF-8 or not one JSON object (blank lines are
      skipped), or a file with no example;
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
    """
    target = Path(os.fspath(path))
    found = _Findings()
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
    fmt, count = _check_jsonl(target, found)
    return report(fmt, count)


# -- JSONL --------------------------------------------------------------------------------


def _check_jsonl(path: Path, found: _Findings) -> Tuple[Optional[str], int]:
    fmt: Optional[str] = None
    fmt_line = 0
    count = 0
    extra_seen: Set[str] = set()
    problems = found.problems
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
            line_format, trouble = _classify(example)
            if line_format is None:
                problems.append(DatasetProblem(number, trouble))
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
            notes = _Notes()
            if trouble:
                notes.errors.append(trouble)
            _check_example(example, fmt, notes)
            problems.extend(DatasetProblem(number, message) for message in notes.errors)
            for message in notes.warnings:
                found.warn(number, message)
            _note_extra_keys(example, fmt, number, extra_seen, found)
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


def _quoted(keys: Any) -> str:
    return ", ".join(repr(key) for key in sorted(keys))


def _classify(example: Dict[str, Any]) -> Tuple[Optional[str], str]:
    """The format an example's keys point to, and what is wrong with them.

    ``(None, error)``: no format can be read. ``(format, error)``: the line is of
    that format but misses some of its keys. ``(format, "")``: all is well.
    """
    keys = set(example)
    complete = [name for name, (required, _) in FORMATS.items() if required <= keys]
    if len(complete) > 1:
        # The server refuses a line it can read as two formats.
        return None, f"the keys of several formats at once ({', '.join(complete)})"
    if complete:
        return complete[0], ""
    partial = [name for name, (required, _) in FORMATS.items() if keys & required]
    if len(partial) == 1:
        required = FORMATS[partial[0]][0]
        missing = sorted(required - keys)
        noun = "field" if len(missing) == 1 else "fields"
        return partial[0], f"missing {noun} {_quoted(missing)} of the {partial[0]} format"
    listed = _quoted(keys) or "none"
    return None, (
        f"unknown format (keys: {listed}); expected one of: "
        "text | prompt, completion | messages | "
        "input, preferred_output, non_preferred_output"
    )


def _note_extra_keys(
    example: Dict[str, Any], fmt: str, line: int, seen: Set[str], found: _Findings
) -> None:
    required, optional = FORMATS[fmt]
    for key in sorted(set(example) - required - optional - seen):
        if len(seen) >= _EXTRA_KEYS_KEPT:
            return
        seen.add(key)
        found.warn(line, f"field {key!r} is not part of the {fmt} format (not checked)")


def _check_example(example: Dict[str, Any], fmt: str, notes: _Notes) -> None:
    if "weight" in example:
        _check_sample_weight(example["weight"], notes)
    if fmt in ("general", "instruction"):
        for key in sorted(FORMATS[fmt][0] & set(example)):
            _check_string(example[key], repr(key), notes)
    elif fmt == "conversational":
        if "messages" in example:
            _check_messages(example["messages"], "'messages'", notes)
        if "tools" in example:
            _check_tools(example["tools"], notes)
    else:
        _check_preference(example, notes)


def _check_string(value: Any, what: str, notes: _Notes) -> None:
    if not isinstance(value, str):
        notes.errors.append(f"{what} must be a string, got {_json_type(value)}")
    elif not value.strip():
        notes.warnings.append(f"{what} is empty")


def _check_sample_weight(weight: Any, notes: _Notes) -> None:
    # What the server allows for a per-sample weight is not documented: never an error.
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        notes.warnings.append(f"the sample 'weight' should be a number, got {_json_type(weight)}")
    elif weight not in (0, 1):
        notes.warnings.append(f"the sample 'weight' is {weight!r}; weights are usually 0 or 1")


def _check_tools(tools: Any, notes: _Notes) -> None:
    if not isinstance(tools, list):
        notes.errors.append(f"'tools' must be a list, got {_json_type(tools)}")
        return
    for index, tool in enumerate(tools):
        where = f"'tools'[{index}]"
        if not isinstance(tool, dict):
            notes.errors.append(f"{where} must be an object, got {_json_type(tool)}")
        elif "function" in tool:
            _check_function(tool["function"], f"{where}.function", notes, arguments=False)
        else:
            notes.warnings.append(f"{where} has no 'function'")


def _check_function(function: Any, where: str, notes: _Notes, *, arguments: bool) -> None:
    if not isinstance(function, dict):
        notes.errors.append(f"{where} must be an object, got {_json_type(function)}")
        return
    if "name" not in function:
        notes.warnings.append(f"{where} has no 'name'")
    elif not isinstance(function["name"], str):
        notes.errors.append(f"{where}.name must be a string, got {_json_type(function['name'])}")
    if arguments and "arguments" in function:
        value = function["arguments"]
        if isinstance(value, dict):
            notes.warnings.append(f"{where}.arguments is an object; usually it is a JSON string")
        elif not isinstance(value, str):
            notes.errors.append(f"{where}.arguments must be a JSON string, got {_json_type(value)}")


def _check_tool_calls(calls: Any, where: str, notes: _Notes) -> int:
    """Check a message's ``tool_calls``; the number of calls (0 when broken)."""
    if not isinstance(calls, list):
        notes.errors.append(f"{where} 'tool_calls' must be a list, got {_json_type(calls)}")
        return 0
    for index, call in enumerate(calls):
        at = f"{where}.tool_calls[{index}]"
        if not isinstance(call, dict):
            notes.errors.append(f"{at} must be an object, got {_json_type(call)}")
            continue
        if "id" in call and not isinstance(call["id"], str):
            notes.errors.append(f"{at}.id must be a string, got {_json_type(call['id'])}")
        if "function" in call:
            _check_function(call["function"], f"{at}.function", notes, arguments=True)
    return len(calls)


def _check_content(message: Dict[str, Any], where: str, calls: int, notes: _Notes) -> None:
    if "content" not in message or message["content"] is None:
        # An assistant message that only calls tools needs no content.
        if not calls:
            state = "no 'content'" if "content" not in message else "null 'content'"
            notes.warnings.append(f"{where} has {state}")
        return
    content = message["content"]
    if isinstance(content, str):
        if not content.strip() and not calls:
            notes.warnings.append(f"{where} has empty 'content'")
    elif isinstance(content, list):
        if not content:
            notes.warnings.append(f"{where} has empty 'content'")
        for index, part in enumerate(content):
            _check_part(part, f"{where}.content[{index}]", notes)
    else:
        notes.errors.append(
            f"{where} 'content' must be a string or a list, got {_json_type(content)}"
        )


def _check_part(part: Any, where: str, notes: _Notes) -> None:
    if not isinstance(part, dict):
        notes.errors.append(f"{where} must be an object, got {_json_type(part)}")
        return
    kind = part.get("type")
    if kind == "text":
        if not isinstance(part.get("text"), str):
            notes.errors.append(
                f"{where}.text must be a string, got {_json_type(part.get('text'))}"
            )
    elif kind == "image_url":
        image = part.get("image_url")
        if not isinstance(image, dict) or not isinstance(image.get("url"), str):
            notes.errors.append(f"{where}.image_url must be an object with a string 'url'")
    elif "type" not in part:
        notes.warnings.append(f"{where} has no 'type'")
    elif not isinstance(kind, str):
        notes.errors.append(f"{where}.type must be a string, got {_json_type(kind)}")
    else:
        notes.warnings.append(f"{where} has type {kind!r}; known: 'text', 'image_url'")


def _check_messages(messages: Any, what: str, notes: _Notes) -> None:
    if not isinstance(messages, list):
        notes.errors.append(f"{what} must be a list, got {_json_type(messages)}")
        return
    if not messages:
        notes.warnings.append(f"{what} is empty")
        return
    previous: Optional[str] = None
    open_calls = 0  # tool calls of the last assistant message not yet answered
    for index, message in enumerate(messages):
        where = f"{what}[{index}]"
        if not isinstance(message, dict):
            notes.errors.append(f"{where} must be an object, got {_json_type(message)}")
            previous, open_calls = None, 0
            continue
        role = message.get("role")
        calls = 0
        if "tool_calls" in message:
            calls = _check_tool_calls(message["tool_calls"], where, notes)
            if calls and role != "assistant":
                notes.warnings.append(f"{where} has 'tool_calls' but role {role!r}")
        if "role" not in message:
            notes.warnings.append(f"{where} has no 'role'")
        elif not isinstance(role, str):
            notes.errors.append(f"{where} 'role' must be a string, got {_json_type(role)}")
        elif role not in _ROLES:
            notes.warnings.append(f"{where} has role {role!r}; known: {', '.join(_ROLES)}")
        elif role == "tool":
            if open_calls:
                open_calls -= 1
            else:
                # Several tool messages in a row answer parallel tool calls; more is odd.
                notes.warnings.append(f"{where} is a 'tool' message that answers no tool call")
        elif role == previous:
            notes.warnings.append(f"{where} has the same role as the message before it ({role!r})")
        if role != "tool":
            open_calls = calls
        previous = role if isinstance(role, str) else None
        _check_content(message, where, calls, notes)
        _check_message_fields(message, where, role, notes)


def _check_message_fields(message: Dict[str, Any], where: str, role: Any, notes: _Notes) -> None:
    for key in ("reasoning", "reasoning_content"):
        if key not in message:
            continue
        if not isinstance(message[key], str):
            notes.errors.append(f"{where} {key!r} must be a string, got {_json_type(message[key])}")
        elif role != "assistant":
            notes.warnings.append(f"{where} has {key!r} but is not an assistant message")
    for key in ("name", "tool_call_id"):
        if key in message and not isinstance(message[key], str):
            notes.errors.append(f"{where} {key!r} must be a string, got {_json_type(message[key])}")
    if "weight" in message and (
        isinstance(message["weight"], bool) or message["weight"] not in (0, 1)
    ):
        notes.errors.append(f"{where} has weight {message['weight']!r}; expected 0 or 1")


def _check_preference(example: Dict[str, Any], notes: _Notes) -> None:
    if "input" in example:
        value = example["input"]
        if not isinstance(value, dict) or "messages" not in value:
            notes.errors.append("'input' must be an object with 'messages'")
        else:
            _check_messages(value["messages"], "'input.messages'", notes)
    for key in ("preferred_output", "non_preferred_output"):
        if key not in example:
            continue
        output = example[key]
        if not isinstance(output, list) or len(output) != 1:
            notes.errors.append(f"{key!r} must be a list of exactly one assistant message")
            continue
        _check_messages(output, repr(key), notes)
        message = output[0]
        if isinstance(message, dict) and message.get("role") != "assistant":
            notes.errors.append(
                f"{key!r} must be an assistant message, got role {message.get('role')!r}"
            )


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
