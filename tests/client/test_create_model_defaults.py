"""create() against the fake: the newer options on the wire, the model's default LoRA
rank read once per model per client, vision refused before sending, metrics resolution,
and unknown fields of an answer kept."""

from __future__ import annotations

from typing import Any

import pytest

from together_finetune import Client, LoRATraining, MultimodalParams
from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
OTHER = "meta-llama/Llama-3.2-3B-Instruct"


def sent(server: FakeTogether) -> dict[str, Any]:
    body = server.requests_to("POST", "/fine-tunes")[-1].json()
    assert isinstance(body, dict)
    return body


def limits_reads(server: FakeTogether) -> int:
    return len(server.requests_to("GET", "/fine-tunes/models/limits"))


def test_lora_without_a_rank_sends_the_model_default_rank(
    client: Client, server: FakeTogether
) -> None:
    client.fine_tunes.create(training_file="file-1", model=MODEL, training_type=LoRATraining())
    default = client.fine_tunes.model_limits(MODEL).lora_training
    assert default is not None
    assert default.default_rank is not None
    training_type = sent(server)["training_type"]
    assert training_type == {
        "type": "Lora",
        "lora_r": default.default_rank,
        "lora_alpha": 2 * default.default_rank,
    }


def test_the_limits_are_read_once_per_model_per_client(
    client: Client, server: FakeTogether
) -> None:
    for _ in range(3):
        client.fine_tunes.create(training_file="file-1", model=MODEL, training_type=LoRATraining())
    assert limits_reads(server) == 1
    client.fine_tunes.create(training_file="file-1", model=OTHER, training_type=LoRATraining())
    assert limits_reads(server) == 2


def test_a_given_rank_is_sent_as_given_and_costs_no_request(
    client: Client, server: FakeTogether
) -> None:
    client.fine_tunes.create(
        training_file="file-1", model=MODEL, training_type=LoRATraining(lora_r=4)
    )
    assert limits_reads(server) == 0
    assert len(server.requests) == 1
    assert sent(server)["training_type"] == {"type": "Lora", "lora_r": 4, "lora_alpha": 8}


def test_train_vision_on_a_model_without_vision_is_refused_before_sending(
    client: Client, server: FakeTogether
) -> None:
    with pytest.raises(ValueError, match="does not support vision training"):
        client.fine_tunes.create(
            training_file="file-1",
            model=MODEL,
            multimodal_params=MultimodalParams(train_vision=True),
        )
    assert server.requests_to("POST", "/fine-tunes") == []


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("training_type", "lora"),
        ("training_method", "sft"),
        ("lr_scheduler", "cosine"),
        ("multimodal_params", "vision"),
        ("packing", "yes"),
        ("wandb_name", 5),
    ],
)
def test_arguments_of_the_wrong_type_are_refused_before_anything_is_sent(
    client: Client, server: FakeTogether, argument: str, value: Any
) -> None:
    with pytest.raises(ValueError, match=rf"(?m)^  - {argument}: must be "):
        client.fine_tunes.create(training_file="file-1", model=MODEL, **{argument: value})
    assert server.requests == []


def test_a_bad_argument_stops_create_before_the_limits_are_read(
    client: Client, server: FakeTogether
) -> None:
    # LoRATraining() alone reads the model's limits for its default rank.
    with pytest.raises(ValueError, match=r"(?m)^  - suffix: must be a string"):
        client.fine_tunes.create(
            training_file="file-1", model=MODEL, training_type=LoRATraining(), suffix=7
        )
    assert server.requests == []


def test_early_stopping_and_gradient_accumulation_are_sent(
    client: Client, server: FakeTogether
) -> None:
    client.fine_tunes.create(
        training_file="file-1",
        validation_file="file-2",
        model=MODEL,
        n_evals=5,
        gradient_accumulation_steps=4,
        early_stopping_enabled=True,
        early_stopping_patience=2,
        early_stopping_min_delta=0.01,
        early_stopping_warmup_evals=2,
    )
    body = sent(server)
    assert {key: value for key, value in body.items() if "early" in key or "gradient" in key} == {
        "gradient_accumulation_steps": 4,
        "early_stopping_enabled": True,
        "early_stopping_patience": 2,
        "early_stopping_min_delta": 0.01,
        "early_stopping_warmup_evals": 2,
    }


def test_too_few_evaluations_for_early_stopping_send_nothing(
    client: Client, server: FakeTogether
) -> None:
    with pytest.raises(ValueError, match="n_evals: early stopping needs"):
        client.fine_tunes.create(
            training_file="file-1",
            validation_file="file-2",
            model=MODEL,
            n_evals=2,
            early_stopping_enabled=True,
        )
    assert server.requests == []


def test_build_request_shows_what_create_sends(client: Client, server: FakeTogether) -> None:
    request = client.fine_tunes.build_request(
        training_file="file-1", model=MODEL, training_type=LoRATraining()
    )
    assert server.requests_to("POST", "/fine-tunes") == []
    client.fine_tunes.create_from_request(request)
    assert isinstance(request.training_type, LoRATraining)
    assert request.training_type.lora_r is not None
    assert sent(server)["training_type"]["lora_r"] == request.training_type.lora_r


def test_list_metrics_sends_the_resolution(client: Client, server: FakeTogether) -> None:
    job = server.add_job(status="completed")
    client.fine_tunes.list_metrics(job["id"], resolution=3)
    (request,) = server.requests_to("GET", f"/fine-tunes/{job['id']}/metrics")
    assert request.query["resolution"] == "3"


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_a_resolution_that_is_not_a_positive_integer_is_refused(
    client: Client, server: FakeTogether, bad: Any
) -> None:
    with pytest.raises(ValueError, match="resolution must be a positive integer"):
        client.fine_tunes.list_metrics("ft-1", resolution=bad)
    assert server.requests == []


def test_a_field_nobody_knows_yet_is_kept(client: Client, server: FakeTogether) -> None:
    job = server.add_job(status="completed", next_month_field={"a": 1})
    found = client.fine_tunes.retrieve(job["id"])
    assert found.extra["next_month_field"] == {"a": 1}


def test_a_price_estimate_for_lora_without_a_rank_sends_the_default_rank_too(
    client: Client, server: FakeTogether
) -> None:
    client.fine_tunes.estimate_price(
        training_file="file-1", model=MODEL, training_type=LoRATraining()
    )
    body = server.requests_to("POST", "/fine-tunes/estimate-price")[-1].json()
    rank = client.fine_tunes.model_limits(MODEL).lora_training.default_rank  # type: ignore[union-attr]
    assert body["training_type"] == {"type": "Lora", "lora_r": rank, "lora_alpha": 2 * rank}
