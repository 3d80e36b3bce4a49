"""``create`` from a local file, the price and the questions: through a real pseudo-terminal.

The installed console script runs on a pty (so it sees a terminal and asks) or on
pipes (so it does not); each read is bounded in time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import cli_env, run
from support.terminal import PtyRun, plain_text, run_script

from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Llama-3.2-3B-Instruct"
ESTIMATE = "/fine-tunes/estimate-price"


@pytest.fixture
def env(server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return cli_env(server, monkeypatch)


@pytest.fixture
def train(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(3)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def creates(server: FakeTogether) -> list[Any]:
    return [r.json() for r in server.requests_to("POST", "/fine-tunes")]


def uploads(server: FakeTogether) -> int:
    return len(server.requests_to("POST", "/files"))


# ---------------------------------------------------------------- create from a local path


def test_a_local_training_file_is_uploaded_then_used_without_a_terminal(
    server: FakeTogether, env: dict[str, str], train: Path
) -> None:
    result = run_script(env, "--json", "create", "--training-file", str(train), "--model", MODEL)
    assert result.returncode == 0, result.stderr
    (body,) = creates(server)
    assert body["training_file"].startswith("file-")
    assert f"{train}: using {body['training_file']}" in result.stderr
    assert server.requests_to("POST", ESTIMATE) == []  # no terminal: no estimate, no question
    # the same file again: the stored one is reused, the job gets the same ID
    result = run_script(env, "create", "--training-file", str(train), "--model", MODEL, "-y")
    assert result.returncode == 0, result.stderr
    assert creates(server)[1]["training_file"] == body["training_file"]
    assert uploads(server) == 2  # asked twice; the second answered with the stored file


def test_a_file_id_still_works_and_a_missing_path_is_refused(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "create", "--training-file", "file-abc", "--model", MODEL)
    assert code == 0, err
    assert creates(server)[0]["training_file"] == "file-abc"
    code, _, err = run(
        capsys, "create", "--training-file", str(tmp_path / "nope.jsonl"), "--model", MODEL
    )
    assert code == 2
    assert "--training-file" in err
    assert "no such file" in err
    code, _, err = run(capsys, "create", "--training-file", str(tmp_path), "--model", MODEL)
    assert code == 2
    assert "not a file" in err
    assert len(creates(server)) == 1


def test_a_bad_local_file_or_bad_flags_send_nothing(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    train: Path,
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    code, _, err = run(capsys, "create", "--training-file", str(bad), "--model", MODEL)
    assert code == 2
    assert "failed the dataset check" in err
    code, _, err = run(
        capsys, "create", "--training-file", str(train), "--model", MODEL, "--n-epochs", "0"
    )
    assert code == 2
    assert "n_epochs" in err
    assert uploads(server) == 0
    assert creates(server) == []


def test_dry_run_with_paths_says_what_would_be_uploaded(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], train: Path
) -> None:
    valid = train.with_name("valid.jsonl")
    valid.write_bytes(train.read_bytes())
    code, out, err = run(
        capsys,
        "create",
        "--training-file",
        str(train),
        "--validation-file",
        str(valid),
        "--model",
        MODEL,
        "--dry-run",
    )
    assert code == 0, err
    body = json.loads(out)
    assert body["training_file"] == f"<file ID of {train}, once uploaded>"
    assert body["validation_file"] == f"<file ID of {valid}, once uploaded>"
    size = train.stat().st_size
    assert f"dry run: would upload {train} ({size} bytes) and use its ID as training_file" in err
    assert "as validation_file" in err
    assert server.requests == []


# ---------------------------------------------------------------- the price and the question


def test_on_a_terminal_create_shows_the_price_and_asks(
    server: FakeTogether, env: dict[str, str], train: Path
) -> None:
    argv = ("create", "--training-file", str(train), "--model", MODEL)
    term = PtyRun(env, *argv)
    term.expect("start this fine-tuning job? [y/N] ")
    term.send("n")
    assert term.finish() == 1
    shown = plain_text(term.output)
    assert "ESTIMATED PRICE  $1.00" in shown
    assert "TRAIN TOKENS     250,000" in shown
    assert "not started: nothing was created" in shown
    assert creates(server) == []
    assert uploads(server) == 1  # the upload came first: the estimate needs its ID

    term = PtyRun(env, *argv)
    term.expect("[y/N] ")
    term.send("yes")
    assert term.finish() == 0
    (body,) = creates(server)
    assert body["training_file"].startswith("file-")
    estimate = server.requests_to("POST", ESTIMATE)[-1].json()
    assert estimate == {"training_file": body["training_file"], "model": MODEL}
    assert "STATUS" in plain_text(term.output)

    term = PtyRun(env, *argv, "--yes")  # asked for nothing
    assert term.finish() == 0
    assert "[y/N]" not in term.output
    assert len(creates(server)) == 2
    assert len(server.requests_to("POST", ESTIMATE)) == 2


def test_an_estimate_that_forbids_the_job_stops_it(
    server: FakeTogether, env: dict[str, str]
) -> None:
    server.fail_next(
        "POST",
        ESTIMATE,
        200,
        body={
            "estimation_available": True,
            "estimated_total_price": 1234.5,
            "allowed_to_proceed": False,
            "user_limit": 1000.0,
            "estimated_train_token_count": 3.0e8,
            "estimated_eval_token_count": 0,
        },
    )
    term = PtyRun(env, "create", "--training-file", "file-1", "--model", MODEL)
    assert term.finish() == 1
    shown = plain_text(term.output)
    assert "[y/N]" not in shown
    assert "may not proceed (estimated $1,234.50, your limit $1,000.00)" in shown
    assert creates(server) == []


def test_an_unavailable_estimate_is_said_and_the_question_still_asked(
    server: FakeTogether, env: dict[str, str]
) -> None:
    term = PtyRun(env, "create", "--training-file", "file-unvalidated-1", "--model", MODEL)
    term.expect("[y/N] ")
    term.send("")
    assert term.finish() == 1
    assert "no price estimate: train_file_not_validated" in plain_text(term.output)
    server.fail_next("POST", ESTIMATE, 500, times=5)
    term = PtyRun(
        env, "--max-retries", "0", "create", "--training-file", "file-1", "--model", MODEL, "-y"
    )
    assert term.finish() == 0  # --yes: no estimate asked for
    term = PtyRun(
        env, "--max-retries", "0", "create", "--training-file", "file-1", "--model", MODEL
    )
    term.expect("[y/N] ")
    term.send("y")
    assert term.finish() == 0
    assert "no price estimate:" in plain_text(term.output)
    assert len(creates(server)) == 2


# ---------------------------------------------------------------- cancel and delete


@pytest.mark.parametrize("command", ["cancel", "delete"])
def test_cancel_and_delete_ask_on_a_terminal(
    server: FakeTogether, env: dict[str, str], command: str
) -> None:
    job = server.add_job(status="running")["id"]
    method, path = ("POST", f"/fine-tunes/{job}/cancel")
    if command == "delete":
        method, path = ("DELETE", f"/fine-tunes/{job}")
    term = PtyRun(env, command, job)
    term.expect(f"{command} job {job}")
    term.send("no")
    assert term.finish() == 1
    assert f"not {command}" in term.output
    assert server.requests_to(method, path) == []

    term = PtyRun(env, command, job)
    term.expect("[y/N] ")
    term.send("y")
    assert term.finish() == 0
    assert len(server.requests_to(method, path)) == 1


def test_cancel_without_a_terminal_or_with_yes_does_not_ask(
    server: FakeTogether, env: dict[str, str]
) -> None:
    first = server.add_job(status="running")["id"]
    second = server.add_job(status="running")["id"]
    result = run_script(env, "cancel", first, input="")
    assert result.returncode == 0, result.stderr
    assert "[y/N]" not in result.stderr
    term = PtyRun(env, "cancel", second, "--yes")
    assert term.finish() == 0
    assert "[y/N]" not in term.output
