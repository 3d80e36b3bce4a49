"""``metrics JOB --plot FILE``: a valid PNG or SVG of the loss curves, via the console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.cli import cli_env, run

from together_finetune.testing import FakeTogether

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def env(server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the CLI (in-process and subprocesses) at the fake server."""
    return cli_env(server, monkeypatch)


def console_script(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """The installed ``together-finetune`` script (``python -m`` when it is not installed)."""
    beside = Path(sys.executable).with_name("together-finetune")
    found = str(beside) if beside.exists() else shutil.which("together-finetune")
    command = [found] if found else [sys.executable, "-m", "together_finetune"]
    return subprocess.run(
        [*command, *argv], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def metric_requests(server: FakeTogether) -> list[object]:
    return [r for r in server.requests if r.path.endswith("/metrics")]


def test_plot_writes_a_png_that_matplotlib_reads(
    server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    job = server.add_job(status="completed")
    target = tmp_path / "loss.png"
    done = console_script(env, "metrics", job["id"], "--plot", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote the loss plot of {job['id']} to {target}"
    assert target.read_bytes()[:8] == PNG_SIGNATURE
    import matplotlib.image

    pixels = matplotlib.image.imread(target)
    assert pixels.shape[:2] == (400, 700)
    assert pixels.min() < pixels.max()  # something was drawn
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]


def test_plot_writes_an_svg_with_the_curve_labelled(
    server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    job = server.add_job(status="completed")
    target = tmp_path / "loss.SVG"
    done = console_script(env, "--json", "metrics", job["id"], "--plot", str(target))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "id": job["id"],
        "plot": str(target),
        "format": "svg",
        "rows": 20,
    }
    root = ET.parse(target).getroot()  # noqa: S314 - a file this test just had written
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "train/loss" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["loss.pdf", "loss", "loss.png.txt"])
def test_plot_refuses_another_file_type_before_sending(
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    job = server.add_job(status="completed")
    code, _, err = run(capsys, "metrics", job["id"], "--plot", str(tmp_path / name))
    assert code == 2
    assert "--plot: the file must end in .png or .svg" in err
    assert metric_requests(server) == []
    assert list(tmp_path.iterdir()) == []


def test_plot_without_matplotlib_names_the_extra_before_sending(
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = server.add_job(status="completed")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    code, out, err = run(capsys, "metrics", job["id"], "--plot", str(tmp_path / "loss.png"))
    assert code == 2
    assert out == ""
    assert err.strip() == (
        "together-finetune metrics: error: --plot needs matplotlib, which is not installed: "
        "pip install 'together-finetune[plot]'"
    )
    assert metric_requests(server) == []


def test_plot_of_a_job_without_metrics_writes_nothing(
    server: FakeTogether, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = server.add_job()
    code, _, err = run(capsys, "metrics", job["id"], "--plot", str(tmp_path / "loss.png"))
    assert code == 1
    assert f"no metrics for {job['id']}: no plot written" in err
    assert list(tmp_path.iterdir()) == []


def test_plot_into_a_missing_directory_fails_without_a_partial_file(
    server: FakeTogether, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = server.add_job(status="completed")
    target = tmp_path / "missing" / "loss.png"
    code, _, err = run(capsys, "metrics", job["id"], "--plot", str(target))
    assert code == 1
    assert "No such file or directory" in err
    assert list(tmp_path.iterdir()) == []
