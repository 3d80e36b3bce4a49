"""The local check by purpose: the fine-tuning formats for ``fine-tune`` only, the
official SDK's structural rules for evaluation, batch and other files, and Parquet
read with pyarrow (or a warning when it is missing)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.paths import PURPOSE_FILES

from together_finetune.dataset import PURPOSES, DatasetProblem, check_dataset

OTHER_PURPOSES = [purpose for purpose in PURPOSES if purpose != "fine-tune"]
EVAL_JSONL = PURPOSE_FILES / "eval_qa.jsonl"
EVAL_CSV = PURPOSE_FILES / "eval_qa.csv"
BATCH = PURPOSE_FILES / "batch_requests.jsonl"


def copy_with(tmp_path: Path, source: Path, extra: bytes, name: str = "") -> Path:
    target = tmp_path / (name or source.name)
    shutil.copyfile(source, target)
    with open(target, "ab") as f:
        f.write(extra)
    return target


# -- JSONL of the other purposes ----------------------------------------------------------------


def test_the_purposes_are_the_spec_s_and_the_sdk_s() -> None:
    assert set(PURPOSES) == {
        "fine-tune",
        "eval",
        "eval-sample",
        "eval-output",
        "eval-summary",
        "batch-generated",
        "batch-api",
        "calibration",
    }


def test_an_evaluation_file_is_refused_for_fine_tuning_only() -> None:
    tuning = check_dataset(EVAL_JSONL)
    assert not tuning.ok
    assert "unknown format" in tuning.problems[0].message

    report = check_dataset(EVAL_JSONL, purpose="eval")
    assert report.ok, report.summary()
    assert report.format == "jsonl"
    assert report.num_examples == 3  # the blank line is skipped
    assert report.warnings == ()


@pytest.mark.parametrize("purpose", OTHER_PURPOSES)
def test_every_other_purpose_takes_any_json_objects(purpose: str) -> None:
    report = check_dataset(EVAL_JSONL, purpose=purpose)
    assert report.ok, report.summary()
    assert report.num_examples == 3


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (b'["a list"]\n', DatasetProblem(5, "not a JSON object (got an array)")),
        (b"{not json\n", None),
        (b'{"question": "caf\xe9"}\n', DatasetProblem(5, "not UTF-8 (invalid byte at column 18)")),
    ],
)
@pytest.mark.parametrize("purpose", ["eval", "batch-api", "calibration", "eval-v2"])
def test_the_structure_of_other_purposes_is_still_checked(
    tmp_path: Path, extra: bytes, problem: DatasetProblem | None, purpose: str
) -> None:
    report = check_dataset(copy_with(tmp_path, EVAL_JSONL, extra), purpose=purpose)
    assert not report.ok
    (found,) = report.problems
    assert found.line == 5
    if problem is None:
        assert found.message.startswith("not valid JSON")
    else:
        assert found == problem


def test_a_file_of_blank_lines_is_a_problem_for_every_purpose(tmp_path: Path) -> None:
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes(b"\n  \n\n")
    report = check_dataset(blank, purpose="eval")
    assert report.problems == (DatasetProblem(None, "the file has no lines (only blank ones)"),)


def test_a_batch_file_passes_and_a_line_without_its_keys_is_a_warning(tmp_path: Path) -> None:
    report = check_dataset(BATCH, purpose="batch-api")
    assert report.ok
    assert report.warnings == ()
    assert report.num_examples == 3

    odd = copy_with(
        tmp_path,
        BATCH,
        b'{"custom_id": "request-4"}\n{"method": "POST"}\n',
    )
    report = check_dataset(odd, purpose="batch-api")
    assert report.ok, report.summary()  # warnings only: the server is the judge
    assert [(w.line, w.message.split(":")[0]) for w in report.warnings] == [
        (4, "no 'body'"),
        (5, "no 'custom_id' or 'body'"),
    ]
    # The batch keys are a batch-api rule, not an evaluation one.
    assert check_dataset(odd, purpose="eval").warnings == ()


def test_an_unknown_purpose_is_checked_for_structure_with_a_warning() -> None:
    report = check_dataset(EVAL_JSONL, purpose="eval-v2")
    assert report.ok
    (warning,) = report.warnings
    assert "'eval-v2' is not one this library knows" in warning.message
    assert "the API decides" in warning.message


@pytest.mark.parametrize("purpose", ["", "  ", None, 3])
def test_a_purpose_must_be_a_non_empty_string(purpose: object) -> None:
    with pytest.raises(ValueError, match="purpose must be a non-empty string"):
        check_dataset(EVAL_JSONL, purpose=purpose)  # type: ignore[arg-type]


# -- CSV ---------------------------------------------------------------------------------------


def test_an_evaluation_csv_file_passes() -> None:
    report = check_dataset(EVAL_CSV, purpose="eval")
    assert report.ok, report.summary()
    assert (report.format, report.num_examples, report.warnings) == ("csv", 3, ())


def test_a_csv_row_with_another_number_of_columns_is_a_problem(tmp_path: Path) -> None:
    ragged = copy_with(tmp_path, EVAL_CSV, b"What is 2 + 2?,4\n")
    assert check_dataset(ragged, purpose="eval").problems == (
        DatasetProblem(5, "2 columns where the header has 3"),
    )


def test_csv_for_fine_tuning_is_a_problem_and_for_batch_a_warning() -> None:
    assert not check_dataset(EVAL_CSV).ok
    batch = check_dataset(EVAL_CSV, purpose="batch-api")
    assert batch.ok
    (warning,) = batch.warnings
    assert "accepts CSV files only for evaluation" in warning.message
    assert check_dataset(EVAL_CSV, purpose="eval-summary").warnings == ()


# -- Parquet -------------------------------------------------------------------------------------


def write_parquet(path: Path, columns: dict[str, list[list[int]]]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


TOKENS = {
    "input_ids": [[1, 2, 3, 4], [5, 6, 7]],
    "attention_mask": [[1, 1, 1, 1], [1, 1, 1]],
    "labels": [[-100, 2, 3, 4], [-100, 6, 7]],
}


def test_a_tokenized_parquet_file_passes(tmp_path: Path) -> None:
    report = check_dataset(write_parquet(tmp_path / "tokens.parquet", TOKENS))
    assert report.ok, report.summary()
    assert (report.format, report.num_examples, report.warnings) == ("tokenized", 2, ())


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            {"labels": TOKENS["labels"]},
            "a Parquet data set needs an 'input_ids' column",
        ),
        (
            {**TOKENS, "text": [[0], [0]], "position_ids": [[0, 1, 2, 3], [0, 1, 2]]},
            "unexpected Parquet columns: text",
        ),
        ({"input_ids": []}, "the Parquet file has no rows"),
    ],
)
def test_a_parquet_file_that_is_not_a_tokenized_data_set(
    tmp_path: Path, columns: dict[str, list[list[int]]], message: str
) -> None:
    if columns == {"input_ids": []}:
        path = tmp_path / "empty.parquet"
        pq.write_table(pa.table({"input_ids": pa.array([], type=pa.list_(pa.int64()))}), path)
    else:
        path = write_parquet(tmp_path / "odd.parquet", columns)
    assert check_dataset(path).problems == (DatasetProblem(None, message),)


def test_parquet_for_another_purpose_is_not_held_to_the_token_columns(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "scores.parquet", {"score": [[1], [2]]})
    report = check_dataset(path, purpose="batch-generated")
    assert report.ok
    assert report.format == "parquet"
    assert report.warnings == ()
    assert not check_dataset(path).ok
    # The official SDK refuses Parquet for evaluation: a warning, the API decides.
    (warning,) = check_dataset(path, purpose="eval").warnings
    assert "does not accept Parquet files for evaluation" in warning.message


def test_without_pyarrow_a_parquet_file_is_passed_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_parquet(tmp_path / "odd.parquet", {"text": [[1]]})
    # As if pyarrow were not installed: importing it raises ImportError.
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    report = check_dataset(path)
    assert report.ok
    assert report.num_examples is None
    (warning,) = report.warnings
    assert "was not inspected" in warning.message
    assert "pip install 'together-finetune[parquet]'" in warning.message
    # The magic bytes are still read.
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    assert not check_dataset(broken).ok
