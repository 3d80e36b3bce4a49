"""The fine-tune endpoints against the fake server: checkpoints, delete, price,
model limits, supported models, metrics, and how many requests ``create`` sends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from together_finetune import (
    DPO,
    APIResponseValidationError,
    AuthenticationError,
    Checkpoint,
    Client,
    DeleteResult,
    FullTraining,
    InternalServerError,
    LoRATraining,
    ModelLimits,
    NotFoundError,
    PriceEstimate,
)
from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
LORA_ONLY = "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference"
UNKNOWN = "ft-00000000-0000-0000-0000-000000000000"


# -- checkpoints --------------------------------------------------------------------------


def test_list_checkpoints_decodes_and_ignores_extra_fields(
    server: FakeTogether, client: Client
) -> None:
    job = server.add_job(status="completed")
    server.checkpoints[job["id"]].append(
        {
            "step": 15,
            "path": "s3://bucket/extra",
            "created_at": "2026-01-02T03:04:05Z",
            "checkpoint_type": "Intermediate",
            "object_id": "ob_123",
            "checkpoint": "model",
        }
    )
    checkpoints = client.fine_tunes.list_checkpoints(job["id"])
    assert all(isinstance(c, Checkpoint) for c in checkpoints)
    assert [c.checkpoint_type for c in checkpoints] == [
        "Intermediate",
        "Final Merged",
        "Final Adapter",
        "Intermediate",
    ]
    assert [c.step for c in checkpoints] == [10, 20, 20, 15]
    assert checkpoints[0].path == server.checkpoints[job["id"]][0]["path"]
    assert checkpoints[3].created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_list_checkpoints_of_a_new_job_is_empty(server: FakeTogether, client: Client) -> None:
    assert client.fine_tunes.list_checkpoints(server.add_job()["id"]) == []


def test_list_checkpoints_unknown_job(client: Client) -> None:
    with pytest.raises(NotFoundError) as info:
        client.fine_tunes.list_checkpoints(UNKNOWN)
    assert info.value.status_code == 404


def test_list_checkpoints_malformed_answer(server: FakeTogether, client: Client) -> None:
    job = server.add_job()
    server.fail_next("GET", "/fine-tunes/*/checkpoints", 200, body={"checkpoints": []})
    with pytest.raises(APIResponseValidationError):
        client.fine_tunes.list_checkpoints(job["id"])


# -- delete -------------------------------------------------------------------------------


def test_delete(server: FakeTogether, client: Client) -> None:
    job = server.add_job()
    result = client.fine_tunes.delete(job["id"])
    assert isinstance(result, DeleteResult)
    assert result.message is not None
    assert job["id"] in result.message
    assert job["id"] not in server.jobs
    assert len(server.requests_to("DELETE", f"/fine-tunes/{job['id']}")) == 1


def test_delete_unknown_job_raises_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError) as info:
        client.fine_tunes.delete(UNKNOWN)
    assert info.value.attempts == 1


def test_delete_whose_answer_was_lost_says_so_on_the_retry(
    server: FakeTogether, client: Client, sleeps: list[float]
) -> None:
    # The first attempt deletes the job but its answer is a 500; the retry gets 404.
    job = server.add_job()
    server.fail_next("DELETE", "/fine-tunes/*", 500, after_handling=True)
    with pytest.raises(
        NotFoundError, match="an earlier attempt may already have deleted it"
    ) as info:
        client.fine_tunes.delete(job["id"])
    assert info.value.attempts == 2
    assert job["id"] not in server.jobs
    assert len(server.requests_to("DELETE", f"/fine-tunes/{job['id']}")) == 2
    assert len(sleeps) == 1


def test_delete_rejects_a_bad_id_before_sending(server: FakeTogether, client: Client) -> None:
    with pytest.raises(ValueError, match="ft-"):
        client.fine_tunes.delete("file-123")
    assert server.requests == []


# -- price ----------------------------------------------------------------------------------


def test_estimate_price(server: FakeTogether, client: Client) -> None:
    price = client.fine_tunes.estimate_price(
        training_file="file-abc",
        model=MODEL,
        validation_file="file-val",
        n_epochs=2,
        n_evals=3,
        training_type=LoRATraining(lora_r=16),
        training_method=DPO(dpo_beta=0.2),
    )
    assert isinstance(price, PriceEstimate)
    assert price.estimation_available is True
    assert price.estimated_total_price == pytest.approx((500000 + 75000) * 0.000004)
    assert price.allowed_to_proceed is True
    assert price.user_limit == 1000.0
    assert price.estimated_train_token_count == 500000
    assert price.estimated_eval_token_count == 75000
    assert price.unavailable_reason is None
    (sent,) = server.requests_to("POST", "/fine-tunes/estimate-price")
    assert sent.json() == {
        "training_file": "file-abc",
        "model": MODEL,
        "validation_file": "file-val",
        "n_epochs": 2,
        "n_evals": 3,
        "training_type": {"type": "Lora", "lora_r": 16, "lora_alpha": 32},
        "training_method": {"method": "dpo", "dpo_beta": 0.2},
    }


def test_estimate_price_sends_only_what_was_given(server: FakeTogether, client: Client) -> None:
    client.fine_tunes.estimate_price(training_file="file-abc", from_checkpoint="ft-1:10")
    (sent,) = server.requests_to("POST", "/fine-tunes/estimate-price")
    assert sent.json() == {"training_file": "file-abc", "from_checkpoint": "ft-1:10"}


def test_estimate_price_unavailable(client: Client) -> None:
    price = client.fine_tunes.estimate_price(training_file="file-unvalidated-1", model=MODEL)
    assert price.estimation_available is False
    assert price.unavailable_reason == "train_file_not_validated"
    assert price.estimated_total_price is None


def test_estimate_price_server_error(
    server: FakeTogether, make_client: Callable[..., Client]
) -> None:
    server.fail_next("POST", "/fine-tunes/estimate-price", 500, times=5)
    client = make_client(max_retries=1)
    with pytest.raises(InternalServerError) as info:
        client.fine_tunes.estimate_price(training_file="file-abc", model=MODEL)
    assert info.value.status_code == 500
    assert info.value.attempts == 2  # asking for a price twice is harmless


def test_estimate_price_malformed_answer(server: FakeTogether, client: Client) -> None:
    server.fail_next(
        "POST", "/fine-tunes/estimate-price", 200, body={"estimated_total_price": "lots"}
    )
    with pytest.raises(APIResponseValidationError, match="estimated_total_price"):
        client.fine_tunes.estimate_price(training_file="file-abc", model=MODEL)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"training_file": "data.jsonl"},
        {"training_file": "file-abc", "n_epochs": 0},
        {"training_file": "file-abc", "n_evals": -1},
        {"training_file": "file-abc", "model": 5},
        {"training_file": "file-abc", "from_checkpoint": ""},
        {"training_file": "file-abc", "model": MODEL, "training_type": "lora"},
        {"training_file": "file-abc", "model": MODEL, "training_method": "sft"},
        {"training_file": "file-abc", "model": MODEL, "training_type": LoRATraining(lora_r="8")},
    ],
)
def test_estimate_price_checks_arguments_before_sending(
    server: FakeTogether, client: Client, kwargs: dict[str, Any]
) -> None:
    name = list(kwargs)[-1]
    if isinstance(kwargs[name], LoRATraining):
        name = "lora_r"
    # Each problem on a line of its own, naming the argument (a bad file ID on its own).
    with pytest.raises(ValueError, match=rf"(?m)^(  - )?{name}\b"):
        client.fine_tunes.estimate_price(**kwargs)
    assert server.requests == []


# -- models ---------------------------------------------------------------------------------


def test_model_limits(server: FakeTogether, client: Client) -> None:
    limits = client.fine_tunes.model_limits(MODEL)
    assert isinstance(limits, ModelLimits)
    assert limits.model_name == MODEL
    assert limits.max_num_epochs == 20
    assert limits.full_training is not None
    assert limits.lora_training is not None
    assert limits.lora_training.max_rank == 64
    assert limits.lora_training.max_batch_size == 96
    (sent,) = server.requests_to("GET", "/fine-tunes/models/limits")
    assert sent.query == {"model_name": MODEL}


def test_model_limits_without_full_training(client: Client) -> None:
    assert client.fine_tunes.model_limits(LORA_ONLY).full_training is None


def test_model_limits_unknown_model(client: Client) -> None:
    with pytest.raises(NotFoundError, match="not supported") as info:
        client.fine_tunes.model_limits("nobody/no-model")
    assert info.value.status_code == 404
    assert isinstance(info.value.body, dict)
    assert "message" in info.value.body


def test_model_limits_rejects_an_empty_name(server: FakeTogether, client: Client) -> None:
    with pytest.raises(ValueError, match="model must be a non-empty model name"):
        client.fine_tunes.model_limits(" ")
    assert server.requests == []


def test_model_limits_malformed_answer(server: FakeTogether, client: Client) -> None:
    server.fail_next("GET", "/fine-tunes/models/limits", 200, body={"max_num_epochs": 3})
    with pytest.raises(APIResponseValidationError, match="model_name"):
        client.fine_tunes.model_limits(MODEL)


def test_supported_models(server: FakeTogether, client: Client) -> None:
    models = client.fine_tunes.supported_models()
    assert MODEL in models
    assert all(isinstance(m, str) for m in models)


def test_supported_models_malformed_answer(server: FakeTogether, client: Client) -> None:
    server.fail_next("GET", "/fine-tunes/models/supported", 200, body={"data": []})
    with pytest.raises(APIResponseValidationError, match="models"):
        client.fine_tunes.supported_models()


# -- metrics --------------------------------------------------------------------------------


def test_list_metrics(server: FakeTogether, client: Client) -> None:
    job = server.add_job(status="completed")
    rows = client.fine_tunes.list_metrics(job["id"])
    assert [row["train/global_step"] for row in rows] == [float(s) for s in range(1, 21)]
    assert rows[0]["train/loss"] == pytest.approx(1.8)
    (sent,) = server.requests_to("GET", f"/fine-tunes/{job['id']}/metrics")
    assert sent.query == {}


def test_list_metrics_filters_are_query_parameters(server: FakeTogether, client: Client) -> None:
    job = server.add_job(status="completed")
    rows = client.fine_tunes.list_metrics(job["id"], global_step_from=5, global_step_to=7)
    assert [row["train/global_step"] for row in rows] == [5.0, 6.0, 7.0]
    (sent,) = server.requests_to("GET", f"/fine-tunes/{job['id']}/metrics")
    assert sent.query == {"global_step_from": "5", "global_step_to": "7"}
    assert sent.body == b""


def test_list_metrics_times_are_sent_in_utc(server: FakeTogether, client: Client) -> None:
    job = server.add_job(status="completed")
    plus_two = timezone(timedelta(hours=2))
    since = datetime(2026, 1, 1, 14, 0, 0, 250000, tzinfo=plus_two)
    until = datetime(2099, 1, 1, tzinfo=timezone.utc)
    rows = client.fine_tunes.list_metrics(job["id"], logged_at_from=since, logged_at_to=until)
    assert len(rows) == 20
    (sent,) = server.requests_to("GET", f"/fine-tunes/{job['id']}/metrics")
    assert sent.query == {
        "logged_at_from": "2026-01-01T12:00:00.250000Z",
        "logged_at_to": "2099-01-01T00:00:00Z",
    }
    none = client.fine_tunes.list_metrics(job["id"], logged_at_from=until)
    assert none == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"logged_at_from": datetime(2026, 1, 1)},  # naive: which zone?
        {"logged_at_to": "2026-01-01"},
        {"global_step_from": 1.5},
        {"global_step_to": True},
    ],
)
def test_list_metrics_rejects_bad_filters_before_sending(
    server: FakeTogether, client: Client, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=f"^{next(iter(kwargs))} must be"):
        client.fine_tunes.list_metrics("ft-1", **kwargs)
    assert server.requests == []


def test_list_metrics_unknown_job(client: Client) -> None:
    with pytest.raises(NotFoundError):
        client.fine_tunes.list_metrics(UNKNOWN)


def test_list_metrics_malformed_answer(server: FakeTogether, client: Client) -> None:
    job = server.add_job(status="completed")
    server.fail_next("GET", "/fine-tunes/*/metrics", 200, body={"metrics": [{"loss": "high"}]})
    with pytest.raises(APIResponseValidationError):
        client.fine_tunes.list_metrics(job["id"])


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda ft: ft.list_checkpoints("ft-1"),
        lambda ft: ft.delete("ft-1"),
        lambda ft: ft.estimate_price(training_file="file-abc", model=MODEL),
        lambda ft: ft.model_limits(MODEL),
        lambda ft: ft.supported_models(),
        lambda ft: ft.list_metrics("ft-1"),
    ],
    ids=["checkpoints", "delete", "price", "limits", "supported", "metrics"],
)
def test_wrong_api_key(
    make_client: Callable[..., Client], sleeps: list[float], call: Callable[[Any], Any]
) -> None:
    client = make_client(api_key="wrong-key")
    with pytest.raises(AuthenticationError) as info:
        call(client.fine_tunes)
    assert info.value.status_code == 401
    assert sleeps == []  # a 401 is never retried


# -- how many requests create sends -------------------------------------------------------------


def _api_calls(server: FakeTogether) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests]


def test_create_sends_exactly_one_request(server: FakeTogether, client: Client) -> None:
    job = client.fine_tunes.create(training_file="file-abc", model=MODEL, n_epochs=2)
    assert job.id in server.jobs
    assert _api_calls(server) == ["POST /v1/fine-tunes"]


def test_create_with_check_limits_fetches_limits_once_per_model(
    server: FakeTogether, client: Client
) -> None:
    client.fine_tunes.create(training_file="file-abc", model=MODEL, check_limits=True)
    assert _api_calls(server) == ["GET /v1/fine-tunes/models/limits", "POST /v1/fine-tunes"]
    server.requests.clear()
    client.fine_tunes.create(training_file="file-abc", model=MODEL, check_limits=True)
    assert _api_calls(server) == ["POST /v1/fine-tunes"]
    server.requests.clear()
    client.fine_tunes.create(training_file="file-abc", model=LORA_ONLY, check_limits=True)
    assert _api_calls(server) == ["GET /v1/fine-tunes/models/limits", "POST /v1/fine-tunes"]


def test_limits_cache_is_per_client(
    server: FakeTogether, make_client: Callable[..., Client]
) -> None:
    for _ in range(2):
        make_client().fine_tunes.create(training_file="file-abc", model=MODEL, check_limits=True)
    assert len(server.requests_to("GET", "/fine-tunes/models/limits")) == 2


def test_create_over_the_limits_sends_nothing_after_the_limits(
    server: FakeTogether, client: Client
) -> None:
    with pytest.raises(ValueError, match="training_type") as info:
        client.fine_tunes.create(
            training_file="file-abc",
            model=LORA_ONLY,
            training_type=FullTraining(),
            batch_size=512,
            n_epochs=50,
            learning_rate=2.0,
            check_limits=True,
        )
    text = str(info.value)
    for name in ("training_type", "n_epochs", "learning_rate"):
        assert name in text
    with pytest.raises(ValueError, match=r"batch_size: must be in \[8, 32\]"):
        client.fine_tunes.create(
            training_file="file-abc", model=LORA_ONLY, batch_size=512, check_limits=True
        )
    client.fine_tunes.create(
        training_file="file-abc", model=LORA_ONLY, batch_size="max", check_limits=True
    )
    assert len(server.requests_to("POST", "/fine-tunes")) == 1


def test_create_checks_lora_rank_and_dpo_batch_against_limits(
    server: FakeTogether, client: Client
) -> None:
    with pytest.raises(ValueError, match=r"lora_r: must be at most 64") as info:
        client.fine_tunes.create(
            training_file="file-abc",
            model=MODEL,
            training_type=LoRATraining(lora_r=128),
            training_method=DPO(),
            batch_size=96,  # fine for SFT, over the DPO maximum (48)
            check_limits=True,
        )
    assert "batch_size: must be in [8, 48] for DPO training" in str(info.value)
    assert server.requests_to("POST", "/fine-tunes") == []


def test_create_with_check_limits_for_an_unknown_model(
    server: FakeTogether, client: Client
) -> None:
    with pytest.raises(NotFoundError):
        client.fine_tunes.create(training_file="file-abc", model="nobody/x", check_limits=True)
    assert server.requests_to("POST", "/fine-tunes") == []
    # A failed fetch is not cached.
    with pytest.raises(NotFoundError):
        client.fine_tunes.create(training_file="file-abc", model="nobody/x", check_limits=True)
    assert len(server.requests_to("GET", "/fine-tunes/models/limits")) == 2


def test_model_limits_refreshes_the_cache(server: FakeTogether, client: Client) -> None:
    client.fine_tunes.model_limits(MODEL)
    client.fine_tunes.model_limits(MODEL)  # an explicit call always asks
    client.fine_tunes.create(training_file="file-abc", model=MODEL, check_limits=True)
    assert len(server.requests_to("GET", "/fine-tunes/models/limits")) == 2


def test_invalid_create_sends_nothing(server: FakeTogether, client: Client) -> None:
    with pytest.raises(ValueError, match="n_epochs"):
        client.fine_tunes.create(training_file="file-abc", model=MODEL, n_epochs=0)
    with pytest.raises(ValueError, match="n_epochs"):
        client.fine_tunes.create(
            training_file="file-abc", model=MODEL, n_epochs=0, check_limits=True
        )
    assert server.requests == []


def test_create_folds_shorthands_into_the_training_method(
    server: FakeTogether, client: Client
) -> None:
    client.fine_tunes.create(training_file="file-abc", model=MODEL, train_on_inputs=False)
    client.fine_tunes.create(
        training_file="file-abc",
        model=MODEL,
        training_method=DPO(),
        dpo_beta=0.3,
        simpo_gamma=0.5,
    )
    first, second = (r.json() for r in server.requests_to("POST", "/fine-tunes"))
    assert first["training_method"] == {"method": "sft", "train_on_inputs": False}
    assert "train_on_inputs" not in first
    assert second["training_method"] == {
        "method": "dpo",
        "dpo_beta": 0.3,
        "simpo_gamma": 0.5,
        # SimPO's settings, sent as the official SDK sends them.
        "dpo_reference_free": True,
        "dpo_normalize_logratios_by_length": True,
    }
