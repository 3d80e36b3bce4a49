"""Checks of fine-tune arguments, run before anything is sent.

Pure functions: they read a :class:`FineTuneRequest` (and a model's limits)
and report every problem at once, each naming the argument and what it allows.
"""

from __future__ import annotations

import math
import typing
from typing import Any, Dict, List, Literal, Mapping, Optional, Tuple, Union

import attrs

from ._resource import check_file_id
from .models import (
    DPO,
    SFT,
    CosineLRScheduler,
    FineTuneRequest,
    FullTraining,
    LinearLRScheduler,
    LoRATraining,
    ModelLimits,
    PriceEstimateRequest,
    TrainingMethod,
)

__all__ = [
    "DEFAULT_LORA_RANK",
    "DPO_OPTIONS",
    "EARLY_STOPPING_DEFAULTS",
    "MAX_SUFFIX_LENGTH",
    "SIMPO_SETTINGS",
    "apply_model_defaults",
    "build_create_request",
    "check_against_limits",
    "create_request_problems",
    "default_lora",
    "ensure_within_limits",
    "fold_simpo",
    "needs_model_limits",
    "price_request_problems",
    "type_problems",
    "validate_create_request",
]

MAX_SUFFIX_LENGTH = 64
#: The DPO settings ``create`` also takes as plain arguments (folded into ``DPO(...)``).
DPO_OPTIONS = (
    "dpo_beta",
    "rpo_alpha",
    "simpo_gamma",
    "dpo_normalize_logratios_by_length",
    "dpo_reference_free",
)

#: The rank ``LoRATraining()`` gets when the model's limits name no default rank.
DEFAULT_LORA_RANK = 8
#: What the API assumes for ``early_stopping_patience`` and ``early_stopping_warmup_evals``.
EARLY_STOPPING_DEFAULTS = {"early_stopping_patience": 2, "early_stopping_warmup_evals": 1}
_EARLY_STOPPING_OPTIONS = (
    "early_stopping_patience",
    "early_stopping_min_delta",
    "early_stopping_warmup_evals",
)

TrainOnInputs = Union[bool, Literal["auto"]]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_train_on_inputs(value: object) -> bool:
    return isinstance(value, bool) or value == "auto"


def _fold_method(
    request: FineTuneRequest,
    train_on_inputs: object,
    dpo_options: Mapping[str, object],
    problems: List[str],
) -> Optional[TrainingMethod]:
    """The training method with the shorthand arguments folded in; problems appended."""
    method = request.training_method
    if train_on_inputs is not None:
        if not _is_train_on_inputs(train_on_inputs):
            problems.append(
                f"train_on_inputs: must be True, False or 'auto', got {train_on_inputs!r}"
            )
        elif method is None:
            method = SFT(train_on_inputs=train_on_inputs)  # type: ignore[arg-type]
        elif not isinstance(method, SFT):
            problems.append(
                "train_on_inputs: only applies to SFT, not to "
                f"training_method={type(method).__name__}"
            )
        elif method.train_on_inputs != train_on_inputs:
            problems.append(
                "train_on_inputs: given both as an argument "
                f"({train_on_inputs!r}) and in training_method=SFT(train_on_inputs="
                f"{method.train_on_inputs!r}); give it once"
            )
    given = {name: value for name, value in dpo_options.items() if value is not None}
    for name in given:
        if name not in DPO_OPTIONS:
            problems.append(f"{name}: not a DPO option (known: {', '.join(DPO_OPTIONS)})")
    given = {name: value for name, value in given.items() if name in DPO_OPTIONS}
    if given:
        names = ", ".join(given)
        if not isinstance(method, DPO):
            shown = "none" if method is None else type(method).__name__
            problems.append(
                f"{names}: only apply to DPO (training_method=DPO(...)), "
                f"but training_method is {shown}"
            )
        else:
            clashes = [
                name
                for name, value in given.items()
                if getattr(method, name) is not None and getattr(method, name) != value
            ]
            if clashes:
                problems.append(
                    f"{', '.join(clashes)}: given both as an argument and in "
                    "training_method=DPO(...) with different values; give each once"
                )
            else:
                changes: Dict[str, Any] = dict(given)
                method = attrs.evolve(method, **changes)
    return method


