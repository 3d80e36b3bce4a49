"""The official CLI's command lines (``together fine-tuning ...``, together 3.1.1).

The table "Scripts written for the official CLI" of docs/migrating.md is read here,
so it cannot drift (and the README's copy, "Coming from `together fine-tuning`", must
be the same): each official line runs against the fake and must send the same requests as our
spelling beside it. Then the rules around them: hidden aliases, ``JOB_ID:STEP`` only
where a step is taken, ``cancel`` of a finished job, ``files content -o -``, and the
registry names of checkpoints.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from support.cli import cli_env, run
from support.paths import README, REPO_ROOT

from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
OFFICIAL = "together fine-tuning "
OURS = "together-finetune "


MIGRATING = REPO_ROOT / "docs" / "migrating.md"


def table(
    page: Path = MIGRATING, heading: str = "## Scripts written for the official CLI"
) -> List[Tuple[str, str]]:
    """The (official, ours) command lines of the table under ``heading``."""
    text = page.read_text(encoding="utf-8")
    start = text.index(heading)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = re.findall(r"`([^`]+)`", line) if line.startswith("| `") else []
        if len(cells) == 2 and not cells[0].endswith("..."):  # not the header
            rows.append((cells[0], cells[1]))
    return rows


ROWS = table()


def test_the_table_is_found_and_well_formed() -> None:
    assert len(ROWS) >= 13
    for official, ours in ROWS:
        assert official.startswith(OFFICIAL), official
        assert ours.startswith(OURS), ours


def test_the_readme_shows_the_same_table() -> None:
    assert table(README, "## Coming from `together fine-tuning`") == ROWS


Sent = Tuple[str, str, Tuple[Tuple[str, str], ...], Any]


def sent_requests(server: FakeTogether, names: Dict[str, str]) -> List[Sent]:
    """What the API received, with the run's own IDs replaced by their placeholders."""

    def plain(value: str) -> str:
        for placeholder, real in names.items():
            value = value.replace(real, placeholder)
        return value

    return [
        (
            r.method,
            plain(r.path),
            tuple(sorted((k, plain(v)) for k, v in r.query.items())),
            json.loads(plain(json.dumps(r.json()))),
        )
        for r in server.requests
    ]


def run_line(
    line: str,
    prefix: str,
    server: FakeTogether,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: Path,
) -> Tuple[List[Sent], str]:
    """Run ``line`` (its program name dropped) against a fresh job and file."""
    where.mkdir()
    monkeypatch.chdir(where)
    status = "running" if " cancel " in f" {line} " else "completed"
    names = {
        "FT_ID": str(server.add_job(status=status)["id"]),
        "FILE_ID": str(server.files.add_file(b'{"text": "x"}\n', "train.jsonl")["id"]),
    }
    argv = shlex.split(line[len(prefix) :])
    argv = [word.replace("FT_ID", names["FT_ID"]) for word in argv]
    argv = [word.replace("FILE_ID", names["FILE_ID"]) for word in argv]
    server.requests.clear()
    code, _, err = run(capsys, *argv)
    assert code == 0, f"{line}: {err}"
    return sent_requests(server, names), err


@pytest.mark.parametrize(("official", "ours"), ROWS, ids=[row[0][len(OFFICIAL) :] for row in ROWS])
def test_each_official_line_sends_what_our_spelling_sends(
    official: str,
    ours: str,
    server: FakeTogether,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cli_env(server, monkeypatch)
    theirs, _ = run_line(official, OFFICIAL, server, capsys, monkeypatch, tmp_path / "theirs")
    mine, _ = run_line(ours, OURS, server, capsys, monkeypatch, tmp_path / "ours")
    assert theirs
    assert theirs == mine


def test_the_aliases_are_hidden_from_the_main_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "events" in out
    for alias in ("list-events", "list-checkpoints", "list-metrics", "model-limits"):
        assert alias not in out


@pytest.fixture
def env(server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    return cli_env(server, monkeypatch)


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    "argv",
    [
        ["retrieve", "{job}:10"],
        ["cancel", "{job}:10", "--yes"],
        ["delete", "{job}:10", "--yes"],
        ["events", "{job}:10"],
        ["list-checkpoints", "{job}:10"],
        ["metrics", "{job}:10"],
        ["wait", "{job}:10"],
        ["download", "{job}:10", "--step", "10"],
        ["download", "{job}:10", "-s", "10"],
        ["download", "{job}:ten"],
        ["download", "{job}:"],
    ],
)
def test_a_step_where_none_is_taken_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, argv: List[str]
) -> None:
    job = str(server.add_job(status="completed")["id"])
    code, _, err = run(capsys, *[word.format(job=job) for word in argv])
    assert code == 2, err
    assert "error" in err
    assert server.requests == []


