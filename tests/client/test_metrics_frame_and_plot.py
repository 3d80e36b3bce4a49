"""metrics_frame and plot_metrics against the fake; their extras' absence named before sending."""

from __future__ import annotations

import configparser
import subprocess
import sys
from datetime import datetime

import pytest
from matplotlib.figure import Figure
from support.paths import REPO_ROOT

from together_finetune import Client
from together_finetune.testing import FakeTogether, RecordedRequest


def metric_requests(server: FakeTogether) -> list[RecordedRequest]:
    return [r for r in server.requests if r.path.endswith("/metrics")]


def test_metrics_frame_is_indexed_by_step_and_takes_the_filters(
    server: FakeTogether, client: Client
) -> None:
    job = server.add_job(status="completed")
    frame = client.fine_tunes.metrics_frame(job["id"])
    assert frame.index.name == "step"
    assert list(frame.index) == list(range(1, 21))
    assert {"train/loss", "train/learning_rate", "train/epoch"} <= set(frame.columns)
    assert "train/global_step" not in frame.columns
    assert frame["train/loss"].is_monotonic_decreasing

    part = client.fine_tunes.metrics_frame(job["id"], global_step_from=5, global_step_to=7)
    assert list(part.index) == [5, 6, 7]
    assert metric_requests(server)[-1].query == {
        "global_step_from": "5",
        "global_step_to": "7",
    }


def test_metrics_frame_checks_the_filters_before_sending(
    server: FakeTogether, client: Client
) -> None:
    job = server.add_job(status="completed")
    with pytest.raises(ValueError, match="logged_at_from must be timezone-aware"):
        client.fine_tunes.metrics_frame(job["id"], logged_at_from=datetime(2026, 1, 1))
    assert metric_requests(server) == []


def test_plot_metrics_draws_the_loss_on_the_given_axes(
    server: FakeTogether, client: Client
) -> None:
    job = server.add_job(status="completed")
    ax = Figure().add_subplot()
    assert client.fine_tunes.plot_metrics(job["id"], ax) is ax
    (line,) = ax.get_lines()
    assert line.get_label() == "train/loss"
    assert list(line.get_xdata()) == list(range(1, 21))
    assert ax.get_xlabel() == "step"
    ax.figure.canvas.draw()
    assert all(tick == int(tick) for tick in ax.get_xticks())
    assert ax.get_title() == f"{job['id']} loss"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train/loss"]


def test_plot_metrics_draws_chosen_metrics_and_refuses_unknown_ones(
    server: FakeTogether, client: Client
) -> None:
    job = server.add_job(status="completed")
    ax = Figure().add_subplot()
    client.fine_tunes.plot_metrics(job["id"], ax, metrics=["train/learning_rate"])
    assert [line.get_label() for line in ax.get_lines()] == ["train/learning_rate"]
    with pytest.raises(ValueError, match="no metric named 'eval/loss'; the job has 'train/loss'"):
        client.fine_tunes.plot_metrics(job["id"], ax, metrics=["eval/loss"])


def test_plot_metrics_of_a_job_with_no_metrics_says_so_on_the_axes(
    server: FakeTogether, client: Client
) -> None:
    job = server.add_job()
    ax = Figure().add_subplot()
    client.fine_tunes.plot_metrics(job["id"], ax)
    assert ax.get_lines() == []
    assert [t.get_text() for t in ax.texts] == ["no loss logged yet"]


def test_plot_metrics_makes_a_figure_when_no_axes_are_given(
    server: FakeTogether, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    import matplotlib.pyplot as pyplot

    job = server.add_job(status="completed")
    ax = client.fine_tunes.plot_metrics(job["id"])
    try:
        assert len(ax.get_lines()) == 1
    finally:
        pyplot.close(ax.figure)


@pytest.mark.parametrize(
    ("blocked", "call", "extra"),
    [
        ("pandas", "metrics_frame", "pandas"),
        ("matplotlib", "plot_metrics", "plot"),
    ],
)
def test_a_missing_extra_is_named_before_anything_is_sent(
    server: FakeTogether,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    blocked: str,
    call: str,
    extra: str,
) -> None:
    job = server.add_job(status="completed")
    monkeypatch.setitem(sys.modules, blocked, None)  # what an uninstalled package looks like
    with pytest.raises(ImportError, match=rf"pip install 'together-finetune\[{extra}\]'") as info:
        getattr(client.fine_tunes, call)(job["id"])
    assert info.value.name == blocked
    assert f"{call} needs {blocked}" in str(info.value)
    assert metric_requests(server) == []


def test_importing_the_library_loads_neither_pandas_nor_matplotlib() -> None:
    code = (
        "import sys\n"
        "from together_finetune import Client\n"
        "with Client(api_key='k') as client:\n"
        "    client.fine_tunes.list_metrics\n"
        "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_pandas_and_matplotlib_are_extras_not_requirements() -> None:
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / "setup.cfg", encoding="utf-8")
    required = config["options"]["install_requires"]
    extras = config["options.extras_require"]
    assert "pandas" not in required
    assert "matplotlib" not in required
    assert extras["pandas"].split() == ["pandas>=1.5"]
    assert extras["plot"].split() == ["matplotlib>=3.6"]
    assert {"pandas>=1.5", "matplotlib>=3.6"} <= set(extras["dev"].split())
