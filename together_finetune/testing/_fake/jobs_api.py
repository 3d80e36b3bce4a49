"""The jobs sub-app: create, list, retrieve, delete, cancel, events, checkpoints, metrics."""

from __future__ import annotations

import copy
import datetime as _dt
from typing import Any, Callable

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from together_finetune.testing._fake.catalog import is_int
from together_finetune.testing._fake.errors import JSON, bad_request
from together_finetune.testing._fake.exchanges import RecordedRequest
from together_finetune.testing._fake.jobs import TERMINAL, JobStore
from together_finetune.testing._fake.routes import Routes, json_object

__all__ = ["JobsAPI", "validate_create"]


class JobsAPI(Routes):
    """The ``/fine-tunes`` endpoints over a :class:`JobStore`."""

    def __init__(self, store: JobStore, check_files: Callable[[JSON], None]) -> None:
        """Serve ``store``'s jobs; ``check_files(body)`` vets the files a create names."""
        self._store = store
        self._check_files = check_files

    def rules(self) -> list[Rule]:
        """The jobs' rules."""
        return [
            Rule("/v1/fine-tunes", methods=["GET"], endpoint="list"),
            Rule("/v1/fine-tunes", methods=["POST"], endpoint="create"),
            Rule("/v1/fine-tunes/<job_id>", methods=["GET"], endpoint="retrieve"),
            Rule("/v1/fine-tunes/<job_id>", methods=["DELETE"], endpoint="delete"),
            Rule("/v1/fine-tunes/<job_id>/events", methods=["GET"], endpoint="events"),
            Rule("/v1/fine-tunes/<job_id>/checkpoints", methods=["GET"], endpoint="checkpoints"),
            Rule("/v1/fine-tunes/<job_id>/cancel", methods=["POST"], endpoint="cancel"),
            Rule("/v1/fine-tunes/<job_id>/metrics", methods=["GET"], endpoint="metrics"),
        ]

    def _route_list(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        # Newest first; for equal created_at the later insertion is newer.
        order = {job_id: index for index, job_id in enumerate(self._store.jobs)}
        jobs = sorted(
            self._store.jobs.values(),
            key=lambda j: (str(j.get("created_at", "")), order[j["id"]]),
            reverse=True,
        )
        return 200, {"data": [self._dress(self._store.truncated(job)) for job in jobs]}

    def _route_create(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        body = json_object(recorded)
        validate_create(body)
        self._check_files(body)
        job = self._store.new_job(body)
        job["events"].append(self._store.event(job, "JOB_PENDING", "Fine tune request created"))
        job["progress"] = {"estimate_available": False, "seconds_remaining": 0}
        self._store.store(job)
        return 200, self._dress(self._store.truncated(job))

    def _route_retrieve(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        return 200, self._dress(copy.deepcopy(self._store.get(job_id)))

    def _route_delete(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        self._store.get(job_id)
        del self._store.jobs[job_id]
        self._store.checkpoints.pop(job_id, None)
        self._store.metrics.pop(job_id, None)
        return 200, {"message": f"Fine-tune job {job_id} deleted"}

    def _route_events(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        events = copy.deepcopy(self._store.get(job_id).get("events", []))
        return 200, {"data": [self._store.context.dress(event) for event in events]}

    def _route_checkpoints(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        self._store.get(job_id)
        checkpoints = copy.deepcopy(self._store.checkpoints.get(job_id, []))
        return 200, {"data": [self._store.context.dress(c) for c in checkpoints]}

    def _route_cancel(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        job = self._store.get(job_id)
        status = job.get("status")
        if status in TERMINAL:
            raise bad_request(
                f"Fine-tune job {job_id} is already {status} and cannot be cancelled", "id"
            )
        if status != "cancel_requested":
            job["status"] = "cancel_requested"
            self._store.touch(job)
            job.setdefault("events", []).append(
                self._store.event(job, "CANCEL_REQUESTED", "Cancel requested by user")
            )
        return 200, self._dress(self._store.truncated(job))

    def _dress(self, job: JSON) -> JSON:
        """A job copy as served (its events too): with the unknown field when asked."""
        for event in job.get("events", []):
            self._store.context.dress(event)
        return self._store.context.dress(job)

    def _route_metrics(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        self._store.get(job_id)
        filters: JSON = json_object(recorded, required=False)
        filters.update(request.args.to_dict())
        step_from = _int_filter(filters, "global_step_from")
        step_to = _int_filter(filters, "global_step_to")
        at_from = _time_filter(filters, "logged_at_from")
        at_to = _time_filter(filters, "logged_at_to")
        resolution = _int_filter(filters, "resolution")
        if resolution is not None and resolution < 1:
            raise bad_request("resolution must be a positive integer", "resolution")
        rows = []
        for logged_at, row in self._store.metrics.get(job_id, []):
            step = row.get("train/global_step", 0)
            if step_from is not None and step < step_from:
                continue
            if step_to is not None and step > step_to:
                continue
            if at_from is not None and logged_at < at_from:
                continue
            if at_to is not None and logged_at > at_to:
                continue
            rows.append(dict(row))
        if resolution is not None and resolution < len(rows):
            rows = _sample(rows, resolution)
        return 200, {"metrics": rows}


# --------------------------------------------------------------------------- validation


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


_CREATE_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    **dict.fromkeys(
        (
            "validation_file",
            "suffix",
            "from_checkpoint",
            "from_hf_model",
            "hf_model_revision",
            "hf_output_repo_name",
            "wandb_key",
            "wandb_api_key",
            "wandb_base_url",
            "wandb_project_name",
            "wandb_name",
            "wandb_entity",
        ),
        ("a string", _is_str),
    ),
    "n_epochs": ("an integer", is_int),
    "n_checkpoints": ("an integer", is_int),
    "n_evals": ("an integer", is_int),
    "max_seq_length": ("an integer", is_int),
    "random_seed": ("an integer or null", lambda v: v is None or is_int(v)),
    "batch_size": ('an integer or "max"', lambda v: is_int(v) or v == "max"),
    "learning_rate": ("a number", _is_number),
    "warmup_ratio": ("a number", _is_number),
    "max_grad_norm": ("a number", _is_number),
    "weight_decay": ("a number", _is_number),
    "packing": ("a boolean", lambda v: isinstance(v, bool)),
    "train_on_inputs": ('a boolean or "auto"', lambda v: isinstance(v, bool) or v == "auto"),
    "lr_scheduler": ("an object", lambda v: isinstance(v, dict)),
    "multimodal_params": (
        'an object like {"train_vision": true}',
        lambda v: isinstance(v, dict) and isinstance(v.get("train_vision", False), bool),
    ),
    "gradient_accumulation_steps": ("an integer >= 0", lambda v: is_int(v) and v >= 0),
    "early_stopping_enabled": ("a boolean", lambda v: isinstance(v, bool)),
    "early_stopping_patience": ("an integer >= 1", lambda v: is_int(v) and v >= 1),
    "early_stopping_min_delta": ("a number >= 0", lambda v: _is_number(v) and v >= 0),
    "early_stopping_warmup_evals": (
        "an integer >= 0 or null",
        lambda v: v is None or (is_int(v) and v >= 0),
    ),
    "training_type": (
        'null or an object with type "Full" or "Lora"',
        lambda v: v is None or (isinstance(v, dict) and v.get("type") in ("Full", "Lora")),
    ),
    "training_method": (
        'an object with method "sft" or "dpo"',
        lambda v: isinstance(v, dict) and v.get("method") in ("sft", "dpo"),
    ),
}


def validate_create(body: JSON) -> None:
    """Refuse a create body the live API refuses (400 naming the field)."""
    training_file = body.get("training_file")
    if not isinstance(training_file, str) or not training_file.startswith("file-"):
        raise bad_request(
            "training_file is required and must be a file ID (file-...)", "training_file"
        )
    model = body.get("model")
    if model is None and not body.get("from_checkpoint"):
        raise bad_request("model is required unless from_checkpoint is given", "model")
    if model is not None and (not isinstance(model, str) or not model):
        raise bad_request("model must be a non-empty string", "model")
    for name, (expected, check) in _CREATE_TYPES.items():
        if name in body and not check(body[name]):
            raise bad_request(f"{name} must be {expected}", name)
    if body.get("early_stopping_enabled") is True:
        _validate_early_stopping(body)


def _validate_early_stopping(body: JSON) -> None:
    """The backend's rule: a validation file, and enough evaluations to stop on."""
    if not body.get("validation_file"):
        raise bad_request("early stopping requires a validation_file", "validation_file")
    patience = body.get("early_stopping_patience")
    warmup = body.get("early_stopping_warmup_evals")
    patience = 2 if patience is None else patience
    warmup = 1 if warmup is None else warmup
    n_evals = body.get("n_evals") or 0
    if n_evals < patience + warmup + 1:
        raise bad_request(
            f"early stopping needs n_evals >= early_stopping_patience + "
            f"early_stopping_warmup_evals + 1 = {patience + warmup + 1}, got {n_evals}",
            "n_evals",
        )


def _sample(rows: list[JSON], count: int) -> list[JSON]:
    """``count`` rows spread uniformly over ``rows``, first and last included."""
    if count == 1:
        return [rows[-1]]
    last = len(rows) - 1
    return [rows[round(index * last / (count - 1))] for index in range(count)]


def _int_filter(filters: JSON, name: str) -> int | None:
    value = filters.get(name)
    if value is None or value == "":
        return None
    if is_int(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise bad_request(f"{name} must be an integer", name)


def _parse_iso(value: str) -> _dt.datetime | None:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed


def _time_filter(filters: JSON, name: str) -> _dt.datetime | None:
    value = filters.get(name)
    if value is None or value == "":
        return None
    parsed = _parse_iso(value) if isinstance(value, str) else None
    if parsed is None:
        raise bad_request(f"{name} must be an ISO-8601 date-time", name)
    return parsed