@pytest.mark.usefixtures("env")
def test_download_takes_the_step_from_the_job_id(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, tmp_path: Path
) -> None:
    job = str(server.add_job(status="completed")["id"])
    code, _, err = run(capsys, "download", f"{job}:10", "-o", str(tmp_path / "model.tar.zst"))
    assert code == 0, err
    (sent,) = server.requests_to("GET", "/finetune/download")
    assert sent.query["ft_id"] == job
    assert sent.query["checkpoint_step"] == "10"


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("status", ["completed", "cancelled", "error", "user_error"])
def test_cancel_of_a_finished_job_says_so_and_sends_no_cancel(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, status: str
) -> None:
    job = str(server.add_job(status=status)["id"])
    code, out, err = run(capsys, "cancel", job, "--yes")
    assert code == 1
    assert f"already finished ({status})" in err
    assert out == ""
    assert [(r.method, r.path) for r in server.requests] == [("GET", f"/v1/fine-tunes/{job}")]


@pytest.mark.usefixtures("env")
def test_cancel_of_a_running_job_reads_it_then_cancels(
    capsys: pytest.CaptureFixture[str], server: FakeTogether
) -> None:
    job = str(server.add_job(status="running")["id"])
    code, _, err = run(capsys, "cancel", job, "--yes")
    assert code == 0, err
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", f"/v1/fine-tunes/{job}"),
        ("POST", f"/v1/fine-tunes/{job}/cancel"),
    ]


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("spelling", [["-o", "-"], ["--output", "-"], ["-"]])
def test_files_content_to_stdout_writes_the_bytes(
    capfdbinary: pytest.CaptureFixture[bytes],
    server: FakeTogether,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spelling: List[str],
) -> None:
    from together_finetune.cli import main

    monkeypatch.chdir(tmp_path)
    data = bytes(range(256)) * 5 + b'{"text": "\xc3\xa9"}\n'
    file_id = str(server.files.add_file(data, "blob.jsonl")["id"])
    assert main(["files", "content", file_id, *spelling]) == 0
    captured = capfdbinary.readouterr()
    assert captured.out == data
    assert list(tmp_path.iterdir()) == []  # nothing left behind, no file named "-"


@pytest.mark.usefixtures("env")
def test_files_content_takes_the_output_as_a_flag_or_an_argument_not_both(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, tmp_path: Path
) -> None:
    file_id = str(server.files.add_file(b"abc", "x.jsonl")["id"])
    target = tmp_path / "copy.jsonl"
    code, _, err = run(capsys, "files", "content", file_id, "-o", str(target))
    assert code == 0, err
    assert target.read_bytes() == b"abc"
    for argv in ([], [str(target), "-o", str(tmp_path / "other")]):
        code, _, err = run(capsys, "files", "content", file_id, *argv)
        assert code == 2
        assert "give the output once" in err


@pytest.mark.usefixtures("env")
def test_model_limits_takes_the_model_as_a_flag_or_an_argument_not_both(
    capsys: pytest.CaptureFixture[str], server: FakeTogether
) -> None:
    for argv in (["limits", "-M", MODEL], ["model-limits", MODEL], ["limits", "--model", MODEL]):
        code, out, err = run(capsys, "--json", *argv)
        assert code == 0, err
        assert json.loads(out)["model_name"] == MODEL
    server.requests.clear()
    for argv in (["limits"], ["model-limits", MODEL, "-M", MODEL]):
        code, _, err = run(capsys, *argv)
        assert code == 2
        assert "give the model once" in err
    assert server.requests == []


@pytest.mark.usefixtures("env")
def test_checkpoints_without_registry_names_have_no_such_column(
    capsys: pytest.CaptureFixture[str], server: FakeTogether
) -> None:
    job = str(server.add_job(status="completed")["id"])
    for checkpoint in server.checkpoints[job]:
        checkpoint.pop("object_name", None)
    code, out, err = run(capsys, "list-checkpoints", job)
    assert code == 0, err
    assert out.splitlines()[0].split() == ["STEP", "TYPE", "CREATED", "PATH"]
