"""How values read: numbers, local times, progress, colour, and ``wait``'s live line."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from support.cli import cli_env, run
from support.terminal import PtyRun, plain_text, run_script

from together_finetune._format import ago, bar, duration, local_time, number
from together_finetune.cli.chart import loss_series, render
from together_finetune.cli.fmt import status
from together_finetune.cli.output import table
from together_finetune.cli.terminal import StatusLine, colour_enabled
from together_finetune.testing import FakeTogether

UTC = dt.timezone.utc


@pytest.fixture
def env(server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return cli_env(server, monkeypatch)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "-"),
        (0.0, "0"),
        (12345678, "12,345,678"),
        (9.523809523809525e-06, "9.52e-6"),
        (1.2e-05, "12e-6"),
        (0.0009999999, "1e-3"),
        (2.345678, "2.35"),
        (0.0123456, "0.0123"),
        (-1.5, "-1.5"),
        (123.456, "123"),
        (98765.4, "98,765"),
        (3.2e9, "3.2e9"),
        (float("nan"), "nan"),
        (True, "True"),
        ("text", "text"),
    ],
)
def test_number(value: object, shown: str) -> None:
    assert number(value) == shown


def test_times_are_local_and_relative_when_recent() -> None:
    now = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    three_min = now - dt.timedelta(minutes=3, seconds=5)
    local = three_min.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert local_time(three_min) == local
    assert ago(three_min, now) == f"{local} (3 min ago)"
    assert ago(now, now).endswith("(just now)")
    old = now - dt.timedelta(days=30)
    assert ago(old, now) == local_time(old)  # a month ago: the date says enough
    assert ago(None, now) == "-"
    naive = dt.datetime(2025, 3, 1, 11, 0, 0)
    assert ago(naive, now) == "2025-03-01 11:00:00"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (45.4, "45s"), (300, "5 min"), (7500, "2 h 05 min"), (3 * 86400 + 3600, "3 d 1 h")],
)
def test_duration(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_bar_and_status_colour() -> None:
    assert bar(0, 20, width=10) == "[" + " " * 10 + "]"
    assert bar(10, 20, width=10) == "[█████     ]"
    assert bar(1, 16, width=2) == "[▏ ]"
    assert bar(3, 16, width=2) == "[▍ ]"
    assert bar(30, 20, width=4) == "[████]"
    assert bar(1, 0, width=4) == "[    ]"
    assert status("failed", True) == "\x1b[31mfailed\x1b[0m"
    assert status("completed", False) == "completed"
    assert status("strange", True) == "strange"


def test_a_table_aligns_coloured_cells_by_what_shows() -> None:
    rendered = table(("A", "B"), [(status("completed", True), "x"), ("no", "y")])
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in rendered.splitlines()]
    assert plain == ["A          B", "completed  x", "no         y"]


def test_colour_follows_the_terminal_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert colour_enabled(Tty())
    assert not colour_enabled(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_enabled(Tty())
    monkeypatch.setenv("NO_COLOR", "")
    monkeypatch.setenv("TERM", "dumb")
    assert not colour_enabled(Tty())


def test_status_line() -> None:
    stream = io.StringIO()
    line = StatusLine(stream, live=True)
    line.show("running 1")
    line.above("an event")
    line.show("running 2")
    line.close()
    assert stream.getvalue() == (
        "\r\x1b[Krunning 1\r\x1b[Kan event\nrunning 1\r\x1b[Krunning 2\r\x1b[K"
    )
    stream = io.StringIO()
    line = StatusLine(stream, live=False)
    line.show("a")
    line.show("a")
    line.above("event")
    line.show("b")
    line.close()
    assert stream.getvalue() == "a\nevent\nb\n"


# ---------------------------------------------------------------- commands


def test_retrieve_shows_a_progress_bar_and_time_left(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(
        status="running",
        steps_completed=7,
        total_steps=20,
        epochs_completed=1,
        n_epochs=3,
        progress={"estimate_available": True, "seconds_remaining": 330},
    )
    code, out, _ = run(capsys, "retrieve", job["id"])
    assert code == 0
    (progress,) = [line for line in out.splitlines() if line.startswith("PROGRESS")]
    assert progress.endswith("35%, step 7/20, epoch 1/3, about 5 min left")
    assert "█" in progress
    assert "\x1b[" not in out  # not a terminal: no colour
    (created,) = [line for line in out.splitlines() if line.startswith("CREATED")]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", created)


def test_metrics_table_numbers_read_well(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(status="completed")
    code, out, _ = run(capsys, "metrics", job["id"], "--plain")
    assert code == 0
    assert "e-0" not in out  # no 9.523809523809525e-06
    assert not re.search(r"\d\.\d{5,}", out)


def test_list_colours_statuses_on_a_terminal_only(
    server: FakeTogether, env: dict[str, str]
) -> None:
    server.add_job(status="completed")
    server.add_job(status="error")
    term = PtyRun(env, "list")
    assert term.finish() == 0
    assert "\x1b[32mcompleted\x1b[0m" in term.output
    assert "\x1b[31merror\x1b[0m" in term.output
    term = PtyRun(env, "list", no_color=True)
    assert term.finish() == 0
    assert "completed" in term.output
    assert "\x1b[" not in term.output
    piped = run_script(env, "list")
    assert "completed" in piped.stdout
    assert "\x1b[" not in piped.stdout


def test_wait_redraws_one_line_on_a_terminal(server: FakeTogether, env: dict[str, str]) -> None:
    job = server.add_job(
        status="running",
        steps_completed=7,
        total_steps=20,
        progress={"estimate_available": True, "seconds_remaining": 330},
    )["id"]
    term = PtyRun(env, "wait", job, "--poll-interval", "0.05")
    try:
        term.expect("about 5 min left")
        term.expect("\r\x1b[K")
        for _ in range(20):
            if server.jobs[job]["status"] == "completed":
                break
            server.advance(job)
        assert term.finish() == 0
    finally:
        term.close()
    shown = plain_text(term.output)
    assert "STATUS" in shown
    assert "completed" in shown
    # the progress was redrawn in place, not scrolled: no line holds two progress reports
    assert all(line.count("step ") <= 1 for line in term.output.split("\r\x1b[K"))
    # piped: plain lines as before (events), no carriage returns
    piped = run_script(env, "wait", job, "--poll-interval", "0.05")
    assert piped.returncode == 0
    assert "\r" not in piped.stdout


# ---------------------------------------------------------------- the loss chart


def test_loss_series_and_chart() -> None:
    rows: list[dict[str, float]] = [
        {"train/loss": 2.0 * 0.9**s, "train/global_step": s} for s in range(1, 41)
    ]
    rows += [{"eval/loss": 2.1 * 0.9**s, "eval/global_step": s} for s in (10, 20, 30, 40)]
    rows.append({"train/loss": float("nan"), "train/global_step": 41})
    rows.append({"loss": 1.0})  # no step: its position
    series = loss_series(rows)
    assert list(series) == ["train/loss", "eval/loss", "loss"]
    assert series["train/loss"][0] == (1.0, 1.8)
    assert len(series["train/loss"]) == 40  # the NaN is left out
    assert series["eval/loss"][-1][0] == 40.0
    assert series["loss"] == [(45.0, 1.0)]
    del series["loss"]
    lines = render(series, 60, 8)
    assert len(lines) == 8 + 3
    assert all(len(line) <= 60 for line in lines)
    assert lines[0].startswith("   1.8 ┤")
    assert lines[7].startswith("0.0296 ┤")
    assert lines[8] == "       └" + "─" * 52
    assert lines[9].split() == ["step", "1", "40"]
    assert lines[10].split() == ["⣀", "train/loss", "●", "eval/loss"]
    body = "".join(line[8:] for line in lines[:8])
    assert body.count("●") == 4
    assert all(ch == "●" or 0x2800 <= ord(ch) <= 0x28FF for ch in body)
    # the curve goes down: its first dots are in the top line, its last in the bottom one
    assert lines[0][8] != "⠀"
    assert lines[7][-2] != "⠀"
    assert render({}, 60, 8) == []
    flat = render({"train/loss": [(5.0, 1.0)]}, 30, 3)
    assert flat[0].startswith("1 ┤")
    assert any(ch != "⠀" for ch in "".join(flat[:3])[4:])


def test_metrics_on_a_terminal_draws_the_loss_and_piped_prints_the_table(
    server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(status="completed")["id"]
    term = PtyRun(env, "metrics", job, columns=72, lines=20)
    assert term.finish() == 0
    shown = plain_text(term.output).splitlines()
    assert max(len(line) for line in shown) <= 72
    (axis,) = [line for line in shown if "└" in line]
    assert 65 <= len(axis) <= 72  # sized to the terminal
    assert axis.endswith("─")
    assert any("⣀ train/loss" in line for line in shown)
    assert any(line.startswith("train/loss: ") and "lowest" in line for line in shown)
    term = PtyRun(env, "metrics", job, "--plain")
    assert term.finish() == 0
    assert "train/loss" in term.output.splitlines()[0]
    assert "┤" not in term.output
    piped = run_script(env, "metrics", job)
    assert piped.returncode == 0
    assert piped.stdout.splitlines()[0].split()[0] == "train/loss"
    assert "┤" not in piped.stdout
