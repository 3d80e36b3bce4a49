"""What a job costs and what the models allow: the price estimate, the models' limits
(cached per client for ``create``) and the list of models that can be fine-tuned.

Part of ``client.fine_tunes`` (:class:`~together_finetune.fine_tunes.FineTunes`
inherits these methods); kept apart so each module stays one subject.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, cast

import attrs

from ._resource import Resource, check_file_id
from .converter import encode
from .models import (
    DPO,
    LoRATraining,
    ModelLimits,
    PriceEstimate,
    PriceEstimateRequest,
    TrainingMethod,
    TrainingType,
)
from .transport import Timeout, Transport
from .validation import default_lora, fold_simpo, price_request_problems

if TYPE_CHECKING:  # pragma: no cover
    from ._passthrough import Extras

__all__ = ["Catalog"]


class Catalog(Resource):
    """The price and model endpoints of ``client.fine_tunes``."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        self._limits_cache: Dict[str, ModelLimits] = {}
        self._limits_locks: Dict[str, threading.Lock] = {}
        self._limits_lock = threading.Lock()

    def estimate_price(
        self,
        *,
        training_file: str,
        model: Optional[str] = None,
        validation_file: Optional[str] = None,
        n_epochs: Optional[int] = None,
        n_evals: Optional[int] = None,
        training_type: Optional[TrainingType] = None,
        training_method: Optional[TrainingMethod] = None,
        from_checkpoint: Optional[str] = None,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
    ) -> PriceEstimate:
        """What a job would cost (``POST /fine-tunes/estimate-price``).

        When the API cannot estimate yet, ``estimation_available`` is False and
        ``unavailable_reason`` says why.

        :raises ValueError: an argument is invalid (nothing was sent).
        """
        extras = self._extras(extra_headers, extra_query, extra_body)
        request = PriceEstimateRequest(
            training_file=check_file_id(training_file, "training_file"),
            model=model,
            validation_file=(
                None
                if validation_file is None
                else check_file_id(validation_file, "validation_file")
            ),
            n_epochs=n_epochs,
            n_evals=n_evals,
            training_type=training_type,
            training_method=training_method,
            from_checkpoint=from_checkpoint,
        )
        problems = price_request_problems(request)
        if problems:
            raise ValueError("invalid price-estimate arguments:\n  - " + "\n  - ".join(problems))
        if isinstance(request.training_method, DPO):
            # As create() sends it: SimPO with its two settings.
            method = fold_simpo(request.training_method, [])
            request = attrs.evolve(request, training_method=method)
        lora = request.training_type
        if isinstance(lora, LoRATraining) and lora.lora_r is None:
            # As create() sends it: the model's default rank (8 without a model).
            limits = self._cached_limits(model, timeout, extras) if model else None
            request = attrs.evolve(request, training_type=default_lora(lora, limits))
        return cast(
            "PriceEstimate",
            self._call(
                "POST",
                "/fine-tunes/estimate-price",
                PriceEstimate,
                extras=extras,
                json_body=encode(request),
                idempotent=True,
                timeout=timeout,
            ),
        )

    def model_limits(
        self,
        model: str,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> ModelLimits:
        """What ``model`` allows (``GET /fine-tunes/models/limits?model_name=``).

        Always asks the API; the answer also refreshes the cache that
        ``create(check_limits=True)`` reads.

        :raises NotFoundError: the model is unknown or cannot be fine-tuned.
        """
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model must be a non-empty model name, got {model!r}")
        extras = self._extras(extra_headers, extra_query)
        limits: ModelLimits = self._get(
            "/fine-tunes/models/limits",
            ModelLimits,
            extras=extras,
            params={"model_name": model},
            timeout=timeout,
        )
        self._limits_cache[model] = limits
        return limits

    def _cached_limits(
        self, model: str, timeout: Optional[Timeout], extras: Optional[Extras] = None
    ) -> ModelLimits:
        """The model's limits, fetched at most once per model per client (errors not cached)."""
        cached = self._limits_cache.get(model)
        if cached is not None:
            return cached
        with self._limits_lock:
            lock = self._limits_locks.setdefault(model, threading.Lock())
        with lock:  # concurrent creates for one model share a single fetch
            cached = self._limits_cache.get(model)
            if cached is not None:
                return cached
            return self.model_limits(
                model,
                timeout=timeout,
                extra_headers=extras.headers if extras else None,
                extra_query=extras.query if extras else None,
            )

    def supported_models(
        self,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> List[str]:
        """Names of the models that can be fine-tuned (``GET /fine-tunes/models/supported``)."""
        extras = self._extras(extra_headers, extra_query)
        path = "/fine-tunes/models/supported"
        return cast(
            "List[str]",
            self._get(path, List[str], key="models", extras=extras, timeout=timeout),
        )
