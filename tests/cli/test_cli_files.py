"""``together-finetune files ...`` against the fake API server (and its storage server).

In-process tests call ``main([...])`` and read the output with ``capsys``; one test runs
the upload and the listing as real subprocesses (``python -m together_finetune``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.cli import cli_env, run, run_json

from together_finetune.testing import FakeTogether


@pytest.fixture
def env(server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the CLI (in-process and subprocesses) at the fake server."""
    return cli_env(server, monkeypatch)


GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def dataset(path: Path, *lines: Any, count: int = 3) -> Path:
    """Write JSONL: ``lines`` as given (dicts dumped, strings raw), or ``count`` good ones."""
    rows = lines or (GOOD,) * count
    path.write_text(
        "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows),
        encoding="utf-8",
    )
    return path


def nothing_sent(server: FakeTogether) -> bool:
    return server.requests == [] and server.storage.requests == []


# --------------------------------------------------------------------------- check


def test_check_ok_sends_nothing_and_needs_no_key(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    monkeypatch.setenv("TOGETHER_BASE_URL", server.base_url)
    path = dataset(tmp_path / "train.jsonl", count=4)
    code, out, err = run(capsys, "files", "check", str(path))
    assert code == 0, err
    assert out == f"{path}: conversational format, 4 examples, ok\n"
    report = run_json(capsys, "files", "check", str(path))
    assert report == {
        "path": str(path),
        "ok": True,
        "format": "conversational",
        "num_examples": 4,
        "problems": [],
        "warnings": [],
        "warnings_omitted": 0,
    }
    assert nothing_sent(server)


# Two assistant turns in a row: the server may accept it, so it is a warning only.
DOUBTFUL = {
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "assistant", "content": "again"},
    ]
}


def test_check_with_only_warnings_prints_them_and_exits_0(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, tmp_path: Path
) -> None:
    path = dataset(tmp_path / "train.jsonl", GOOD, DOUBTFUL)
    code, out, err = run(capsys, "files", "check", str(path))
    assert code == 0, err
    first, *warnings = out.splitlines()
    assert first == f"{path}: conversational format, 2 examples, ok (1 warning)"
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: line 2: ")
    report = run_json(capsys, "files", "check", str(path))
    assert report["ok"] is True
    assert [w["line"] for w in report["warnings"]] == [2]
    assert nothing_sent(server)


