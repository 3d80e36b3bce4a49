"""The fine-tuning formats of a JSONL data set (general, instruction, conversational,
preference), checked line by line; and what every local check shares: the findings
and the stream of JSON lines.

Used by :func:`together_finetune.dataset.check_dataset` for ``purpose="fine-tune"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterator, List, Optional, Set, Tuple

from .models import DatasetProblem

__all__ = ["FORMATS", "Findings", "check_format_lines", "json_objects"]

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
# Warnings kept in a report; the rest are only counted, so a huge file stays cheap.
_WARNINGS_KEPT = 1000
# Distinct unknown top-level keys remembered (each is noted once per file).
_EXTRA_KEYS_KEPT = 100


class Findings:
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


# -- JSONL --------------------------------------------------------------------------------


def json_objects(path: Path, found: Findings) -> Iterator[Tuple[int, Optional[Dict[str, Any]]]]:
    """Each non-blank line of a JSONL file: ``(line number, object)``, or
    ``(line number, None)`` when the line is not UTF-8 or not one JSON object (the
    problem is then recorded in ``found``). A UTF-8 byte order mark is skipped."""
    problems = found.problems
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(
                    DatasetProblem(number, f"not UTF-8 (invalid byte at column {exc.start + 1})")
                )
                yield number, None
                continue
            try:
                example = json.loads(text)
            except ValueError as exc:
                problems.append(DatasetProblem(number, f"not valid JSON: {exc}"))
                yield number, None
                continue
            if not isinstance(example, dict):
                problems.append(
                    DatasetProblem(number, f"not a JSON object (got {json_type(example)})")
                )
                yield number, None
                continue
            yield number, example


def check_format_lines(path: Path, found: Findings) -> Tuple[Optional[str], int]:
    """Check every line of a fine-tuning JSONL file against the formats; return the
    file's format (``None`` if none was found) and its number of examples."""
    fmt: Optional[str] = None
    fmt_line = 0
    count = 0
    extra_seen: Set[str] = set()
    problems = found.problems
    for number, example in json_objects(path, found):
        count += 1
        if example is None:
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


def json_type(value: Any) -> str:
    """How a JSON value is named in a message (``"a string"``, ``"null"``, ...)."""
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
    example: Dict[str, Any], fmt: str, line: int, seen: Set[str], found: Findings
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
        notes.errors.append(f"{what} must be a string, got {json_type(value)}")
    elif not value.strip():
        notes.warnings.append(f"{what} is empty")


def _check_sample_weight(weight: Any, notes: _Notes) -> None:
    # What the server allows for a per-sample weight is not documented: never an error.
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        notes.warnings.append(f"the sample 'weight' should be a number, got {json_type(weight)}")
    elif weight not in (0, 1):
        notes.warnings.append(f"the sample 'weight' is {weight!r}; weights are usually 0 or 1")


def _check_tools(tools: Any, notes: _Notes) -> None:
    if not isinstance(tools, list):
        notes.errors.append(f"'tools' must be a list, got {json_type(tools)}")
        return
    for index, tool in enumerate(tools):
        where = f"'tools'[{index}]"
        if not isinstance(tool, dict):
            notes.errors.append(f"{where} must be an object, got {json_type(tool)}")
        elif "function" in tool:
            _check_function(tool["function"], f"{where}.function", notes, arguments=False)
        else:
            notes.warnings.append(f"{where} has no 'function'")


def _check_function(function: Any, where: str, notes: _Notes, *, arguments: bool) -> None:
    if not isinstance(function, dict):
        notes.errors.append(f"{where} must be an object, got {json_type(function)}")
        return
    if "name" not in function:
        notes.warnings.append(f"{where} has no 'name'")
    elif not isinstance(function["name"], str):
        notes.errors.append(f"{where}.name must be a string, got {json_type(function['name'])}")
    if arguments and "arguments" in function:
        value = function["arguments"]
        if isinstance(value, dict):
            notes.warnings.append(f"{where}.arguments is an object; usually it is a JSON string")
        elif not isinstance(value, str):
            notes.errors.append(f"{where}.arguments must be a JSON string, got {json_type(value)}")


def _check_tool_calls(calls: Any, where: str, notes: _Notes) -> int:
    """Check a message's ``tool_calls``; the number of calls (0 when broken)."""
    if not isinstance(calls, list):
        notes.errors.append(f"{where} 'tool_calls' must be a list, got {json_type(calls)}")
        return 0
    for index, call in enumerate(calls):
        at = f"{where}.tool_calls[{index}]"
        if not isinstance(call, dict):
            notes.errors.append(f"{at} must be an object, got {json_type(call)}")
            continue
        if "id" in call and not isinstance(call["id"], str):
            notes.errors.append(f"{at}.id must be a string, got {json_type(call['id'])}")
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
            f"{where} 'content' must be a string or a list, got {json_type(content)}"
        )


def _check_part(part: Any, where: str, notes: _Notes) -> None:
    if not isinstance(part, dict):
        notes.errors.append(f"{where} must be an object, got {json_type(part)}")
        return
    kind = part.get("type")
    if kind == "text":
        if not isinstance(part.get("text"), str):
            notes.errors.append(f"{where}.text must be a string, got {json_type(part.get('text'))}")
    elif kind == "image_url":
        image = part.get("image_url")
        if not isinstance(image, dict) or not isinstance(image.get("url"), str):
            notes.errors.append(f"{where}.image_url must be an object with a string 'url'")
    elif "type" not in part:
        notes.warnings.append(f"{where} has no 'type'")
    elif not isinstance(kind, str):
        notes.errors.append(f"{where}.type must be a string, got {json_type(kind)}")
    else:
        notes.warnings.append(f"{where} has type {kind!r}; known: 'text', 'image_url'")


def _check_messages(messages: Any, what: str, notes: _Notes) -> None:
    if not isinstance(messages, list):
        notes.errors.append(f"{what} must be a list, got {json_type(messages)}")
        return
    if not messages:
        notes.warnings.append(f"{what} is empty")
        return
    previous: Optional[str] = None
    open_calls = 0  # tool calls of the last assistant message not yet answered
    for index, message in enumerate(messages):
        where = f"{what}[{index}]"
        if not isinstance(message, dict):
            notes.errors.append(f"{where} must be an object, got {json_type(message)}")
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
            notes.errors.append(f"{where} 'role' must be a string, got {json_type(role)}")
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
            notes.errors.append(f"{where} {key!r} must be a string, got {json_type(message[key])}")
        elif role != "assistant":
            notes.warnings.append(f"{where} has {key!r} but is not an assistant message")
    for key in ("name", "tool_call_id"):
        if key in message and not isinstance(message[key], str):
            notes.errors.append(f"{where} {key!r} must be a string, got {json_type(message[key])}")
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
