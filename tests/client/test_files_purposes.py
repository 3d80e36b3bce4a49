"""Uploading evaluation, batch and Parquet files with ``client.files.upload`` and with
``together-finetune files check/upload --purpose``, against the fake over real sockets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.cli import cli_env, run, run_json
from support.paths import PURPOSE_FILES

from together_finetune import Client
from together_finetune.errors import BadRequestError, DatasetError
from together_finetune.testing import FakeTogether

EVAL_JSONL = PURPOSE_FILES / "eval_qa.jsonl"
EVAL_CSV = PURPOSE_FILES / "eval_qa.csv"
BATCH = PURPOSE_FILES / "batch_requests.jsonl"


def odd_batch(tmp_path: Path) -> Path:
    """The batch file with a last line that has no ``body``."""
    path = tmp_path / "batch.jsonl"
    shutil.copyfile(BATCH, path)
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"custom_id": "request-4"}\n')
    return path


def registered_purpose(server: FakeTogether) -> bytes:
    (post,) = server.requests_to("POST", "/files")
    body = post.body or b""
    start = body.index(b'name="purpose"')
    return body[start:].split(b"\r\n\r\n", 1)[1].split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    ("path", "purpose"),
    [(EVAL_JSONL, "eval"), (EVAL_CSV, "eval"), (BATCH, "batch-api"), (EVAL_JSONL, "eval-sample")],
)
def test_an_evaluation_or_batch_file_is_uploaded(
    client: Client, server: FakeTogether, path: Path, purpose: str
) -> None:
    uploaded = client.files.upload(path, purpose=purpose)
    assert uploaded.purpose == purpose
    assert server.files.contents[uploaded.id] == path.read_bytes()
    assert registered_purpose(server) == purpose.encode()


def test_a_batch_line_without_a_body_does_not_block_the_upload(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    path = odd_batch(tmp_path)
    uploaded = client.files.upload(path, purpose="batch-api")
    assert server.files.contents[uploaded.id] == path.read_bytes()


def test_an_evaluation_file_for_fine_tuning_is_refused_before_sending(
    client: Client, server: FakeTogether
) -> None:
    with pytest.raises(DatasetError, match="unknown format"):
        client.files.upload(EVAL_JSONL)
    assert server.requests == []


def test_an_unknown_purpose_is_sent_as_given_and_the_api_judges(
    client: Client, server: FakeTogether
) -> None:
    with pytest.raises(BadRequestError, match="unknown purpose 'eval-v2'"):
        client.files.upload(EVAL_JSONL, purpose="eval-v2")
    assert registered_purpose(server) == b"eval-v2"


def test_a_parquet_file_with_other_columns_is_refused_before_sending(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"input_ids": [[1, 2]], "text": ["hi"]}), path)
    with pytest.raises(DatasetError, match="unexpected Parquet columns: text"):
        client.files.upload(path)
    assert server.requests == []


# -- the command line ---------------------------------------------------------------------


@pytest.fixture
def env(server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return cli_env(server, monkeypatch)


def test_files_check_follows_the_purpose(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "files", "check", str(EVAL_JSONL), "--purpose", "eval")
    assert (code, out) == (0, f"{EVAL_JSONL}: jsonl format, 3 examples, ok\n")
    code, out, _ = run(capsys, "files", "check", str(EVAL_JSONL))
    assert code == 1
    assert "unknown format" in out

    batch = odd_batch(tmp_path)
    code, out, _ = run(capsys, "files", "check", str(batch), "--purpose", "batch-api")
    assert code == 0
    assert out.splitlines() == [
        f"{batch}: jsonl format, 4 examples, ok (1 warning)",
        'warning: line 4: no \'body\': a batch request line is {"custom_id": ..., "body": {...}}',
    ]


def test_files_check_reads_parquet_columns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "tokens.parquet"
    pq.write_table(pa.table({"labels": [[1, 2]]}), path)
    code, out, _ = run(capsys, "files", "check", str(path))
    assert (code, out) == (1, "a Parquet data set needs an 'input_ids' column\n")


def test_files_upload_follows_the_purpose(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    uploaded = run_json(capsys, "files", "upload", str(EVAL_CSV), "--purpose", "eval")
    assert uploaded["purpose"] == "eval"
    assert server.files.contents[uploaded["id"]] == EVAL_CSV.read_bytes()

    batch = odd_batch(tmp_path)
    code, _out, err = run(capsys, "--json", "files", "upload", str(batch), "--purpose", "batch-api")
    assert code == 0, err
    assert err.startswith("warning: line 4: no 'body'")

    code, _, err = run(capsys, "files", "upload", str(EVAL_JSONL))
    assert code == 2
    assert "failed the dataset check" in err