def test_check_with_errors_and_warnings_counts_both(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = dataset(tmp_path / "train.jsonl", DOUBTFUL, "{not json")
    code, out, err = run(capsys, "files", "check", str(path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("line 2: not valid JSON")
    assert lines[1].startswith("warning: line 1: ")
    assert "1 problem, 1 warning" in err


def test_check_bad_dataset_exits_1_with_one_line_per_problem(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, tmp_path: Path
) -> None:
    path = dataset(
        tmp_path / "train.jsonl",
        GOOD,
        "{not json",
        GOOD,
        {"messages": [{"role": "user", "content": "a", "weight": 2}]},
    )
    code, out, err = run(capsys, "files", "check", str(path))
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("line 2: not valid JSON")
    assert lines[1].startswith("line 4: ")
    assert "weight 2" in lines[1]
    assert "2 problems" in err
    # --json: the report, still exit 1
    code, out, _ = run(capsys, "files", "check", str(path), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["format"] == "conversational"
    assert [p["line"] for p in report["problems"]] == [2, 4]
    assert nothing_sent(server)


def test_check_purpose_and_file_level_problems(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    table = tmp_path / "eval.csv"
    table.write_text("question,answer\nwhat,that\n", encoding="utf-8")
    code, out, _ = run(capsys, "files", "check", str(table))
    assert code == 1
    assert "not accepted for fine-tuning" in out
    code, out, _ = run(capsys, "files", "check", str(table), "--purpose", "eval")
    assert code == 0
    assert "csv format, 1 examples, ok" in out
    code, out, _ = run(capsys, "files", "check", str(tmp_path / "missing.jsonl"))
    assert code == 1
    assert out == "the file does not exist\n"


# --------------------------------------------------------------------------- upload


def test_upload_block_json_and_stored_bytes(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    path = dataset(tmp_path / "train.jsonl")
    code, out, err = run(capsys, "files", "upload", str(path))
    assert code == 0, err
    fields = {k: v.strip() for k, v in (line.split(None, 1) for line in out.splitlines())}
    file_id = fields["ID"]
    assert file_id.startswith("file-")
    assert fields["FILENAME"] == "train.jsonl"
    assert fields["BYTES"] == f"{path.stat().st_size:,}"  # grouped, like every count
    assert fields["PURPOSE"] == "fine-tune"
    assert fields["TYPE"] == "jsonl"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", fields["CREATED"])  # local time
    assert server.files.contents[file_id] == path.read_bytes()
    assert list(server.storage.objects.values()) == [path.read_bytes()]
    (create,) = server.requests_to("POST", "/files")
    assert b"fine-tune" in (create.body or b"")
    assert err == ""  # no progress bar when stderr is not a terminal

    # The same bytes again: the stored file is returned (--if-exists return, the default)...
    again = run_json(capsys, "files", "upload", str(path))
    assert again["id"] == file_id
    assert again["bytes"] == path.stat().st_size
    assert again["file_type"] == "jsonl"
    # ...or refused, an API error (exit 1, one line).
    code, out, err = run(capsys, "files", "upload", str(path), "--if-exists", "error")
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert file_id in err


def test_upload_with_warnings_shows_them_on_stderr_and_uploads(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    path = dataset(tmp_path / "train.jsonl", GOOD, DOUBTFUL)
    code, out, err = run(capsys, "files", "upload", str(path), "--json")
    assert code == 0, err
    uploaded = json.loads(out)  # stdout stays pure JSON
    assert server.files.contents[uploaded["id"]] == path.read_bytes()
    assert err.splitlines()[0].startswith("warning: line 2: ")


def test_upload_options_are_sent(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    table = tmp_path / "eval.txt"
    table.write_text("question,answer\nwhat,that\n", encoding="utf-8")
    uploaded = run_json(
        capsys,
        "files",
        "upload",
        str(table),
        "--purpose",
        "eval",
        "--file-type",
        "csv",
        "--no-check",  # the check would refuse the .txt extension
    )
    assert uploaded["purpose"] == "eval"
    assert uploaded["file_type"] == "csv"
    assert uploaded["filename"] == "eval.txt"
    assert server.files.contents[uploaded["id"]] == table.read_bytes()


def test_upload_refused_by_the_check_exits_2_and_sends_nothing(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    path = dataset(tmp_path / "train.jsonl", GOOD, {"text": "mixed"}, "[1, 2]")
    code, out, err = run(capsys, "files", "upload", str(path))
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("together-finetune files upload: error: ")
    assert "2 problems" in lines[0]
    assert "nothing was sent" in lines[0]
    assert lines[1].strip().startswith("line 2: mixed formats")
    assert lines[2].strip().startswith("line 3: not a JSON object")
    assert "Traceback" not in err
    assert nothing_sent(server)
    assert server.storage.objects == {}
    # --no-check sends it anyway
    code, _, err = run(capsys, "files", "upload", str(path), "--no-check")
    assert code == 0, err
    assert len(server.files.files) == 1


def test_upload_refusal_lists_at_most_20_problems(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    path = dataset(tmp_path / "train.jsonl", *(["nope"] * 25))
    code, _, err = run(capsys, "files", "upload", str(path))
    assert code == 2
    assert "25 problems" in err
    shown = [line.strip() for line in err.splitlines() if line.startswith("  line ")]
    assert shown == [
        f"line {n}: not valid JSON: Expecting value: line 1 column 1 (char 0)" for n in range(1, 21)
    ]
    assert "and 5 more" in err
    assert "files check" in err
    assert nothing_sent(server)


def test_upload_rejected_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    notes = dataset(tmp_path / "notes.txt")
    code, _, err = run(capsys, "files", "upload", str(notes), "--no-check")
    assert code == 2
    assert "file type" in err
    code, _, err = run(capsys, "files", "upload", str(tmp_path / "missing.jsonl"))
    assert code == 2
    assert "missing.jsonl" in err
    assert run(capsys, "files", "upload", str(notes), "--file-type", "xml")[0] == 2
    assert run(capsys, "files", "upload", str(notes), "--if-exists", "replace")[0] == 2
    assert run(capsys, "files")[0] == 2  # no subcommand
    assert nothing_sent(server)


def test_upload_progress_bar_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("tqdm")
    path = dataset(tmp_path / "train.jsonl")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    code, out, err = run(capsys, "files", "upload", str(path))
    assert code == 0, err
    assert "train.jsonl" in err
    assert f"{path.stat().st_size}" in err  # the bar reached the total
    assert out.startswith("ID")
    # --no-progress (or --json) draws nothing; neither does a refused file
    second = dataset(tmp_path / "second.jsonl", count=5)
    code, _, err = run(capsys, "files", "upload", str(second), "--no-progress")
    assert code == 0
    assert err == ""
    bad = dataset(tmp_path / "bad.jsonl", "nope")
    code, _, err = run(capsys, "files", "upload", str(bad))
    assert code == 2
    assert "B/s" not in err
    assert "%" not in err


# --------------------------------------------------------------------------- list, retrieve, ...


def test_list_table_and_json(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, out, err = run(capsys, "files", "list")
    assert code == 0
    assert out == ""
    assert "no files" in err
    assert run_json(capsys, "files", "list") == []
    first = server.files.add_file(b'{"text": "a"}\n', "a-much-longer-name.jsonl")
    second = server.files.add_file(b"q,a\nx,y\n", "b.csv", purpose="eval")
    code, out, _ = run(capsys, "files", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "FILENAME", "BYTES", "PURPOSE", "TYPE", "CREATED"]
    for header in ("BYTES", "PURPOSE", "TYPE", "CREATED"):  # aligned columns
        column = lines[0].index(header)
        assert all(line[column - 2 : column] == "  " for line in lines[1:])
        assert all(line[column] != " " for line in lines[1:])
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[first["id"]][1:5] == ["a-much-longer-name.jsonl", "14", "fine-tune", "jsonl"]
    assert rows[second["id"]][1:5] == ["b.csv", "8", "eval", "csv"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", row[5]) for row in rows.values())
    listed = run_json(capsys, "files", "list")
    assert {f["id"]: f["purpose"] for f in listed} == {
        first["id"]: "fine-tune",
        second["id"]: "eval",
    }
    code, out, _ = run(capsys, "files", "list", "--json")  # also after the subcommand
    assert code == 0
    assert len(json.loads(out)) == 2


def test_retrieve_block_and_json(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    stored = server.files.add_file(b'{"text": "a"}\n', "data.jsonl")
    code, out, _ = run(capsys, "files", "retrieve", stored["id"])
    assert code == 0
    fields = {k: v.strip() for k, v in (line.split(None, 1) for line in out.splitlines())}
    assert fields["ID"] == stored["id"]
    assert fields["FILENAME"] == "data.jsonl"
    assert fields["PROCESSED"] == "yes"
    assert fields["STATUS"] == "COMPLETED"
    data = run_json(capsys, "files", "retrieve", stored["id"])
    assert data["id"] == stored["id"]
    assert data["bytes"] == 14
    assert data["created_at"] == stored["created_at"]


def test_delete(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    first = server.files.add_file(b'{"text": "a"}\n')
    second = server.files.add_file(b'{"text": "b"}\n')
    code, out, _ = run(capsys, "files", "delete", first["id"])
    assert code == 0
    assert out == f"deleted {first['id']}\n"
    assert run_json(capsys, "files", "delete", second["id"]) == {
        "id": second["id"],
        "deleted": True,
    }
    assert server.files.files == {}
    assert len(server.requests_to("DELETE", f"/files/{first['id']}")) == 1


def test_content(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    content = b'{"text": "a"}\n{"text": "b"}\n'
    stored = server.files.add_file(content)
    target = tmp_path / "copy.jsonl"
    code, out, err = run(capsys, "files", "content", stored["id"], str(target))
    assert code == 0, err
    assert out == f"wrote {target} ({len(content)} bytes)\n"
    assert target.read_bytes() == content
    # An existing file is not replaced without --overwrite (a download error, exit 1).
    target.write_bytes(b"old")
    code, _, err = run(capsys, "files", "content", stored["id"], str(target))
    assert code == 1
    assert "already exists" in err
    assert target.read_bytes() == b"old"
    data = run_json(capsys, "files", "content", stored["id"], str(target), "--overwrite")
    assert data == {"id": stored["id"], "path": str(target), "bytes": len(content)}
    assert target.read_bytes() == content


def test_content_progress_bar_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("tqdm")
    content = os.urandom(300_000)
    stored = server.files.add_file(content)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    code, out, err = run(capsys, "files", "content", stored["id"], str(tmp_path / "a.bin"))
    assert code == 0, err
    assert "a.bin" in err  # the bar, on stderr
    assert out.startswith("wrote ")
    code, _, err = run(
        capsys, "files", "content", stored["id"], str(tmp_path / "b.bin"), "--no-progress"
    )
    assert code == 0
    assert err == ""
    assert (tmp_path / "b.bin").read_bytes() == content


@pytest.mark.parametrize("command", ["retrieve", "delete", "content"])
@pytest.mark.parametrize("bad_id", ["ft-1", "file-a/b", "../file-1", "file-"])
def test_malformed_file_id_exits_2_and_sends_nothing(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
    command: str,
    bad_id: str,
) -> None:
    argv = ["files", command, bad_id] + ([str(tmp_path / "out")] if command == "content" else [])
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert f"together-finetune files {command}: error: file ID" in err
    assert nothing_sent(server)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["retrieve", "delete", "content"])
def test_unknown_file_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
    command: str,
) -> None:
    argv = ["files", command, "file-unknown"]
    argv += [str(tmp_path / "out")] if command == "content" else []
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "404" in lines[0]
    assert "Traceback" not in err
    assert server.api_key not in err
    assert not (tmp_path / "out").exists()


def test_api_errors_exit_1(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    server.fail_next("GET", "/files", 403)
    code, out, err = run(capsys, "files", "list")
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "403" in err
    server.fail_next("POST", "/files", 400, body={"error": {"message": "bad purpose"}})
    code, out, err = run(capsys, "files", "upload", str(dataset(tmp_path / "t.jsonl")))
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "bad purpose" in err
    assert server.storage.objects == {}


def test_missing_api_key_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    monkeypatch.setenv("TOGETHER_BASE_URL", server.base_url)
    code, _, err = run(capsys, "files", "upload", str(dataset(tmp_path / "t.jsonl")))
    assert code == 2
    assert "TOGETHER_API_KEY" in err
    assert run(capsys, "files", "list")[0] == 2
    assert nothing_sent(server)


# --------------------------------------------------------------------------- subprocess


def test_subprocess_upload_then_list(
    server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    path = dataset(tmp_path / "train.jsonl")

    def spawn(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "together_finetune", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )

    result = spawn("--json", "files", "upload", str(path))
    assert result.returncode == 0, result.stderr
    uploaded = json.loads(result.stdout)
    assert server.files.contents[uploaded["id"]] == path.read_bytes()
    result = spawn("files", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert [f["id"] for f in json.loads(result.stdout)] == [uploaded["id"]]
