"""How a job trains: training types, methods, learning-rate schedulers."""

from __future__ import annotations

from typing import Any, Dict, Literal, Optional, Union

import attrs

from ._base import WireObject


@attrs.frozen
class FullTraining(WireObject):
    """Full-parameter training (``{"type": "Full"}`` on the wire)."""


@attrs.frozen
class LoRATraining(WireObject):
    """LoRA adapter training (``{"type": "Lora", ...}`` on the wire).

    :param lora_r: adapter rank. ``None`` (the default) means the model's default:
        ``create()`` sends the ``lora_training.default_rank`` of the model's limits
        (read once per model per client), or 8 when the limits name none or the
        job continues ``from_checkpoint`` without a ``model``.
    :param lora_alpha: scaling; defaults to ``2 * lora_r`` (also when the rank
        is the model's default).
    :param lora_dropout: dropout in [0, 1); server default when ``None``.
    :param lora_trainable_modules: comma-separated module names, e.g. ``"all-linear"``.
    """

    lora_r: Optional[int] = None
    lora_alpha: Optional[int] = attrs.field(
        default=attrs.Factory(
            lambda self: None if self.lora_r is None else 2 * self.lora_r, takes_self=True
        )
    )
    lora_dropout: Optional[float] = None
    lora_trainable_modules: Optional[str] = None


@attrs.frozen
class UnknownTrainingType(WireObject):
    """A training type this version of the library does not know, kept as sent."""

    type: str
    raw: Dict[str, Any] = attrs.field(factory=dict, eq=False)


TrainingType = Union[FullTraining, LoRATraining, UnknownTrainingType]


@attrs.frozen
class SFT(WireObject):
    """Supervised fine-tuning (``{"method": "sft", ...}``).

    :param train_on_inputs: ``True``, ``False`` or ``"auto"`` (mask the inputs
        when the data set's format says which tokens are inputs).
    """

    train_on_inputs: Union[bool, Literal["auto"]] = "auto"


@attrs.frozen
class DPO(WireObject):
    """Direct preference optimisation (``{"method": "dpo", ...}``); ``None`` fields are not sent.

    With ``simpo_gamma > 0`` (SimPO) a job is sent with ``dpo_reference_free`` and
    ``dpo_normalize_logratios_by_length`` set to True, as the official SDK sends it;
    setting either to False with it is refused before sending.
    """

    dpo_beta: Optional[float] = None
    rpo_alpha: Optional[float] = None
    dpo_normalize_logratios_by_length: Optional[bool] = None
    dpo_reference_free: Optional[bool] = None
    simpo_gamma: Optional[float] = None


@attrs.frozen
class UnknownTrainingMethod(WireObject):
    """A training method this version of the library does not know, kept as sent."""

    method: str
    raw: Dict[str, Any] = attrs.field(factory=dict, eq=False)


TrainingMethod = Union[SFT, DPO, UnknownTrainingMethod]


@attrs.frozen
class LinearLRScheduler(WireObject):
    """Linear decay to ``min_lr_ratio`` × the learning rate."""

    min_lr_ratio: float = 0.0


@attrs.frozen
class CosineLRScheduler(WireObject):
    """Cosine decay to ``min_lr_ratio`` × the learning rate over ``num_cycles`` cycles."""

    min_lr_ratio: float = 0.0
    num_cycles: float = 0.5


@attrs.frozen
class UnknownLRScheduler(WireObject):
    """A scheduler this library does not know, or the legacy empty one.

    Legacy jobs send ``lr_scheduler_type: ""`` with no arguments.
    """

    lr_scheduler_type: str
    lr_scheduler_args: Optional[Dict[str, Any]] = attrs.field(default=None, eq=False)


LRScheduler = Union[LinearLRScheduler, CosineLRScheduler, UnknownLRScheduler]

BatchSize = Union[int, Literal["max"]]


@attrs.frozen
class MultimodalParams(WireObject):
    """Options for multimodal models.

    :param train_vision: also train the vision encoder; only for models whose
        limits say ``supports_vision`` (``create()`` checks before sending).
    """

    train_vision: Optional[bool] = None
