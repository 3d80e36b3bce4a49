"""What the official SDK sends, this client sends too (against the fake, over real sockets):
SimPO's two settings, the preview's training method, W&B's entity read back, and the
metrics filters as ISO-8601 strings or timezone-aware datetimes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from matplotlib.figure import Figure
from support.cli import cli_env, run, run_json

from together_finetune import DPO, Client
from together_finetune.testing import FakeTogether, RecordedRequest

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
TRAINING_FILE = "file-0b7e5c1a-8d3f-4a2e-9c6b-1f0e2d3c4b5a"
SIMPO = {"dpo_reference_free": True, "dpo_normalize_logratios_by_length": True}


def sent_bodies(server: FakeTogether, path: str) -> list[Any]:
    return [r.json() for r in server.requests_to("POST", path)]


@pytest.fixture
def training_file(server: FakeTogether) -> str:
    record = server.files.add_file(
        b'{"input": {"messages": [{"role": "user", "content": "hi"}]}, '
        b'"preferred_output": [{"role": "assistant", "content": "hello"}], '
        b'"non_preferred_output": [{"role": "assistant", "content": "go away"}]}\n',
        "prefs.jsonl",
    )
    return str(record["id"])


# -- SimPO ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        {"training_method": DPO(simpo_gamma=0.5)},
        {"training_method": DPO(), "simpo_gamma": 0.5},
        {"training_method": DPO(simpo_gamma=0.5, dpo_reference_free=True)},
    ],
)
def test_simpo_sends_reference_free_and_length_normalised(
    client: Client, server: FakeTogether, training_file: str, arguments: dict[str, Any]
) -> None:
    client.fine_tunes.create(training_file=training_file, model=MODEL, **arguments)
    (body,) = sent_bodies(server, "/fine-tunes")
    assert body["training_method"] == {"method": "dpo", "simpo_gamma": 0.5, **SIMPO}


@pytest.mark.parametrize("gamma", [None, 0, 0.0])
def test_dpo_without_simpo_sends_neither_setting(
    client: Client, server: FakeTogether, training_file: str, gamma: float | None
) -> None:
    client.fine_tunes.create(
        training_file=training_file, model=MODEL, training_method=DPO(simpo_gamma=gamma)
    )
    (body,) = sent_bodies(server, "/fine-tunes")
    assert not set(SIMPO) & set(body["training_method"])


@pytest.mark.parametrize(
    ("method", "got"),
    [
        (DPO(simpo_gamma=1.0, dpo_reference_free=False), "dpo_reference_free=False"),
        (
            DPO(simpo_gamma=1.0, dpo_normalize_logratios_by_length=False),
            "dpo_normalize_logratios_by_length=False",
        ),
    ],
)
def test_simpo_with_either_setting_false_is_refused_with_the_other_problems(
    client: Client, server: FakeTogether, method: DPO, got: str
) -> None:
    with pytest.raises(ValueError, match="invalid fine-tune arguments") as caught:
        client.fine_tunes.create(
            training_file=TRAINING_FILE, model=MODEL, training_method=method, n_epochs=0
        )
    message = str(caught.value)
    assert "n_epochs: must be an integer >= 1" in message  # one error, every problem
    assert "dpo_reference_free, dpo_normalize_logratios_by_length: SimPO" in message
    assert f"(got {got})" in message
    assert server.requests == []


def test_simpo_false_given_as_a_shorthand_is_refused_too(
    client: Client, server: FakeTogether
) -> None:
    with pytest.raises(ValueError, match="dpo_reference_free=False"):
        client.fine_tunes.create(
            training_file=TRAINING_FILE,
            model=MODEL,
            training_method=DPO(),
            simpo_gamma=2.0,
            dpo_reference_free=False,
        )
    assert server.requests == []


def test_the_price_estimate_sends_simpo_as_create_does(
    client: Client, server: FakeTogether, training_file: str
) -> None:
    client.fine_tunes.estimate_price(
        training_file=training_file, model=MODEL, training_method=DPO(simpo_gamma=0.5)
    )
    (body,) = sent_bodies(server, "/fine-tunes/estimate-price")
    assert body["training_method"] == {"method": "dpo", "simpo_gamma": 0.5, **SIMPO}
    with pytest.raises(ValueError, match="dpo_reference_free, dpo_normalize_logratios"):
        client.fine_tunes.estimate_price(
            training_file=training_file,
            model=MODEL,
            training_method=DPO(simpo_gamma=0.5, dpo_normalize_logratios_by_length=False),
        )
    assert len(sent_bodies(server, "/fine-tunes/estimate-price")) == 1


def test_the_command_line_dry_run_shows_simpo_s_settings(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(server, monkeypatch)
    arguments = ["create", "--training-file", TRAINING_FILE, "--model", MODEL]
    arguments += ["--training-method", "dpo", "--simpo-gamma", "0.5"]
    shown = run_json(capsys, *arguments, "--dry-run")
    assert shown["training_method"] == {"method": "dpo", "simpo_gamma": 0.5, **SIMPO}
    code, _, err = run(capsys, *arguments, "--no-dpo-reference-free")
    assert code == 2
    assert "dpo_reference_free=False" in err
    assert server.requests == []


# -- preview ------------------------------------------------------------------------------------


def test_preview_sends_the_training_method_when_given(client: Client, server: FakeTogether) -> None:
    record = server.files.add_file(b'{"text": "hello world"}\n', "train.jsonl")
    client.fine_tunes.preview(model=MODEL, training_file=record["id"], training_method="sft")
    client.fine_tunes.preview(model=MODEL, training_file=record["id"])
    first, second = sent_bodies(server, "/fine-tunes/preview")
    assert first["training_method"] == "sft"
    assert "training_method" not in second


def test_preview_refuses_another_training_method_before_sending(
    client: Client, server: FakeTogether
) -> None:
    with pytest.raises(ValueError, match="training_method: must be 'sft'"):
        client.fine_tunes.preview(
            model=MODEL,
            training_file=TRAINING_FILE,
            training_method="dpo",  # type: ignore[arg-type]
        )
    assert server.requests == []


def test_the_preview_command_takes_training_method(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(server, monkeypatch)
    record = server.files.add_file(b'{"text": "hello world"}\n', "train.jsonl")
    arguments = ["preview", "--model", MODEL, "--training-file", record["id"]]
    run_json(capsys, *arguments, "--training-method", "sft")
    (body,) = sent_bodies(server, "/fine-tunes/preview")
    assert body["training_method"] == "sft"
    code, _, err = run(capsys, *arguments, "--training-method", "dpo")
    assert code == 2
    assert "invalid choice: 'dpo'" in err


# -- W&B entity ----------------------------------------------------------------------------------


def test_wandb_entity_is_sent_and_read_back(
    client: Client, server: FakeTogether, training_file: str
) -> None:
    created = client.fine_tunes.create(
        training_file=training_file, model=MODEL, wandb_api_key="k", wandb_entity="my-team"
    )
    (body,) = sent_bodies(server, "/fine-tunes")
    assert body["wandb_entity"] == "my-team"
    for job in (created, client.fine_tunes.retrieve(created.id), *client.fine_tunes.list()):
        assert job.wandb_entity == "my-team"
        assert "wandb_entity" not in job.extra


# -- metrics filters -----------------------------------------------------------------------------


def metric_requests(server: FakeTogether) -> list[RecordedRequest]:
    return [r for r in server.requests if r.path.endswith("/metrics")]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2026-01-01T12:00:00Z", "2026-01-01T12:00:00Z"),
        ("2026-01-01T14:00:00.250+02:00", "2026-01-01T14:00:00.250+02:00"),
        (
            datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
            "2026-01-01T12:00:00Z",
        ),
    ],
)
def test_a_time_filter_is_an_iso_string_or_an_aware_datetime(
    client: Client, server: FakeTogether, given: Any, sent: str
) -> None:
    job = server.add_job(status="completed")
    client.fine_tunes.list_metrics(job["id"], logged_at_from=given, logged_at_to=given)
    (request,) = metric_requests(server)
    assert request.query["logged_at_from"] == sent
    assert request.query["logged_at_to"] == sent


def test_the_frame_and_the_plot_take_iso_strings(client: Client, server: FakeTogether) -> None:
    job = server.add_job(status="completed")
    frame = client.fine_tunes.metrics_frame(job["id"], logged_at_from="2000-01-01T00:00:00Z")
    assert len(frame) == 20
    client.fine_tunes.plot_metrics(
        job["id"], Figure().add_subplot(), logged_at_to="2999-01-01T00:00:00+00:00"
    )
    first, second = metric_requests(server)
    assert first.query == {"logged_at_from": "2000-01-01T00:00:00Z"}
    assert second.query == {"logged_at_to": "2999-01-01T00:00:00+00:00"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (datetime(2026, 1, 1), "logged_at_to must be timezone-aware: add a timezone"),
        ("2026-01-01T12:00:00", "logged_at_to must be timezone-aware: add a timezone"),
        ("2026-01-01", "logged_at_to must be timezone-aware: add a timezone"),
        ("yesterday", "logged_at_to must be an ISO-8601 date-time with a timezone"),
        (1767268800, "logged_at_to must be a timezone-aware datetime or an ISO-8601 string"),
    ],
)
@pytest.mark.parametrize("method", ["list_metrics", "metrics_frame", "plot_metrics"])
def test_a_time_without_a_timezone_is_refused_before_sending(
    client: Client, server: FakeTogether, given: Any, message: str, method: str
) -> None:
    with pytest.raises(ValueError, match=message):
        getattr(client.fine_tunes, method)("ft-1", logged_at_to=given)
    assert server.requests == []


@pytest.mark.parametrize("answer", [{}, {"metrics": None}])
def test_a_metrics_answer_without_metrics_is_an_empty_list(
    client: Client, server: FakeTogether, answer: dict[str, Any]
) -> None:
    job = server.add_job(status="running")
    server.fail_next("GET", f"/fine-tunes/{job['id']}/metrics", 200, body=answer)
    assert client.fine_tunes.list_metrics(job["id"]) == []
