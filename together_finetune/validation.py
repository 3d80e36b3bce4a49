"""Checks of fine-tune arguments, run before anything is sent.

Pure functions: they read a :class:`FineTuneRequest` (and a model's limits)
and report every problem at once, each naming the argument and what it allows.
"""

from __future__ import annotations

from typing import List, Literal, Optional, Union

import attrs

from .models import (
    DPO,
    SFT,
    CosineLRScheduler,
    FineTuneRequest,
    FullTraining,
    LinearLRScheduler,
    LoRATraining,
    ModelLimits,
)

__all__ = ["check_against_limits", "create_request_problems", "validate_create_request"]

MAX_SUFFIX_LENGTH = 64


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def create_request_problems(
    request: FineTuneRequest, *, train_on_inputs: Optional[Union[bool, str]] = None
) -> List[str]:
    """Every problem with a create request, as ``"<argument>: <what is allowed>"`` lines."""
    problems: List[str] = []
    r = request

    def need_int(name: str, value: object, low: int) -> None:
        if value is not None and not (_is_int(value) and value >= low):  # type: ignore[operator]
            problems.append(f"{name}: must be an integer >= {low}, got {value!r}")

    def need_range(
        name: str,
        value: object,
        low: float,
        high: Optional[float],
        *,
        open_low: bool = False,
        open_high: bool = False,
    ) -> None:
        if value is None:
            return
        ok = _is_number(value)
        if ok:
            v = float(value)  # type: ignore[arg-type]
            ok = (v > low if open_low else v >= low) and (
                high is None or (v < high if open_high else v <= high)
            )
        if not ok:
            lo = f"({low}" if open_low else f"[{low}"
            hi = f"{high})" if open_high else (f"{high}]" if high is not None else "inf)")
            problems.append(f"{name}: must be a number in {lo}, {hi}, got {value!r}")

    if (r.model is None) == (r.from_checkpoint is None):
        problems.append(
            "model / from_checkpoint: give exactly one (model to start a new job, "
            "from_checkpoint to continue one)"
        )
    if r.from_hf_model is not None and r.model is None:
        problems.append("from_hf_model: needs model (the base architecture it is close to)")
    need_int("n_epochs", r.n_epochs, 1)
    need_int("n_checkpoints", r.n_checkpoints, 1)
    need_int("n_evals", r.n_evals, 0)
    if _is_int(r.n_evals) and r.n_evals and r.validation_file is None:
        problems.append("n_evals: evaluations (n_evals > 0) need a validation_file")
    if (
        r.batch_size is not None
        and r.batch_size != "max"
        and not (
            isinstance(r.batch_size, int)
            and not isinstance(r.batch_size, bool)
            and r.batch_size >= 1
        )
    ):
        problems.append(f"batch_size: must be an integer >= 1 or 'max', got {r.batch_size!r}")
    need_range("learning_rate", r.learning_rate, 0, None, open_low=True)
    need_range("warmup_ratio", r.warmup_ratio, 0, 1)
    need_range("max_grad_norm", r.max_grad_norm, 0, None)
    need_range("weight_decay", r.weight_decay, 0, None)
    need_int("max_seq_length", r.max_seq_length, 1)
    if isinstance(r.lr_scheduler, (LinearLRScheduler, CosineLRScheduler)):
        need_range("min_lr_ratio", r.lr_scheduler.min_lr_ratio, 0, 1)
    if isinstance(r.lr_scheduler, CosineLRScheduler):
        need_range("num_cycles", r.lr_scheduler.num_cycles, 0, None, open_low=True)
    if isinstance(r.training_type, LoRATraining):
        need_int("lora_r", r.training_type.lora_r, 1)
        need_int("lora_alpha", r.training_type.lora_alpha, 1)
        need_range("lora_dropout", r.training_type.lora_dropout, 0, 1, open_high=True)
    if isinstance(r.training_method, SFT) and r.training_method.train_on_inputs not in (
        True,
        False,
        "auto",
    ):
        problems.append(
            "train_on_inputs: must be True, False or 'auto', "
            f"got {r.training_method.train_on_inputs!r}"
        )
    if isinstance(r.training_method, DPO):
        if train_on_inputs is not None:
            problems.append("train_on_inputs: only applies to SFT, not DPO")
        need_range("dpo_beta", r.training_method.dpo_beta, 0, None, open_low=True)
        need_range("rpo_alpha", r.training_method.rpo_alpha, 0, None)
        need_range("simpo_gamma", r.training_method.simpo_gamma, 0, None)
    elif train_on_inputs is not None and train_on_inputs not in (True, False, "auto"):
        problems.append(f"train_on_inputs: must be True, False or 'auto', got {train_on_inputs!r}")
    if r.suffix is not None and (
        not isinstance(r.suffix, str) or len(r.suffix) > MAX_SUFFIX_LENGTH
    ):
        problems.append(f"suffix: at most {MAX_SUFFIX_LENGTH} characters, got {len(str(r.suffix))}")
    return problems


def validate_create_request(
    request: FineTuneRequest, *, train_on_inputs: Optional[Union[bool, Literal["auto"]]] = None
) -> FineTuneRequest:
    """Check a create request; return it with ``train_on_inputs`` folded into SFT.

    :raises ValueError: listing every problem at once.
    """
    problems = create_request_problems(request, train_on_inputs=train_on_inputs)
    if problems:
        raise ValueError("invalid fine-tune arguments:\n  - " + "\n  - ".join(problems))
    if train_on_inputs is not None and not isinstance(request.training_method, DPO):
        request = attrs.evolve(request, training_method=SFT(train_on_inputs=train_on_inputs))
    return request


def check_against_limits(request: FineTuneRequest, limits: ModelLimits) -> List[str]:
    """Problems of a (valid) request against a model's limits; empty when it fits."""
    problems: List[str] = []
    full = isinstance(request.training_type, FullTraining)
    training = limits.full_training if full else limits.lora_training
    if full and limits.full_training is None:
        problems.append(f"training_type: {limits.model_name} does not support full training")
    if training is not None and _is_int(request.batch_size):
        batch = int(request.batch_size)  # type: ignore[arg-type]
        high = training.max_batch_size_dpo if isinstance(request.training_method, DPO) else None
        high = high if high is not None else training.max_batch_size
        low = training.min_batch_size
        if (low is not None and batch < low) or (high is not None and batch > high):
            problems.append(f"batch_size: must be in [{low}, {high}] for this model, got {batch}")
    lora = request.training_type
    max_rank = training.max_rank if training is not None else None
    if isinstance(lora, LoRATraining) and max_rank is not None and lora.lora_r > max_rank:
        problems.append(f"lora_r: at most {max_rank} for this model, got {lora.lora_r}")
    epochs, evals = request.n_epochs, request.n_evals
    if limits.max_num_epochs is not None and epochs is not None and epochs > limits.max_num_epochs:
        problems.append(f"n_epochs: at most {limits.max_num_epochs}, got {request.n_epochs}")
    if limits.max_num_evals is not None and evals is not None and evals > limits.max_num_evals:
        problems.append(f"n_evals: at most {limits.max_num_evals}, got {request.n_evals}")
    if request.learning_rate is not None:
        low_lr, high_lr = limits.min_learning_rate, limits.max_learning_rate
        if (low_lr is not None and request.learning_rate < low_lr) or (
            high_lr is not None and request.learning_rate > high_lr
        ):
            problems.append(
                f"learning_rate: must be in [{low_lr}, {high_lr}] for this model, "
                f"got {request.learning_rate}"
            )
    return problems
