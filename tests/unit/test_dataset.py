"""``check_dataset``: every rule, each reported with its line number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.paths import REPO_ROOT

from together_finetune.dataset import DatasetError, DatasetProblem, check_dataset

ROOT = REPO_ROOT


def write(tmp_path: Path, lines: list[Any], name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
PREF = {
    "input": {"messages": [{"role": "user", "content": "hi"}]},
    "preferred_output": [{"role": "assistant", "content": "hello"}],
    "non_preferred_output": [{"role": "assistant", "content": "go away"}],
}


@pytest.mark.parametrize(
    ("example", "fmt"),
    [
        ({"text": "some text"}, "general"),
        ({"prompt": "p", "completion": "c"}, "instruction"),
        (CHAT, "conversational"),
        ({**CHAT, "tools": []}, "conversational"),
        (PREF, "preference"),
    ],
)
def test_valid_formats(tmp_path: Path, example: Any, fmt: str) -> None:
    report = check_dataset(write(tmp_path, [example, "", example]))
    assert report.ok, report.summary()
    assert (report.format, report.num_examples, report.problems) == (fmt, 2, ())


def test_the_example_dataset_is_valid() -> None:
    report = check_dataset(ROOT / "examples" / "data" / "sample.jsonl")
    assert report.ok
    assert report.format == "conversational"
    assert report.num_examples == 20


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('"text"', "not a JSON object"),
        ({"foo": "bar"}, "unknown format"),
        ({"text": "a", "prompt": "b", "completion": "c"}, "keys of several formats"),
        ({"prompt": "p"}, "missing field 'completion'"),
        ({"prompt": "p", "completion": 3}, "must be a string"),
        ({"text": "t"}, "mixed formats"),
        ({"text": "t", "prompt": "p"}, "mixed formats"),
    ],
)
def test_instruction_file_problems(tmp_path: Path, bad_line: Any, message: str) -> None:
    good = {"prompt": "p", "completion": "c"}
    report = check_dataset(write(tmp_path, [good, "", bad_line, good]))
    assert not report.ok
    assert report.format == "instruction"
    (problem,) = report.problems
    assert problem.line == 3  # the blank line counts
    assert message in problem.message
    assert report.num_examples == 3


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ("hi", "must be a list"),
        (["hi"], "must be an object"),
        ([{"role": 1, "content": "x"}], "'role' must be a string"),
        ([{"role": "user", "content": "a", "weight": 2}], "weight 2"),
        ([{"role": "user", "content": "a", "weight": True}], "weight True"),
        ([{"role": "user", "content": "a", "weight": 0.5}], "weight 0.5"),
    ],
)
def test_message_errors(tmp_path: Path, messages: Any, message: str) -> None:
    report = check_dataset(write(tmp_path, [CHAT, {"messages": messages}]))
    (problem,) = report.problems
    assert problem.line == 2
    assert message in problem.message


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "is empty"),
        ([{"content": "x"}], "has no 'role'"),
        ([{"role": "robot", "content": "x"}], "has role 'robot'"),
        ([{"role": "user"}], "has no 'content'"),
        ([{"role": "user", "content": ""}], "empty 'content'"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "same role"),
    ],
)
def test_message_warnings(tmp_path: Path, messages: Any, message: str) -> None:
    report = check_dataset(write(tmp_path, [CHAT, {"messages": messages}]))
    assert report.ok, report.summary()
    (warning,) = report.warnings
    assert warning.line == 2
    assert message in warning.message


def test_weight_zero_and_tool_calls_are_fine(tmp_path: Path) -> None:
    example = {
        "messages": [
            {"role": "user", "content": "weather?", "weight": 0},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
            {"role": "tool", "content": "sunny"},
            {"role": "assistant", "content": "It is sunny.", "weight": 1},
        ]
    }
    assert check_dataset(write(tmp_path, [example])).ok


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"preferred_output": []}, "exactly one assistant message"),
        ({"non_preferred_output": [{"role": "user", "content": "x"}]}, "assistant message"),
        ({"input": {"text": "x"}}, "'input' must be an object with 'messages'"),
        ({"input": {"messages": "hi"}}, "must be a list"),
        ({"preferred_output": {"role": "assistant", "content": "x"}}, "exactly one"),
    ],
)
def test_preference_rules(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    report = check_dataset(write(tmp_path, [PREF, {**PREF, **change}]))
    assert [p.line for p in report.problems] == [2]
    assert message in report.problems[0].message


def test_every_problem_is_reported(tmp_path: Path) -> None:
    report = check_dataset(write(tmp_path, [{"text": "a"}, "x", {"text": 1}, "[]", {"text": "b"}]))
    assert [p.line for p in report.problems] == [2, 3, 4]
    assert report.num_examples == 5


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    (problem,) = check_dataset(path).problems
    assert problem == DatasetProblem(2, problem.message)
    assert "not UTF-8" in problem.message


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "ok"}\n')
    assert check_dataset(path).ok


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", b"", "empty"),
        ("blank.jsonl", b"\n  \n", "no examples"),
        ("data.txt", b'{"text": "a"}\n', "unknown file type"),
        ("train.csv", b"a,b\n1,2\n", "CSV files are not accepted for fine-tuning"),
        ("bad.parquet", b"not parquet", "PAR1"),
    ],
)
def test_file_level_problems(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    report = check_dataset(path)
    (problem,) = report.problems
    assert problem.line is None
    assert message in problem.message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "does not exist" in check_dataset(tmp_path / "nope.jsonl").problems[0].message
    assert "not a regular file" in check_dataset(tmp_path).problems[0].message


def test_csv_for_evaluation(tmp_path: Path) -> None:
    good = tmp_path / "eval.csv"
    good.write_text("q,a\n1,2\n3,4\n")
    report = check_dataset(good, purpose="eval")
    assert report.ok
    assert report.format == "csv"
    assert report.num_examples == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("q,a\n1,2\n3\n")
    assert [p.line for p in check_dataset(bad, purpose="eval").problems] == [3]


def test_dataset_error_is_a_value_error(tmp_path: Path) -> None:
    report = check_dataset(write(tmp_path, ["nope"]))
    error = DatasetError(report)
    assert isinstance(error, ValueError)
    assert error.report is report
    assert "line 1: not valid JSON" in str(error)


def test_summary_lists_at_most_ten(tmp_path: Path) -> None:
    report = check_dataset(write(tmp_path, ["x"] * 15))
    assert "and 5 more" in report.summary()
