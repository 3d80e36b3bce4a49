"""The create checks of the newer options (early stopping, gradient accumulation), the
model defaults applied before sending (LoRA rank, vision), and file names made safe."""

from __future__ import annotations

from typing import Any

import pytest

from together_finetune._transfer.presigned import safe_filename
from together_finetune.models import (
    FullTraining,
    LoRATraining,
    ModelLimits,
    MultimodalParams,
    TrainingLimits,
)
from together_finetune.validation import (
    DEFAULT_LORA_RANK,
    apply_model_defaults,
    build_create_request,
    needs_model_limits,
)

BASE: dict[str, Any] = {"training_file": "file-1", "model": "m", "validation_file": "file-2"}


def problems(**arguments: Any) -> str:
    with pytest.raises(ValueError, match="invalid fine-tune arguments") as info:
        build_create_request(**{**BASE, **arguments})
    return str(info.value)


def test_early_stopping_with_enough_evaluations_passes() -> None:
    request = build_create_request(**BASE, n_evals=4, early_stopping_enabled=True)
    assert request.early_stopping_enabled is True


def test_early_stopping_counts_the_default_patience_and_warmup() -> None:
    text = problems(n_evals=3, early_stopping_enabled=True)
    assert (
        "n_evals >= early_stopping_patience (2) + early_stopping_warmup_evals (1) + 1 = 4" in text
    )


def test_early_stopping_counts_the_given_patience_and_warmup() -> None:
    build_create_request(
        **BASE,
        n_evals=6,
        early_stopping_enabled=True,
        early_stopping_patience=5,
        early_stopping_warmup_evals=0,
    )
    text = problems(
        n_evals=5,
        early_stopping_enabled=True,
        early_stopping_patience=5,
        early_stopping_warmup_evals=0,
    )
    assert "= 6, got 5" in text


def test_early_stopping_needs_a_validation_file_and_every_problem_is_listed() -> None:
    text = problems(
        validation_file=None,
        early_stopping_enabled=True,
        early_stopping_patience=0,
        early_stopping_min_delta=-1.0,
        gradient_accumulation_steps=-2,
    )
    assert "early_stopping_enabled: needs a validation_file" in text
    assert "early_stopping_patience: must be an integer >= 1, got 0" in text
    assert "early_stopping_min_delta: must be a number >= 0, got -1.0" in text
    assert "gradient_accumulation_steps: must be an integer >= 0, got -2" in text


def test_early_stopping_options_without_early_stopping_are_refused() -> None:
    text = problems(early_stopping_patience=3, early_stopping_min_delta=0.1)
    assert "early_stopping_patience, early_stopping_min_delta: only apply with" in text


def test_early_stopping_enabled_must_be_a_boolean() -> None:
    assert "early_stopping_enabled: must be True or False" in problems(early_stopping_enabled="yes")


def test_gradient_accumulation_zero_means_the_model_default() -> None:
    assert (
        build_create_request(**BASE, gradient_accumulation_steps=0).gradient_accumulation_steps == 0
    )


def limits(default_rank: Any = 32, vision: Any = False) -> ModelLimits:
    return ModelLimits(
        model_name="m",
        lora_training=TrainingLimits(max_rank=64, default_rank=default_rank),
        supports_vision=vision,
    )


def test_lora_without_a_rank_takes_the_model_default_and_twice_its_alpha() -> None:
    request = build_create_request(**BASE, training_type=LoRATraining())
    assert needs_model_limits(request)
    sent = apply_model_defaults(request, limits())
    assert sent.training_type == LoRATraining(lora_r=32, lora_alpha=64)


def test_a_given_alpha_is_kept_with_the_default_rank() -> None:
    request = build_create_request(**BASE, training_type=LoRATraining(lora_alpha=5))
    assert apply_model_defaults(request, limits()).training_type == LoRATraining(32, 5)


@pytest.mark.parametrize("found", [None, limits(default_rank=None)])
def test_without_a_default_rank_the_rank_is_8(found: Any) -> None:
    request = build_create_request(**BASE, training_type=LoRATraining())
    sent = apply_model_defaults(request, found)
    assert sent.training_type == LoRATraining(lora_r=DEFAULT_LORA_RANK)
    assert DEFAULT_LORA_RANK == 8


def test_a_given_rank_or_full_training_needs_no_limits() -> None:
    for kind in (LoRATraining(lora_r=4), FullTraining(), None):
        request = build_create_request(**BASE, training_type=kind)
        assert not needs_model_limits(request)
        assert apply_model_defaults(request, limits()) is request


def test_continuing_without_a_model_needs_no_limits() -> None:
    request = build_create_request(
        training_file="file-1", from_checkpoint="ft-1", training_type=LoRATraining()
    )
    assert not needs_model_limits(request)


def test_train_vision_on_a_model_without_vision_is_refused() -> None:
    request = build_create_request(**BASE, multimodal_params=MultimodalParams(train_vision=True))
    assert needs_model_limits(request)
    with pytest.raises(ValueError, match="m does not support vision training"):
        apply_model_defaults(request, limits())
    assert apply_model_defaults(request, limits(vision=True)) is request
    assert apply_model_defaults(request, limits(vision=None)) is request


def test_train_vision_false_needs_no_limits() -> None:
    request = build_create_request(**BASE, multimodal_params=MultimodalParams(train_vision=False))
    assert not needs_model_limits(request)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("ft-1-tokenized.tar.zst", "ft-1-tokenized.tar.zst"),
        ("../../etc/passwd", "passwd"),
        ("..", "fallback"),
        ("a/..\\b c.tar", "b_c.tar"),
        (".hidden", "hidden"),
        ("a..b", "a_b"),
        (None, "fallback"),
        ("", "fallback"),
        ("x" * 300, "x" * 200),
    ],
)
def test_a_server_file_name_is_made_safe(name: Any, safe: str) -> None:
    assert safe_filename(name, "fallback") == safe
