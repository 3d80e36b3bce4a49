"""The command line's less travelled answers: bad numbers, empty events and metrics,
scheduler flags without a scheduler, and a price estimate the API cannot give."""

from __future__ import annotations

import pytest
from support.cli import cli_env, run

from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Llama-3.2-3B-Instruct"


@pytest.fixture(autouse=True)
def env(server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the in-process CLI at the fake server."""
    cli_env(server, monkeypatch)


@pytest.mark.parametrize(
    ("value", "message"),
    [("soon", "must be a number, got 'soon'"), ("0", "must be positive, got '0'")],
)
def test_poll_interval_must_be_a_positive_number(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, value: str, message: str
) -> None:
    job_id = server.add_job(status="running")["id"]
    code, out, err = run(capsys, "wait", job_id, "--poll-interval", value)
    assert code == 2
    assert message in err
    assert out == ""
    assert server.requests == []


def test_events_and_metrics_of_a_quiet_job(
    capsys: pytest.CaptureFixture[str], server: FakeTogether
) -> None:
    job_id = server.add_job(status="queued", events=[])["id"]
    code, out, err = run(capsys, "events", job_id)
    assert (code, out) == (0, "")
    assert f"no events for {job_id}" in err
    code, out, err = run(capsys, "metrics", job_id)
    assert (code, out) == (0, "")
    assert f"no metrics for {job_id}" in err


def test_num_cycles_without_a_scheduler_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], server: FakeTogether
) -> None:
    code, _, err = run(
        capsys, "create", "--training-file", "file-1", "--model", MODEL, "--num-cycles", "2"
    )
    assert code == 2
    assert "--num-cycles: only with --lr-scheduler cosine" in err
    assert server.requests_to("POST", "/fine-tunes") == []


def test_estimate_price_unavailable_says_why(
    capsys: pytest.CaptureFixture[str], server: FakeTogether
) -> None:
    code, out, _ = run(
        capsys, "estimate-price", "--training-file", "file-unvalidated-1", "--model", MODEL
    )
    assert code == 0
    assert out.strip() == "no estimate available: train_file_not_validated"
