"""``check_dataset`` accepts every shape the server accepts (files in ``tests/data/datasets``),
refuses what certainly fails, and warns where it cannot be sure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.paths import DATASETS

from together_finetune.dataset import DatasetError, DatasetProblem, DatasetReport, check_dataset

DATA = DATASETS

USER = {"role": "user", "content": "hi"}
ANSWER = {"role": "assistant", "content": "hello"}


def write(tmp_path: Path, lines: list[Any], name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def chat(*messages: Any, **extra: Any) -> dict[str, Any]:
    return {"messages": list(messages), **extra}


def call(n: int) -> dict[str, Any]:
    return {"id": f"c{n}", "type": "function", "function": {"name": "f", "arguments": "{}"}}


# -- accepted shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "examples"),
    [
        ("tools.jsonl", "conversational", 2),
        ("parallel_tool_calls.jsonl", "conversational", 1),
        ("reasoning.jsonl", "conversational", 2),
        ("preference_reasoning.jsonl", "preference", 1),
        ("message_weights.jsonl", "conversational", 1),
        ("sample_weights.jsonl", "conversational", 2),
        ("multimodal.jsonl", "conversational", 2),
    ],
)
def test_accepted_shapes_raise_nothing(name: str, fmt: str, examples: int) -> None:
    report = check_dataset(DATA / name)
    assert report.ok, report.summary()
    assert report.warnings == ()
    assert (report.format, report.num_examples) == (fmt, examples)


def test_extra_keys_are_accepted_and_noted_once_per_key() -> None:
    report = check_dataset(DATA / "extra_keys.jsonl")
    assert report.ok
    assert report.warnings == (
        DatasetProblem(
            1, "field 'metadata' is not part of the conversational format (not checked)"
        ),
        DatasetProblem(2, "field 'id' is not part of the conversational format (not checked)"),
    )


def test_every_shape_file_is_tested() -> None:
    names = {path.name for path in DATA.glob("*.jsonl")}
    assert names == {
        "tools.jsonl",
        "parallel_tool_calls.jsonl",
        "reasoning.jsonl",
        "preference_reasoning.jsonl",
        "message_weights.jsonl",
        "sample_weights.jsonl",
        "multimodal.jsonl",
        "extra_keys.jsonl",
    }


# -- refusals: what certainly fails on the server ---------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"metadata": {}}, "unknown format (keys: 'metadata')"),
        ({}, "unknown format (keys: none)"),
        ({"text": "a", "messages": [USER]}, "the keys of several formats at once"),
        ({"messages": {"role": "user"}}, "'messages' must be a list, got an object"),
        (chat(USER, tools="f"), "'tools' must be a list, got a string"),
        (chat(USER, tools=["f"]), "'tools'[0] must be an object"),
        (chat(USER, tools=[{"function": []}]), "'tools'[0].function must be an object"),
        (chat(USER, tools=[{"function": {"name": 3}}]), "function.name must be a string"),
        (chat({"role": "assistant", "tool_calls": {}}), "'tool_calls' must be a list"),
        (chat({"role": "assistant", "tool_calls": [1]}), "tool_calls[0] must be an object"),
        (chat({"role": "assistant", "tool_calls": [{"id": 7}]}), "tool_calls[0].id must be"),
        (
            chat(
                {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 1}}]}
            ),
            "arguments must be a JSON string, got a number",
        ),
        (chat({"role": "tool", "tool_call_id": 1, "content": "x"}), "'tool_call_id' must be"),
        (chat({"role": "user", "name": [], "content": "x"}), "'name' must be a string"),
        (chat(USER, {"role": "assistant", "reasoning": 1, "content": "x"}), "'reasoning' must"),
        (chat({"role": "user", "content": [{"type": "text", "text": 1}]}), "text must be a"),
        (
            chat({"role": "user", "content": [{"type": "image_url", "image_url": "u"}]}),
            "image_url must be an object with a string 'url'",
        ),
        (chat({"role": "user", "content": [{"type": 2}]}), "type must be a string"),
        (chat({"role": "user", "content": 5}), "must be a string or a list, got a number"),
        (chat({"role": "assistant", "content": "x", "weight": 2}), "weight 2; expected 0 or 1"),
    ],
)
def test_certain_failures_are_errors(tmp_path: Path, line: Any, message: str) -> None:
    report = check_dataset(write(tmp_path, [chat(USER, ANSWER), line]))
    assert not report.ok
    assert [p.line for p in report.problems] == [2]
    assert message in report.problems[0].message, report.problems


def test_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'{"text": "\xff"}\n')
    assert check_dataset(path).problems == (
        DatasetProblem(1, "not UTF-8 (invalid byte at column 11)"),
    )


def test_mixed_formats_and_empty_file_are_errors(tmp_path: Path) -> None:
    report = check_dataset(
        write(tmp_path, [chat(USER, ANSWER), {"prompt": "p", "completion": "c"}])
    )
    assert report.problems == (
        DatasetProblem(
            2,
            "mixed formats: this example is instruction but the file is conversational "
            "(from line 1)",
        ),
    )
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert check_dataset(empty).problems == (DatasetProblem(None, "the file is empty"),)


@pytest.mark.parametrize(
    "output",
    [
        [],
        [ANSWER, ANSWER],
        [USER],
        ANSWER,
    ],
)
def test_a_preference_output_must_be_one_assistant_message(tmp_path: Path, output: Any) -> None:
    line = {"input": {"messages": [USER]}, "preferred_output": [ANSWER]}
    report = check_dataset(write(tmp_path, [{**line, "non_preferred_output": output}]))
    assert not report.ok
    assert "'non_preferred_output' must be" in report.problems[0].message


# -- warnings: what the server may or may not accept ------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (chat(USER, USER), "'messages'[1] has the same role as the message before it ('user')"),
        (chat(ANSWER, ANSWER), "same role as the message before it ('assistant')"),
        (chat(USER, {"role": "tool", "content": "x"}), "'tool' message that answers no tool call"),
        (
            chat(
                USER,
                {"role": "assistant", "content": None, "tool_calls": [call(1)]},
                {"role": "tool", "content": "a"},
                {"role": "tool", "content": "b"},
            ),
            "'messages'[3] is a 'tool' message that answers no tool call",
        ),
        (chat({"role": "user", "content": None}), "'messages'[0] has null 'content'"),
        (chat({"role": "user", "content": []}), "'messages'[0] has empty 'content'"),
        (chat({"role": "user", "content": "x", "tool_calls": [call(1)]}), "but role 'user'"),
        (chat({"role": "user", "content": "x", "reasoning": "r"}), "not an assistant message"),
        (chat({"role": "developer", "content": "x"}), "has role 'developer'"),
        (chat({"role": "user", "content": [{"type": "audio"}]}), "has type 'audio'"),
        (chat({"role": "user", "content": [{"text": "x"}]}), "content[0] has no 'type'"),
        (chat(USER, tools=[{"type": "function"}]), "'tools'[0] has no 'function'"),
        (chat(USER, tools=[{"function": {}}]), "'tools'[0].function has no 'name'"),
        (
            chat(
                {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]}
            ),
            "arguments is an object; usually it is a JSON string",
        ),
        (chat(USER, ANSWER, weight=0.5), "the sample 'weight' is 0.5"),
        (chat(USER, ANSWER, weight="1"), "the sample 'weight' should be a number, got a string"),
        ({"text": " "}, "'text' is empty"),
    ],
)
def test_uncertain_cases_are_warnings(tmp_path: Path, line: Any, message: str) -> None:
    fmt = "general" if "text" in line else "conversational"
    first = {"text": "a"} if fmt == "general" else chat(USER, ANSWER)
    report = check_dataset(write(tmp_path, [first, line]))
    assert report.ok, report.summary()
    assert [w.line for w in report.warnings] == [2], report.warnings
    assert message in report.warnings[0].message


def test_instruction_warnings(tmp_path: Path) -> None:
    report = check_dataset(write(tmp_path, [{"prompt": "p", "completion": "", "source": "x"}]))
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        "line 1: 'completion' is empty",
        "line 1: field 'source' is not part of the instruction format (not checked)",
    ]


def test_warnings_past_the_cap_are_counted_not_kept(tmp_path: Path) -> None:
    report = check_dataset(write(tmp_path, [{"text": ""}] * 1005))
    assert report.ok
    assert len(report.warnings) == 1000
    assert report.warnings_omitted == 5
    assert report.warning_count == 1005
    assert report.summary(limit=2).splitlines()[-1] == "  ... and 1003 more warnings"


def test_summary_with_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, [chat(USER, USER)])
    assert check_dataset(path).summary() == (
        f"{path}: conversational format, 1 examples, no problems, 1 warning\n"
        "  warning: line 1: 'messages'[1] has the same role as the message before it ('user')"
    )
    both = write(tmp_path, [chat(USER, USER), "x"], name="both.jsonl")
    report = check_dataset(both)
    assert report.summary().splitlines() == [
        f"{both}: 1 problem, 1 warning",
        "  - line 2: not a JSON object (got a string)",
        "  warning: line 1: 'messages'[1] has the same role as the message before it ('user')",
    ]
    assert "1 warning" in str(DatasetError(report))


def test_warnings_default_to_none() -> None:
    report = DatasetReport(path="p", format="general", num_examples=1)
    assert (report.warnings, report.warnings_omitted, report.ok) == ((), 0, True)


def test_unknown_keys_are_noted_for_the_first_hundred_names_only(tmp_path: Path) -> None:
    line = {"text": "a", **{f"k{n:03}": n for n in range(150)}}
    report = check_dataset(write(tmp_path, [line, {"text": "b", "z": 1}]))
    assert report.ok
    assert len(report.warnings) == 100
    assert report.warnings[-1].message.startswith("field 'k099'")
