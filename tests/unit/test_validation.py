"""The pure argument checks: one test per rule, all problems reported at once,
and the checks against a model's limits."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import attrs
import pytest

from together_finetune import (
    DPO,
    SFT,
    CosineLRScheduler,
    FineTuneRequest,
    FullTraining,
    LinearLRScheduler,
    LoRATraining,
    ModelLimits,
    MultimodalParams,
    TrainingLimits,
    UnknownTrainingMethod,
)
from together_finetune.validation import (
    check_against_limits,
    create_request_problems,
    validate_create_request,
)

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def request(**fields: Any) -> FineTuneRequest:
    base: dict[str, Any] = {"training_file": "file-abc", "model": MODEL}
    base.update(fields)
    return FineTuneRequest(**base)


def problems(**fields: Any) -> list[str]:
    return create_request_problems(request(**fields))


def test_a_plain_request_is_valid() -> None:
    assert problems() == []
    assert validate_create_request(request()) == request()


def test_every_setting_at_its_bounds_is_valid() -> None:
    assert (
        problems(
            validation_file="file-val",
            n_epochs=1,
            n_checkpoints=1,
            n_evals=0,
            batch_size="max",
            learning_rate=1e-9,
            warmup_ratio=1.0,
            max_grad_norm=0.0,
            weight_decay=0.0,
            lr_scheduler=CosineLRScheduler(min_lr_ratio=1.0, num_cycles=0.01),
            training_type=LoRATraining(lora_r=1, lora_dropout=0.0),
            training_method=DPO(dpo_beta=0.01, rpo_alpha=0.0, simpo_gamma=0.0),
            suffix="x" * 64,
        )
        == []
    )
    assert problems(n_evals=5, validation_file="file-val", batch_size=1, warmup_ratio=0) == []
    assert problems(lr_scheduler=LinearLRScheduler(min_lr_ratio=0.0)) == []


# One rule per case: (fields, the argument named, a fragment of the allowed range).
RULES: list[tuple[dict[str, Any], str, str]] = [
    ({"n_epochs": 0}, "n_epochs", ">= 1"),
    ({"n_epochs": 1.5}, "n_epochs", ">= 1"),
    ({"n_epochs": True}, "n_epochs", ">= 1"),
    ({"n_checkpoints": 0}, "n_checkpoints", ">= 1"),
    ({"n_evals": -1}, "n_evals", ">= 0"),
    ({"n_evals": 3}, "n_evals", "validation_file"),
    ({"batch_size": 0}, "batch_size", "'max'"),
    ({"batch_size": "min"}, "batch_size", "'max'"),
    ({"batch_size": 8.0}, "batch_size", "'max'"),
    ({"learning_rate": 0}, "learning_rate", "> 0"),
    ({"learning_rate": -1e-5}, "learning_rate", "> 0"),
    ({"learning_rate": float("nan")}, "learning_rate", "> 0"),
    ({"warmup_ratio": -0.1}, "warmup_ratio", "[0, 1]"),
    ({"warmup_ratio": 1.5}, "warmup_ratio", "[0, 1]"),
    ({"lr_scheduler": LinearLRScheduler(min_lr_ratio=1.1)}, "min_lr_ratio", "[0, 1]"),
    ({"lr_scheduler": CosineLRScheduler(min_lr_ratio=-0.1)}, "min_lr_ratio", "[0, 1]"),
    ({"max_grad_norm": -1.0}, "max_grad_norm", ">= 0"),
    ({"weight_decay": -0.01}, "weight_decay", ">= 0"),
    ({"lr_scheduler": CosineLRScheduler(num_cycles=0)}, "num_cycles", "> 0"),
    ({"training_type": LoRATraining(lora_dropout=1.0)}, "lora_dropout", "[0, 1)"),
    ({"training_type": LoRATraining(lora_dropout=-0.5)}, "lora_dropout", "[0, 1)"),
    ({"training_type": LoRATraining(lora_r=0, lora_alpha=8)}, "lora_r", ">= 1"),
    ({"training_type": LoRATraining(lora_alpha=0)}, "lora_alpha", ">= 1"),
    ({"training_method": DPO(dpo_beta=0)}, "dpo_beta", "> 0"),
    ({"training_method": DPO(rpo_alpha=-1)}, "rpo_alpha", ">= 0"),
    ({"training_method": DPO(simpo_gamma=-1)}, "simpo_gamma", ">= 0"),
    ({"training_method": SFT(train_on_inputs="yes")}, "train_on_inputs", "'auto'"),  # type: ignore[arg-type]
    ({"model": None}, "model / from_checkpoint", "exactly one"),
    ({"from_checkpoint": "ft-1"}, "model / from_checkpoint", "exactly one"),
    ({"model": ""}, "model", "non-empty"),
    (
        {"model": None, "from_checkpoint": "ft-1", "from_hf_model": "org/m"},
        "from_hf_model",
        "model",
    ),
    ({"suffix": "x" * 65}, "suffix", "at most 64"),
    ({"max_seq_length": 0}, "max_seq_length", ">= 1"),
    ({"random_seed": "42"}, "random_seed", "integer"),
    # Every other field is checked against its declared type (nested objects too).
    ({"training_type": "lora"}, "training_type", "FullTraining(...) or LoRATraining(...)"),
    ({"training_method": "sft"}, "training_method", "SFT(...) or DPO(...)"),
    ({"lr_scheduler": "cosine"}, "lr_scheduler", "CosineLRScheduler(...)"),
    ({"multimodal_params": {"train_vision": True}}, "multimodal_params", "MultimodalParams"),
    ({"multimodal_params": MultimodalParams(train_vision="yes")}, "train_vision", "True or False"),  # type: ignore[arg-type]
    ({"packing": "yes"}, "packing", "True or False"),
    ({"wandb_name": 5}, "wandb_name", "a string"),
    ({"hf_model_revision": ["main"]}, "hf_model_revision", "a string"),
    (
        {"training_type": LoRATraining(lora_r=8, lora_trainable_modules=["q_proj"])},  # type: ignore[arg-type]
        "lora_trainable_modules",
        "a string",
    ),
]


@pytest.mark.parametrize(
    ("fields", "argument", "allowed"), RULES, ids=[f"{r[1]}-{i}" for i, r in enumerate(RULES)]
)
def test_rule(fields: dict[str, Any], argument: str, allowed: str) -> None:
    found = problems(**fields)
    assert len(found) == 1, found
    assert found[0].startswith(f"{argument}:")
    assert allowed in found[0]
    with pytest.raises(ValueError, match="invalid fine-tune arguments"):
        validate_create_request(request(**fields))


def test_a_secret_of_the_wrong_type_is_named_by_its_type_only() -> None:
    found = problems(hf_api_token=b"hf_secret_value", wandb_api_key=["wandb-secret-value"])
    assert found == [
        "hf_api_token: must be a string, got bytes",
        "wandb_api_key: must be a string, got list",
    ]


def test_the_variants_for_newer_server_values_are_accepted_but_not_advertised() -> None:
    assert problems(training_method=UnknownTrainingMethod(method="orpo")) == []
    (found,) = problems(training_method=3)
    assert "Unknown" not in found


def test_continuing_from_a_checkpoint_needs_no_model() -> None:
    assert problems(model=None, from_checkpoint="ft-1:10") == []


def test_from_hf_model_with_model_is_valid() -> None:
    assert problems(from_hf_model="org/model", hf_model_revision="main") == []


# -- the train_on_inputs shorthand (SFT only) ----------------------------------------------


@pytest.mark.parametrize("value", [True, False, "auto"])
def test_train_on_inputs_becomes_sft(value: Any) -> None:
    folded = validate_create_request(request(), train_on_inputs=value)
    assert folded.training_method == SFT(train_on_inputs=value)


def test_train_on_inputs_matching_sft_is_accepted() -> None:
    folded = validate_create_request(
        request(training_method=SFT(train_on_inputs=False)), train_on_inputs=False
    )
    assert folded.training_method == SFT(train_on_inputs=False)


@pytest.mark.parametrize(
    ("method", "fragment"),
    [
        (DPO(), "only applies to SFT"),
        (UnknownTrainingMethod(method="grpo"), "only applies to SFT"),
        (SFT(train_on_inputs=True), "give it once"),
    ],
)
def test_train_on_inputs_only_with_sft(method: Any, fragment: str) -> None:
    found = create_request_problems(request(training_method=method), train_on_inputs=False)
    assert len(found) == 1
    assert found[0].startswith("train_on_inputs:")
    assert fragment in found[0]


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_train_on_inputs_values(value: Any) -> None:
    found = create_request_problems(request(), train_on_inputs=value)
    assert (found == []) is (value is None)


# -- the DPO shorthands (DPO only) --------------------------------------------------------


def test_dpo_options_fold_into_dpo() -> None:
    folded = validate_create_request(
        request(training_method=DPO(rpo_alpha=0.5)),
        dpo_options={"dpo_beta": 0.2, "dpo_reference_free": True, "simpo_gamma": None},
    )
    assert folded.training_method == DPO(dpo_beta=0.2, rpo_alpha=0.5, dpo_reference_free=True)


@pytest.mark.parametrize("method", [None, SFT()])
@pytest.mark.parametrize(
    "option",
    [
        {"dpo_beta": 0.1},
        {"rpo_alpha": 1.0},
        {"simpo_gamma": 0.5},
        {"dpo_normalize_logratios_by_length": True},
        {"dpo_reference_free": False},
    ],
)
def test_dpo_options_only_with_dpo(method: Any, option: dict[str, Any]) -> None:
    found = create_request_problems(request(training_method=method), dpo_options=option)
    assert len(found) == 1
    (name,) = option
    assert found[0].startswith(f"{name}:")
    assert "only apply to DPO" in found[0]


def test_dpo_option_given_twice_differently() -> None:
    found = create_request_problems(
        request(training_method=DPO(dpo_beta=0.1)), dpo_options={"dpo_beta": 0.2}
    )
    assert len(found) == 1
    assert found[0].startswith("dpo_beta:")


def test_dpo_options_are_range_checked() -> None:
    found = create_request_problems(
        request(training_method=DPO()),
        dpo_options={"dpo_beta": -1.0, "dpo_reference_free": "yes"},
    )
    assert [p.split(":")[0] for p in found] == ["dpo_beta", "dpo_reference_free"]


def test_unknown_dpo_option() -> None:
    found = create_request_problems(request(training_method=DPO()), dpo_options={"beta": 1})
    assert found[0].startswith("beta:")


# -- everything at once -------------------------------------------------------------------------


def test_all_problems_are_reported_at_once() -> None:
    bad = request(
        model=None,
        n_epochs=0,
        n_evals=2,
        batch_size=-4,
        learning_rate=0.0,
        warmup_ratio=2.0,
        training_type=LoRATraining(lora_r=8, lora_dropout=1.0),
        training_method=DPO(),
        suffix="s" * 100,
    )
    with pytest.raises(ValueError, match=r"^invalid fine-tune arguments:") as info:
        validate_create_request(bad, train_on_inputs=True)
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid fine-tune arguments:"
    named = [line.strip().removeprefix("- ").split(":")[0] for line in lines[1:]]
    assert named == [
        "model / from_checkpoint",
        "n_epochs",
        "n_evals",
        "batch_size",
        "learning_rate",
        "warmup_ratio",
        "lora_dropout",
        "train_on_inputs",
        "suffix",
    ]


def test_folding_returns_a_new_request_and_leaves_the_options_alone() -> None:
    options = {"dpo_beta": 0.2, "rpo_alpha": None}
    folded = validate_create_request(
        request(training_method=DPO()), train_on_inputs=None, dpo_options=options
    )
    assert folded.training_method == DPO(dpo_beta=0.2)
    assert options == {"dpo_beta": 0.2, "rpo_alpha": None}
    assert validate_create_request(request(), train_on_inputs=True) == request(
        training_method=SFT(train_on_inputs=True)
    )


def test_validation_loads_no_http_stack() -> None:
    # The checks run before any request (and in --dry-run): they must not need the transport.
    code = (
        "import sys\n"
        "import together_finetune.validation\n"
        "print(sorted(m for m in ('requests', 'urllib3', 'together_finetune.transport') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=20
    )
    assert result.stdout.strip() == "[]"


# -- limits ----------------------------------------------------------------------------------


LIMITS = ModelLimits(
    model_name=MODEL,
    full_training=TrainingLimits(max_batch_size=96, max_batch_size_dpo=48, min_batch_size=8),
    lora_training=TrainingLimits(
        max_batch_size=128, max_batch_size_dpo=64, min_batch_size=8, max_rank=64
    ),
    max_num_epochs=20,
    max_num_evals=100,
    max_num_checkpoints=10,
    max_seq_length_sft=8192,
    max_seq_length_dpo=4096,
    min_max_seq_length=512,
    max_learning_rate=1.0,
    min_learning_rate=1e-8,
)


def test_within_limits() -> None:
    fitting = request(
        batch_size=128,
        n_epochs=20,
        n_evals=100,
        n_checkpoints=10,
        learning_rate=1.0,
        training_type=LoRATraining(lora_r=64),
    )
    assert check_against_limits(fitting, LIMITS) == []
    assert check_against_limits(request(batch_size="max"), LIMITS) == []


LIMIT_RULES: list[tuple[dict[str, Any], str]] = [
    ({"batch_size": 4}, "batch_size: must be in [8, 128]"),
    ({"batch_size": 129}, "batch_size: must be in [8, 128]"),
    ({"batch_size": 97, "training_type": FullTraining()}, "batch_size: must be in [8, 96]"),
    ({"batch_size": 65, "training_method": DPO()}, "batch_size: must be in [8, 64] for DPO"),
    ({"n_epochs": 21}, "n_epochs: must be at most 20"),
    ({"n_evals": 101, "validation_file": "file-v"}, "n_evals: must be at most 100"),
    ({"n_checkpoints": 11}, "n_checkpoints: must be at most 10"),
    ({"learning_rate": 2.0}, "learning_rate: must be in [1e-08, 1]"),
    ({"learning_rate": 1e-9}, "learning_rate: must be in [1e-08, 1]"),
    ({"training_type": LoRATraining(lora_r=128)}, "lora_r: must be at most 64"),
    ({"max_seq_length": 8193}, "max_seq_length: must be in [512, 8192] for SFT"),
    ({"max_seq_length": 256}, "max_seq_length: must be in [512, 8192] for SFT"),
    (
        {"max_seq_length": 4097, "training_method": DPO()},
        "max_seq_length: must be in [512, 4096] for DPO",
    ),
]


@pytest.mark.parametrize(("fields", "expected"), LIMIT_RULES)
def test_limit_rule(fields: dict[str, Any], expected: str) -> None:
    found = check_against_limits(request(**fields), LIMITS)
    assert len(found) == 1, found
    assert found[0].startswith(expected)
    assert MODEL in found[0]


def test_dpo_limit_falls_back_to_half_the_batch_rounded_to_eight() -> None:
    unstated = attrs.evolve(
        LIMITS, lora_training=TrainingLimits(max_batch_size=100, min_batch_size=8)
    )
    assert check_against_limits(request(batch_size=48, training_method=DPO()), unstated) == []
    (found,) = check_against_limits(request(batch_size=49, training_method=DPO()), unstated)
    assert found.startswith("batch_size: must be in [8, 48] for DPO")


def test_full_training_unsupported() -> None:
    lora_only = attrs.evolve(LIMITS, full_training=None)
    found = check_against_limits(request(training_type=FullTraining()), lora_only)
    assert len(found) == 1
    assert found[0].startswith("training_type:")
    assert "full training" in found[0]


def test_limits_the_model_does_not_state_are_not_checked() -> None:
    bare = ModelLimits(model_name=MODEL)
    huge = request(batch_size=100000, n_epochs=1000, learning_rate=5.0)
    assert check_against_limits(huge, bare) == []


def test_all_limit_problems_at_once() -> None:
    found = check_against_limits(
        request(batch_size=1000, n_epochs=99, learning_rate=3.0, n_checkpoints=50), LIMITS
    )
    assert [p.split(":")[0] for p in found] == [
        "batch_size",
        "n_epochs",
        "n_checkpoints",
        "learning_rate",
    ]
