"""``download --extract -o PATH``: the directory rule, and messages that name flags."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.cli import cli_env, run
from support.terminal import console_script

from together_finetune.testing import FakeTogether


@pytest.fixture
def env(server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return cli_env(server, monkeypatch)


def test_o_names_the_directory_of_the_model_files(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    job = server.add_job(status="completed")
    target = tmp_path / "models" / "llama"
    code, out, err = run(capsys, "download", job["id"], "--extract", "-o", str(target))
    assert code == 0, err
    assert out.startswith(f"extracted to {target} (")
    assert "archive kept" not in out
    assert target.is_dir()
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["llama"]

    # now an existing directory: inside it, named after the job
    code, out, _ = run(capsys, "download", job["id"], "--extract", "-o", str(target))
    assert code == 0
    (inner,) = [p for p in target.iterdir() if p.is_dir() and p.name.endswith("-merged")]
    assert f"extracted to {inner} (" in out

    # and a third time: refused, in the command line's words
    code, _, err = run(capsys, "download", job["id"], "--extract", "-o", str(target))
    assert code == 1
    assert "already exists (use --overwrite to replace it)" in err
    assert "overwrite=True" not in err


def test_keep_archive(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    job = server.add_job(status="completed")
    target = tmp_path / "llama"
    code, out, _ = run(
        capsys, "download", job["id"], "--extract", "--keep-archive", "-o", str(target)
    )
    assert code == 0
    assert f"archive kept at {target}.tar.zst" in out
    assert (tmp_path / "llama.tar.zst").is_file()
    code, _, err = run(capsys, "download", job["id"], "--keep-archive", "-o", str(target))
    assert code == 2
    assert "--keep-archive: only with --extract" in err


def test_an_existing_file_names_the_flag_through_the_installed_script(
    server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    job = server.add_job(status="completed")
    target = tmp_path / "model.tar.zst"
    target.write_bytes(b"mine")
    result = subprocess.run(
        [*console_script(), "download", job["id"], "-o", str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"together-finetune: error: {target} already exists (use --overwrite to replace it)\n"
    )
    assert target.read_bytes() == b"mine"
    result = subprocess.run(
        [*console_script(), "--json", "download", job["id"], "-o", f"{tmp_path}/new/", "--extract"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (only,) = (tmp_path / "new").iterdir()
    assert only.is_dir()  # the model files; the archive is gone


def test_a_file_type_hint_names_the_flag(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    odd = tmp_path / "data.txt"
    odd.write_text("{}\n")
    code, _, err = run(capsys, "files", "upload", "--no-check", str(odd))
    assert code == 2
    assert "or use --file-type" in err
    assert "file_type=" not in err
