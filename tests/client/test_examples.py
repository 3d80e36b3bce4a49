"""Every example runs against the fake API, so none can rot."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.paths import EXAMPLES

from together_finetune import Client
from together_finetune.testing import FakeTogether


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_runs_create_to_download_on_the_fake(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    quickstart = load("quickstart")
    code = quickstart.main(
        ["--output", str(tmp_path), "--poll-interval", "0.02", "--step-seconds", "0.02"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "finished: completed" in out
    assert "uploaded sample.jsonl as file-" in out
    archives = list(tmp_path.glob("*.tar.zst"))
    assert len(archives) == 1
    assert f"downloaded {archives[0].stat().st_size} bytes" in out


def test_preview_and_early_stopping_runs_on_the_fake(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    example = load("preview_and_early_stopping")
    code = example.main(
        ["--output", str(tmp_path), "--poll-interval", "0.02", "--step-seconds", "0.02"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "(COMPLETED)" in out
    assert "preview: conversation format" in out
    assert "early stopping halted it" in out
    assert "registry: " in out
    (archive,) = tmp_path.iterdir()
    assert f"tokenized data set: {archive.name}, {archive.stat().st_size} bytes" in out


def test_quickstart_as_a_script(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(EXAMPLES.parent)}
    done = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "quickstart.py"),
            "--output",
            str(tmp_path),
            "--poll-interval",
            "0.05",
            "--step-seconds",
            "0.05",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "finished: completed" in done.stdout
    assert done.stderr == ""


def test_flask_app_starts_and_shows_a_job(client: Client, server: FakeTogether) -> None:
    app = load("flask_app").create_app(client).test_client()
    answer = app.post("/jobs", json={"training_file": "file-x", "model": "m", "n_epochs": 2})
    assert answer.status_code == 201
    job_id = answer.get_json()["id"]
    server.advance(job_id, steps=5)
    shown = app.get(f"/jobs/{job_id}").get_json()
    assert shown["status"] == "completed"
    assert shown["done"] is True
    assert app.get("/jobs/ft-missing").status_code == 404
    assert app.get("/jobs/not-an-id").status_code == 400
    assert app.post("/jobs", json={"model": "m"}).status_code == 400
    assert len(server.requests_to("POST", "/fine-tunes")) == 1


def test_job_report_summarises_the_account(
    client: Client, server: FakeTogether, capsys: pytest.CaptureFixture[str]
) -> None:
    done = server.add_job(status="completed")
    server.add_job(status="running")
    module: Any = load("job_report")
    summary = module.report(client)
    assert summary["jobs"] == 2
    assert summary["by_status"] == {"completed": 1, "running": 1}
    assert set(summary["final_loss"]) == {done["id"]}
    assert module.main(client) == 0
    assert "2 jobs" in capsys.readouterr().out


def test_the_pytest_plugin_fixture_gives_a_started_fake(fake_together: FakeTogether) -> None:
    with Client(api_key=fake_together.api_key, base_url=fake_together.base_url) as client:
        assert client.fine_tunes.list() == []


def test_notebook_runs_upload_to_download_on_the_fake(tmp_path: Path) -> None:
    source = (EXAMPLES / "notebook.py").read_text(encoding="utf-8")
    assert source.startswith("# %% [markdown]")
    assert source.count("\n# %%\n") >= 6  # code cells, as notebook tools split them
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(EXAMPLES.parent),
        "MPLBACKEND": "Agg",
        "NOTEBOOK_OUTPUT": str(tmp_path),
        "NOTEBOOK_POLL_SECONDS": "0.02",
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "notebook.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "using the built-in fake API" in out
    assert "FineTune(id='ft-" in out
    assert "status='completed'" in out
    assert "Fine tuning job completed" in out
    assert "train/loss" in out  # the DataFrame's columns
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (archive,) = tmp_path.glob("*.tar.zst")
    assert f"downloaded {archive.stat().st_size} bytes" in out