def create_request_problems(
    request: FineTuneRequest,
    *,
    train_on_inputs: Optional[TrainOnInputs] = None,
    dpo_options: Optional[Mapping[str, Any]] = None,
) -> List[str]:
    """Every problem with a create request, as ``"<argument>: <what is allowed>"`` lines.

    :param train_on_inputs: the ``train_on_inputs`` shorthand argument, if given
        (only valid with SFT or no training method).
    :param dpo_options: the DPO shorthand arguments given (``dpo_beta``, ...;
        only valid with ``training_method=DPO(...)``).
    """
    return _check(request, train_on_inputs, dpo_options or {})[1]


def _check(
    request: FineTuneRequest, train_on_inputs: object, dpo_options: Mapping[str, object]
) -> Tuple[Optional[TrainingMethod], List[str]]:
    problems: List[str] = []
    r = request

    def need_int(name: str, value: object, low: int) -> None:
        problems.extend(_int_problems(name, value, low))

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
            ok = (
                not math.isnan(v)
                and (v > low if open_low else v >= low)
                and (high is None or (v < high if open_high else v <= high))
            )
        if not ok:
            if high is None:
                allowed = f"> {low:g}" if open_low else f">= {low:g}"
            else:
                lo = f"({low:g}" if open_low else f"[{low:g}"
                hi = f"{high:g})" if open_high else f"{high:g}]"
                allowed = f"in {lo}, {hi}"
            problems.append(f"{name}: must be a number {allowed}, got {value!r}")

    def need_bool(name: str, value: object) -> None:
        if value is not None and not isinstance(value, bool):
            problems.append(f"{name}: must be True or False, got {value!r}")

    if (r.model is None) == (r.from_checkpoint is None):
        problems.append(
            "model / from_checkpoint: give exactly one (model to start a new job, "
            "from_checkpoint to continue one)"
        )
    problems += _name_problems(r)
    if r.from_hf_model is not None and r.model is None:
        problems.append("from_hf_model: needs model (the base architecture it is close to)")
    need_int("n_epochs", r.n_epochs, 1)
    need_int("n_checkpoints", r.n_checkpoints, 1)
    need_int("n_evals", r.n_evals, 0)
    if _is_int(r.n_evals) and r.n_evals and r.n_evals > 0 and r.validation_file is None:
        problems.append("n_evals: evaluations (n_evals > 0) need a validation_file")
    if (
        r.batch_size is not None
        and r.batch_size != "max"
        and not (_is_int(r.batch_size) and int(r.batch_size) >= 1)
    ):
        problems.append(f"batch_size: must be an integer >= 1 or 'max', got {r.batch_size!r}")
    need_range("learning_rate", r.learning_rate, 0, None, open_low=True)
    need_range("warmup_ratio", r.warmup_ratio, 0, 1)
    need_range("max_grad_norm", r.max_grad_norm, 0, None)
    need_range("weight_decay", r.weight_decay, 0, None)
    need_int("max_seq_length", r.max_seq_length, 1)
    need_int("gradient_accumulation_steps", r.gradient_accumulation_steps, 0)
    _check_early_stopping(r, problems, need_int, need_range, need_bool)
    if r.random_seed is not None and not _is_int(r.random_seed):
        problems.append(f"random_seed: must be an integer, got {r.random_seed!r}")
    if isinstance(r.lr_scheduler, (LinearLRScheduler, CosineLRScheduler)):
        need_range("min_lr_ratio", r.lr_scheduler.min_lr_ratio, 0, 1)
    if isinstance(r.lr_scheduler, CosineLRScheduler):
        need_range("num_cycles", r.lr_scheduler.num_cycles, 0, None, open_low=True)
    if isinstance(r.training_type, LoRATraining):
        need_int("lora_r", r.training_type.lora_r, 1)
        need_int("lora_alpha", r.training_type.lora_alpha, 1)
        need_range("lora_dropout", r.training_type.lora_dropout, 0, 1, open_high=True)
    method = _fold_method(r, train_on_inputs, dpo_options, problems)
    if isinstance(method, SFT) and not _is_train_on_inputs(method.train_on_inputs):
        problems.append(
            f"train_on_inputs: must be True, False or 'auto', got {method.train_on_inputs!r}"
        )
    if isinstance(method, DPO):
        need_range("dpo_beta", method.dpo_beta, 0, None, open_low=True)
        need_range("rpo_alpha", method.rpo_alpha, 0, None)
        need_range("simpo_gamma", method.simpo_gamma, 0, None)
        need_bool("dpo_normalize_logratios_by_length", method.dpo_normalize_logratios_by_length)
        need_bool("dpo_reference_free", method.dpo_reference_free)
        method = fold_simpo(method, problems)
    suffix: object = r.suffix
    if suffix is not None:
        if not isinstance(suffix, str):
            problems.append(f"suffix: must be a string, got {suffix!r}")
        elif len(suffix) > MAX_SUFFIX_LENGTH:
            problems.append(f"suffix: at most {MAX_SUFFIX_LENGTH} characters, got {len(suffix)}")
    return method, _with_type_problems(problems, r)


