"""``check_dataset``: the rules ``test_dataset.py`` leaves out (value types named in the
message, tools, empty content lists, incomplete preference examples, CSV edge cases, size)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from together_finetune.dataset import MAX_FILE_SIZE, DatasetProblem, check_dataset

USER = {"role": "user", "content": "hi"}


def write(tmp_path: Path, lines: list[Any], name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def only_problem(path: Path) -> DatasetProblem:
    (problem,) = check_dataset(path).problems
    return problem


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (None, "not a JSON object (got null)"),
        (True, "not a JSON object (got a boolean)"),
        ({"prompt": {"a": 1}, "completion": "c"}, "'prompt' must be a string, got an object"),
        ({"text": 3}, "'text' must be a string, got a number"),
        ({"messages": [{"role": "user", "content": True}]}, "got a boolean"),
        ({"messages": [{"role": "user", "content": {"text": "x"}}]}, "got an object"),
        ({"messages": [{"role": "user", "content": ["x"]}]}, "content[0] must be an object"),
        ({"messages": [USER], "tools": {"name": "f"}}, "'tools' must be a list"),
    ],
)
def test_value_problems_name_the_json_type(tmp_path: Path, line: Any, message: str) -> None:
    problem = only_problem(write(tmp_path, [line]))
    assert problem.line == 1
    assert message in problem.message


def test_content_as_a_list_of_parts_is_accepted(tmp_path: Path) -> None:
    parts = [{"type": "text", "text": "describe"}]
    example = {
        "messages": [{"role": "user", "content": parts}, {"role": "assistant", "content": "ok"}]
    }
    assert check_dataset(write(tmp_path, [example])).ok


def test_preference_example_missing_an_output_is_reported_once(tmp_path: Path) -> None:
    example = {
        "input": {"messages": [USER]},
        "preferred_output": [{"role": "assistant", "content": "hello"}],
    }
    report = check_dataset(write(tmp_path, [example]))
    assert report.format == "preference"
    assert [p.message for p in report.problems] == [
        "missing field 'non_preferred_output' of the preference format"
    ]


def test_summary_of_a_clean_file(tmp_path: Path) -> None:
    path = write(tmp_path, [{"text": "a"}, {"text": "b"}])
    assert check_dataset(path).summary() == f"{path}: general format, 2 examples, no problems"


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as f:  # sparse: no disk space used
        f.truncate(MAX_FILE_SIZE + 1)
    report = check_dataset(path)
    assert report.problems == (
        DatasetProblem(
            None, f"the file is {MAX_FILE_SIZE + 1} bytes; at most {MAX_FILE_SIZE} are accepted"
        ),
    )
    assert report.num_examples is None


# -- CSV (evaluation files) ------------------------------------------------------------------


def check_csv(tmp_path: Path, content: bytes) -> list[DatasetProblem]:
    path = tmp_path / "eval.csv"
    path.write_bytes(content)
    return list(check_dataset(path, purpose="eval").problems)


def test_csv_with_an_empty_header_row(tmp_path: Path) -> None:
    assert check_csv(tmp_path, b" , \n1,2\n") == [DatasetProblem(1, "the header row is empty")]


def test_csv_with_only_a_header(tmp_path: Path) -> None:
    assert check_csv(tmp_path, b"q,a\n") == [
        DatasetProblem(None, "the file has a header but no rows")
    ]


def test_csv_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    (problem,) = check_csv(tmp_path, b"q,a\n1,2\ncaf\xe9,3\n")
    assert problem == DatasetProblem(3, "not UTF-8")


def test_csv_field_over_the_csv_limit_is_invalid(tmp_path: Path) -> None:
    (problem,) = check_csv(tmp_path, b"q,a\n1," + b"x" * 200_000 + b"\n")
    assert problem.line == 2
    assert problem.message.startswith("not valid CSV: field larger than field limit")


def test_file_type_overrides_the_extension(tmp_path: Path) -> None:
    data = tmp_path / "train.txt"
    data.write_text(json.dumps({"text": "hello"}) + "\n")
    assert not check_dataset(data).ok  # .txt says nothing about the format
    report = check_dataset(data, file_type="jsonl")
    assert report.ok
    assert report.num_examples == 1
    with pytest.raises(ValueError, match="file_type"):
        check_dataset(data, file_type="txt")


@pytest.mark.parametrize("content", [b"", b"P", b"PAR1", b"PAR1PAR"])
def test_a_tiny_parquet_file_is_a_problem_not_a_crash(tmp_path: Path, content: bytes) -> None:
    data = tmp_path / "tiny.parquet"
    data.write_bytes(content)
    report = check_dataset(data)
    assert not report.ok
    assert report.problems