#: What SimPO (``simpo_gamma > 0``) is by definition; sent as the official SDK sends them.
SIMPO_SETTINGS = ("dpo_reference_free", "dpo_normalize_logratios_by_length")


def fold_simpo(method: DPO, problems: List[str]) -> DPO:
    """``method`` with :data:`SIMPO_SETTINGS` set to True when ``simpo_gamma > 0``.

    SimPO is reference-free and length-normalised, and the official SDK sends both
    settings with it: an explicit ``False`` for either contradicts it.

    :param problems: where the contradiction is reported (as one line naming both
        settings); ``method`` is then returned as it is.
    """
    gamma = method.simpo_gamma
    if not (_is_number(gamma) and gamma > 0):  # type: ignore[operator]
        return method
    refused = [name for name in SIMPO_SETTINGS if getattr(method, name) is False]
    if refused:
        problems.append(
            f"{', '.join(SIMPO_SETTINGS)}: SimPO (simpo_gamma={gamma!r} > 0) is reference-free "
            "and length-normalised, so both are sent as True; leave them unset, or set "
            f"simpo_gamma=0 (got {', '.join(name + '=False' for name in refused)})"
        )
        return method
    return attrs.evolve(method, dpo_reference_free=True, dpo_normalize_logratios_by_length=True)


def price_request_problems(request: PriceEstimateRequest) -> List[str]:
    """Every problem with a price-estimate request, as ``"<argument>: ..."`` lines."""
    problems = _int_problems("n_epochs", request.n_epochs, 1)
    problems += _int_problems("n_evals", request.n_evals, 0)
    problems += _name_problems(request)
    if isinstance(request.training_method, DPO):
        fold_simpo(request.training_method, problems)
    return _with_type_problems(problems, request)


def _int_problems(name: str, value: object, low: int) -> List[str]:
    """The problem with an optional integer argument that must be at least ``low``."""
    if value is None or (_is_int(value) and value >= low):  # type: ignore[operator]
        return []
    return [f"{name}: must be an integer >= {low}, got {value!r}"]


def _name_problems(request: Union[FineTuneRequest, PriceEstimateRequest]) -> List[str]:
    """The problems with ``model`` and ``from_checkpoint``: non-empty strings when given."""
    return [
        f"{name}: must be a non-empty string, got {value!r}"
        for name, value in (("model", request.model), ("from_checkpoint", request.from_checkpoint))
        if value is not None and (not isinstance(value, str) or not value.strip())
    ]


def _with_type_problems(problems: List[str], request: Any) -> List[str]:
    """``problems`` and the type problems of the arguments they do not name already."""
    named = {problem.split(":", 1)[0] for problem in problems}
    return problems + [p for p in type_problems(request) if p.split(":", 1)[0] not in named]


def type_problems(value: Any) -> List[str]:
    """The fields of an attrs object (and of the attrs objects in it) whose value does not
    have the declared type, as ``"<field>: must be <type>, got <value>"`` lines.

    ``None`` passes for every optional field. A field kept out of the repr (a secret)
    is shown by its value's type only.
    """
    problems: List[str] = []
    hints = _type_hints(type(value))
    for field in attrs.fields(type(value)):
        item = getattr(value, field.name)
        expected = hints[field.name]
        if not _has_type(item, expected):
            shown = type(item).__name__ if field.repr is False else repr(item)
            problems.append(f"{field.name}: must be {_describe(expected)}, got {shown}")
        elif attrs.has(type(item)):
            problems.extend(type_problems(item))
    return problems


_HINTS: Dict[type, Dict[str, Any]] = {}


def _type_hints(cls: type) -> Dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _has_type(value: object, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if expected is Any:
        return True
    if origin is Union:
        return any(_has_type(value, option) for option in typing.get_args(expected))
    if origin is Literal:
        return any(type(value) is type(v) and value == v for v in typing.get_args(expected))
    if origin is not None:  # Dict[...], List[...]: the container's type is enough here
        return isinstance(value, origin)
    if expected is type(None):
        return value is None
    if expected is int:
        return _is_int(value)
    if expected is float:
        return _is_number(value)
    return isinstance(value, expected)


def _describe(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin is Union:
        # The Unknown* variants carry what a newer server sends; they are not advertised.
        options = [o for o in typing.get_args(expected) if o is not type(None)]
        shown = [o for o in options if not getattr(o, "__name__", "").startswith("Unknown")]
        return " or ".join(_describe(option) for option in shown)
    if origin is Literal:
        return " or ".join(repr(v) for v in typing.get_args(expected))
    names = {str: "a string", int: "an integer", float: "a number", bool: "True or False"}
    if expected in names:
        return names[expected]
    if origin is not None:
        return f"a {origin.__name__}"
    return f"{expected.__name__}(...)"


def _check_early_stopping(
    r: FineTuneRequest, problems: List[str], need_int: Any, need_range: Any, need_bool: Any
) -> None:
    """Early stopping's rules, as the API checks them: a validation file, and enough evaluations."""
    need_bool("early_stopping_enabled", r.early_stopping_enabled)
    need_int("early_stopping_patience", r.early_stopping_patience, 1)
    need_range("early_stopping_min_delta", r.early_stopping_min_delta, 0, None)
    need_int("early_stopping_warmup_evals", r.early_stopping_warmup_evals, 0)
    given = [name for name in _EARLY_STOPPING_OPTIONS if getattr(r, name) is not None]
    if r.early_stopping_enabled is not True:
        if given:
            problems.append(f"{', '.join(given)}: only apply with early_stopping_enabled=True")
        return
    if r.validation_file is None:
        problems.append("early_stopping_enabled: needs a validation_file (and n_evals)")
    patience = r.early_stopping_patience
    warmup = r.early_stopping_warmup_evals
    if patience is None:
        patience = EARLY_STOPPING_DEFAULTS["early_stopping_patience"]
    if warmup is None:
        warmup = EARLY_STOPPING_DEFAULTS["early_stopping_warmup_evals"]
    if not (_is_int(patience) and _is_int(warmup)):
        return  # already reported above
    needed = patience + warmup + 1
    evals = r.n_evals if _is_int(r.n_evals) else 0
    if evals < needed:  # type: ignore[operator]
        problems.append(
            f"n_evals: early stopping needs n_evals >= early_stopping_patience ({patience}) + "
            f"early_stopping_warmup_evals ({warmup}) + 1 = {needed}, got {r.n_evals!r}"
        )


def validate_create_request(
    request: FineTuneRequest,
    *,
    train_on_inputs: Optional[TrainOnInputs] = None,
    dpo_options: Optional[Mapping[str, Any]] = None,
) -> FineTuneRequest:
    """Check a create request; return it with the shorthand arguments folded in.

    ``train_on_inputs`` becomes ``SFT(train_on_inputs=...)``; the DPO options
    are set on the request's ``DPO(...)``.

    :raises ValueError: listing every problem at once.
    """
    method, problems = _check(request, train_on_inputs, dpo_options or {})
    if problems:
        raise ValueError("invalid fine-tune arguments:\n  - " + "\n  - ".join(problems))
    if method is not request.training_method:
        request = attrs.evolve(request, training_method=method)
    return request


def build_create_request(*, training_file: str, **arguments: Any) -> FineTuneRequest:
    """The checked request that ``FineTunes.create(**arguments)`` sends.

    Takes what ``create()`` takes except ``check_limits`` and ``timeout``: the
    fields of :class:`FineTuneRequest` and the shorthands ``train_on_inputs`` and
    :data:`DPO_OPTIONS`, which are folded into the training method. The command
    line's ``--dry-run`` builds its request here too, so it shows what ``create``
    would send.

    :raises ValueError: a file ID is malformed (or a path), or, listing every
        problem at once, any other argument is invalid.
    :raises TypeError: an argument that is neither a field nor a shorthand.
    """
    train_on_inputs = arguments.pop("train_on_inputs", None)
    dpo_options = {name: arguments.pop(name) for name in DPO_OPTIONS if name in arguments}
    training_file = check_file_id(training_file, "training_file")
    if arguments.get("validation_file") is not None:
        arguments["validation_file"] = check_file_id(
            arguments["validation_file"], "validation_file"
        )
    return validate_create_request(
        FineTuneRequest(training_file=training_file, **arguments),
        train_on_inputs=train_on_inputs,
        dpo_options=dpo_options,
    )


def _bounds(low: Optional[float], high: Optional[float]) -> str:
    if low is not None and high is not None:
        return f"in [{low:g}, {high:g}]"
    if high is not None:
        return f"at most {high:g}"
    return f"at least {low:g}"


def check_against_limits(request: FineTuneRequest, limits: ModelLimits) -> List[str]:
    """Problems of a (valid) request against a model's limits; empty when it fits."""
    problems: List[str] = []
    model = limits.model_name
    full = isinstance(request.training_type, FullTraining)
    training = limits.full_training if full else limits.lora_training
    if full and limits.full_training is None:
        problems.append(f"training_type: {model} does not support full training (use LoRA)")
    if training is not None and _is_int(request.batch_size):
        batch = int(request.batch_size)  # type: ignore[arg-type]
        low = training.min_batch_size
        high = training.max_batch_size
        if isinstance(request.training_method, DPO):
            high = training.max_batch_size_dpo
            if high is None and training.max_batch_size is not None:
                # What the API assumes when a model states no DPO limit: half the
                # batch, rounded down to a multiple of 8, at least the minimum.
                high = max(low or 0, training.max_batch_size // 2 // 8 * 8)
        if (low is not None and batch < low) or (high is not None and batch > high):
            kind = "DPO " if isinstance(request.training_method, DPO) else ""
            problems.append(
                f"batch_size: must be {_bounds(low, high)} for {kind}training of {model}, "
                f"got {batch}"
            )
    lora = request.training_type
    max_rank = training.max_rank if training is not None else None
    if (
        isinstance(lora, LoRATraining)
        and max_rank is not None
        and lora.lora_r is not None
        and lora.lora_r > max_rank
    ):
        problems.append(f"lora_r: must be at most {max_rank} for {model}, got {lora.lora_r}")
    for name, value, high in (
        ("n_epochs", request.n_epochs, limits.max_num_epochs),
        ("n_evals", request.n_evals, limits.max_num_evals),
        ("n_checkpoints", request.n_checkpoints, limits.max_num_checkpoints),
    ):
        if high is not None and value is not None and value > high:
            problems.append(f"{name}: must be at most {high} for {model}, got {value}")
    seq = request.max_seq_length
    if seq is not None:
        dpo = isinstance(request.training_method, DPO)
        longest = limits.max_seq_length_dpo if dpo else limits.max_seq_length_sft
        shortest = limits.min_max_seq_length
        if (longest is not None and seq > longest) or (shortest is not None and seq < shortest):
            problems.append(
                f"max_seq_length: must be {_bounds(shortest, longest)} for "
                f"{'DPO' if dpo else 'SFT'} training of {model}, got {seq}"
            )
    if request.learning_rate is not None:
        low_lr, high_lr = limits.min_learning_rate, limits.max_learning_rate
        if (low_lr is not None and request.learning_rate < low_lr) or (
            high_lr is not None and request.learning_rate > high_lr
        ):
            problems.append(
                f"learning_rate: must be {_bounds(low_lr, high_lr)} for {model}, "
                f"got {request.learning_rate}"
            )
    return problems


def needs_model_limits(request: FineTuneRequest) -> bool:
    """Whether sending ``request`` needs its model's limits: a LoRA job without a rank
    (the model's default rank is sent), or ``train_vision=True`` (the model must support it)."""
    if request.model is None:
        return False
    lora = request.training_type
    vision = request.multimodal_params
    return (isinstance(lora, LoRATraining) and lora.lora_r is None) or (
        vision is not None and vision.train_vision is True
    )


def apply_model_defaults(
    request: FineTuneRequest, limits: Optional[ModelLimits]
) -> FineTuneRequest:
    """The request as it is sent: a LoRA job without a rank gets the model's default.

    ``LoRATraining()`` without ``lora_r`` takes ``limits.lora_training.default_rank``
    (:data:`DEFAULT_LORA_RANK` when the limits name none or are ``None``, as when
    continuing ``from_checkpoint`` without a model), and ``lora_alpha`` twice that
    unless given.

    :raises ValueError: ``train_vision=True`` for a model whose limits say it does
        not support vision.
    """
    vision = request.multimodal_params
    if (
        limits is not None
        and vision is not None
        and vision.train_vision is True
        and limits.supports_vision is False
    ):
        raise ValueError(
            f"invalid fine-tune arguments:\n  - multimodal_params: train_vision=True, but "
            f"{limits.model_name} does not support vision training"
        )
    lora = request.training_type
    if not isinstance(lora, LoRATraining) or lora.lora_r is not None:
        return request
    return attrs.evolve(request, training_type=default_lora(lora, limits))


def default_lora(lora: LoRATraining, limits: Optional[ModelLimits]) -> LoRATraining:
    """``lora`` with a rank: its own, else the limits' ``default_rank``, else
    :data:`DEFAULT_LORA_RANK`; ``lora_alpha`` twice the rank unless given."""
    if lora.lora_r is not None:
        return lora
    rank = None
    if limits is not None and limits.lora_training is not None:
        rank = limits.lora_training.default_rank
    rank = DEFAULT_LORA_RANK if rank is None else rank
    alpha = 2 * rank if lora.lora_alpha is None else lora.lora_alpha
    return attrs.evolve(lora, lora_r=rank, lora_alpha=alpha)


def ensure_within_limits(request: FineTuneRequest, limits: ModelLimits) -> None:
    """Raise unless the request fits the model's limits (see :func:`check_against_limits`).

    :raises ValueError: listing every limit the request exceeds.
    """
    problems = check_against_limits(request, limits)
    if problems:
        raise ValueError(
            f"fine-tune arguments exceed the limits of {request.model}:\n  - "
            + "\n  - ".join(problems)
        )
