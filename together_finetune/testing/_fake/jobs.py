"""The job model: fine-tune jobs, events, checkpoints and metrics as wire JSON, and their lifecycle.

The JSON follows the OpenAPI spec in ``tests/spec/openapi.yaml`` plus what the live API is
known to send (``tests/support/waivers.py`` lists each departure), never this library's
models, so the fake can referee the client.
"""

from __future__ import annotations

import copy
import datetime as _dt
import secrets
import uuid
from typing import Any

from together_finetune.testing._fake.catalog import SUPPORTED_MODELS
from together_finetune.testing._fake.context import FakeContext
from together_finetune.testing._fake.errors import JSON, APIError, error_body
from together_finetune.testing._fake.outputs import (
    EARLY_STOP_STEP,
    TOTAL_PRICE_NANODOLLARS,
    early_stop_result,
    eval_every,
    eval_loss,
    registry_fields,
)

__all__ = [
    "DEFAULT_MODEL",
    "INTERMEDIATE_STEP",
    "LIFECYCLE",
    "TERMINAL",
    "TOTAL_STEPS",
    "JobStore",
    "now_iso",
]

LIFECYCLE = ("pending", "queued", "running", "compressing", "uploading", "completed")
TERMINAL = frozenset({"completed", "cancelled", "error", "user_error"})
TOTAL_STEPS = 20
INTERMEDIATE_STEP = 10
DEFAULT_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
_LEGACY_LEVELS = {"info": "legacy_info", "warning": "legacy_iwarning", "error": "legacy_ierror"}


def now_iso() -> str:
    """The current UTC time the way the API writes it (milliseconds, ``Z``)."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _job_not_found(job_id: str) -> APIError:
    return APIError(
        404,
        error_body(f"Fine-tune job not found: {job_id}", param="id", code="not_found"),
    )


class JobStore:
    """The jobs of one fake, by id, with their checkpoints and metrics (all under one lock).

    Jobs move through ``pending -> queued -> running -> compressing -> uploading ->
    completed`` one step per :meth:`advance`, or one step every ``step_seconds`` of the
    context's clock (applied by :meth:`tick`).
    """

    def __init__(self, context: FakeContext) -> None:
        """Create an empty store sharing ``context``'s clock, step and lock."""
        self._ctx = context
        #: the settings shared with the other sub-apps
        self.context = context
        #: full job wire JSON (``FinetuneResponse``) by id
        self.jobs: dict[str, JSON] = {}
        #: checkpoints (``FineTuneCheckpoint`` wire JSON) by job id
        self.checkpoints: dict[str, list[JSON]] = {}
        #: metric rows with the time they were logged, by job id
        self.metrics: dict[str, list[tuple[_dt.datetime, JSON]]] = {}
        #: where each job with early stopping halts (``None``: it runs to the end)
        self.early_stops: dict[str, int | None] = {}
        self._last_step_at: dict[str, float] = {}

    def add_job(self, **fields: Any) -> JSON:
        """Insert a job; ``fields`` (any raw wire keys) override the generated ones.

        If ``status`` is a later lifecycle state, the checkpoints and metrics a job in that
        state would have are generated too. Returns the stored job dict (live).
        """
        with self._ctx.lock:
            body: JSON = {"training_file": "file-" + str(uuid.uuid4()), "model": DEFAULT_MODEL}
            body.update({k: v for k, v in fields.items() if k not in ("status", "events", "id")})
            job = self.new_job(body, job_id=fields.get("id"))
            status = fields.get("status", "pending")
            if status in LIFECYCLE:
                for step in LIFECYCLE[1 : LIFECYCLE.index(status) + 1]:
                    self._enter(job, step, with_events=False)
            if "events" not in fields:
                job["events"].insert(0, self.event(job, "JOB_PENDING", "Fine tune request created"))
            job.update(copy.deepcopy(fields))
            self.store(job)
            return job

    def add_event(self, job_id: str, **fields: Any) -> JSON:
        """Append a raw event to a job (``fields`` override the generated event); returns it."""
        with self._ctx.lock:
            job = self.jobs[job_id]
            event = self.event(job, fields.pop("type", "WARNING"), fields.pop("message", ""))
            event.update(fields)
            job.setdefault("events", []).append(event)
            return event

    def advance(self, job_id: str | None = None, steps: int = 1) -> None:
        """Move one job (or every non-terminal job) ``steps`` lifecycle steps forward."""
        with self._ctx.lock:
            ids = [job_id] if job_id is not None else list(self.jobs)
            for _ in range(steps):
                for one in ids:
                    job = self.jobs.get(one)
                    if job is None:
                        raise KeyError(one)
                    self._step(job)

    def fail_job(self, job_id: str, message: str = "Job failed", status: str = "error") -> None:
        """End a job as ``status`` (``error`` or ``user_error``) with a ``JOB_ERROR`` event."""
        with self._ctx.lock:
            job = self.jobs[job_id]
            job["status"] = status
            self.touch(job, started=True)
            job["progress"] = {"estimate_available": False, "seconds_remaining": 0}
            job["events"].append(self.event(job, "JOB_ERROR", message, level="error"))

    def new_job(self, body: JSON, job_id: str | None = None) -> JSON:
        """A new ``pending`` job (not stored) built from a create ``body``."""
        now = now_iso()
        job_id = job_id or "ft-" + str(uuid.uuid4())
        model = body.get("model")
        if not isinstance(model, str) or not model:
            parent = self.jobs.get(str(body.get("from_checkpoint", "")).split(":")[0], {})
            model = str(parent.get("model") or DEFAULT_MODEL)
        suffix = body.get("suffix") or secrets.token_hex(4)
        training_type = body.get("training_type") or {
            "type": "Lora",
            "lora_r": 8,
            "lora_alpha": 16,
            "lora_dropout": 0.0,
            "lora_trainable_modules": "all-linear",
        }
        training_method = body.get("training_method")
        if not isinstance(training_method, dict) or not training_method:
            training_method = {
                "method": "sft",
                "train_on_inputs": body.get("train_on_inputs", "auto"),
            }
        elif training_method.get("method") == "sft":
            training_method = {"train_on_inputs": "auto", **training_method}
        job: JSON = {
            "id": job_id,
            "job_id": job_id,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
            "started_at": now,
            "user_id": "user_fake0123456789",
            "owner_address": "fake-user@example.com",
            "training_file": body.get("training_file"),
            "model": model,
            "model_output_name": f"fake-user/{model.split('/')[-1]}-{suffix}",
            "n_epochs": 1,
            "n_checkpoints": 1,
            "n_evals": 0,
            "batch_size": "max",
            "learning_rate": 0.00001,
            "lr_scheduler": {
                "lr_scheduler_type": "cosine",
                "lr_scheduler_args": {"min_lr_ratio": 0.0, "num_cycles": 0.5},
            },
            "warmup_ratio": 0.0,
            "max_grad_norm": 1.0,
            "weight_decay": 0.0,
            "eval_steps": 0,
            "packing": True,
            "random_seed": None,
            "training_type": training_type,
            "training_method": training_method,
            "train_on_inputs": training_method.get("train_on_inputs", "auto"),
            "trainingfile_numlines": 1000,
            "trainingfile_size": 524288,
            "token_count": 250000,
            "param_count": 8030261248,
            "total_price": 0,
            "epochs_completed": 0,
            "queue_depth": 0,
            "total_steps": TOTAL_STEPS,
            "steps_completed": 0,
            "evals_completed": 0,
            "events": [],
            "progress": {"estimate_available": False, "seconds_remaining": 0},
            "early_stopped": False,
        }
        if body.get("early_stopping_enabled") is True:
            job.update(
                early_stopping_patience=2,
                early_stopping_min_delta=0.0,
                early_stopping_warmup_evals=1,
                early_stopping_best_step=None,
                early_stopping_best_metric=None,
            )
        for key, value in body.items():
            if key in ("wandb_key", "wandb_api_key", "hf_api_token", "train_on_inputs"):
                continue
            if key in ("training_type", "training_method") or value is None:
                continue
            job[key] = value
        if body.get("wandb_key") or body.get("wandb_api_key"):
            job["wandb_url"] = f"https://wandb.ai/fake/{body.get('wandb_project_name', 'together')}"
            job.setdefault("wandb_project_name", "together")
        return job

    def store(self, job: JSON) -> None:
        """Store ``job``; its ``step_seconds`` lifecycle starts now."""
        self.jobs[job["id"]] = job
        self.checkpoints.setdefault(job["id"], [])
        self.metrics.setdefault(job["id"], [])
        self._last_step_at[job["id"]] = self._ctx.clock()

    def event(
        self, job: JSON, type: str, message: str, *, level: str = "info", **extra: Any
    ) -> JSON:
        """A ``fine-tune-event`` of ``job`` (not appended); ``extra`` overrides its keys."""
        if self._ctx.legacy_levels:
            level = _LEGACY_LEVELS.get(level, level)
        event: JSON = {
            "object": "fine-tune-event",
            "created_at": now_iso(),
            "level": level,
            "message": message,
            "type": type,
            "param_count": job.get("param_count", 0),
            "token_count": job.get("token_count", 0),
            "total_steps": job.get("total_steps", TOTAL_STEPS),
            "wandb_url": job.get("wandb_url", ""),
            "step": 0,
            "checkpoint_path": "",
            "model_path": "",
            "training_offset": 0,
            "hash": "",
        }
        event.update(extra)
        return event

    def touch(self, job: JSON, *, started: bool = False) -> None:
        """Set ``updated_at`` (and ``started_at``) to now."""
        now = now_iso()
        job["updated_at"] = now
        if started:
            job["started_at"] = now

    def _is_full(self, job: JSON) -> bool:
        training_type = job.get("training_type")
        return not isinstance(training_type, dict) or training_type.get("type") != "Lora"

    def _checkpoint_path(self, job: JSON, step: int | None) -> str:
        base = f"s3://together-fake-finetune/{job['id']}"
        return f"{base}/checkpoint-{step}" if step is not None else f"{base}/final"

    def _add_metrics(self, job: JSON, first: int, last: int) -> None:
        now = _dt.datetime.now(_dt.timezone.utc)
        rows = self.metrics.setdefault(job["id"], [])
        base_lr = float(job.get("learning_rate") or 0.00001)
        every = eval_every(job, TOTAL_STEPS)
        for step in range(first, last + 1):
            logged_at = now + _dt.timedelta(milliseconds=step - last)
            row: JSON = {
                "train/loss": round(2.0 * 0.9**step, 6),
                "train/learning_rate": base_lr * (1 - step / (TOTAL_STEPS + 1)),
                "train/global_step": step,
                "train/epoch": step / TOTAL_STEPS,
            }
            if every and step % every == 0:
                row["eval/loss"] = eval_loss(step)
            rows.append((logged_at, row))

    def _enter(self, job: JSON, status: str, *, with_events: bool = True) -> None:
        """Move ``job`` into lifecycle ``status``, with that state's side effects."""
        job["status"] = status
        self.touch(job, started=True)
        events: list[JSON] = []
        job_id = job["id"]
        if status == "queued":
            job["queue_depth"] = 0
            job["progress"] = {"estimate_available": True, "seconds_remaining": 60}
            events.append(self.event(job, "JOB_PENDING", "Job queued (position 1)"))
        elif status == "running":
            job["steps_completed"] = INTERMEDIATE_STEP
            job["progress"] = {"estimate_available": True, "seconds_remaining": 300}
            path = self._checkpoint_path(job, INTERMEDIATE_STEP)
            self.checkpoints.setdefault(job_id, []).append(
                {
                    "step": INTERMEDIATE_STEP,
                    "path": path,
                    "created_at": now_iso(),
                    "checkpoint_type": "Intermediate",
                    "checkpoint": "model" if self._is_full(job) else "adapter",
                }
            )
            self._add_metrics(job, 1, INTERMEDIATE_STEP)
            events.append(self.event(job, "JOB_START", "Job started"))
            # Tokenization precedes training: its output is uploaded before the first step.
            job["tokenized_dataset_path"] = f"s3://together-fake-finetune/{job_id}/tokenized"
            job["tokenized_dataset_uploaded_at"] = now_iso()
            events.append(
                self.event(
                    job,
                    "TOKENIZED_DATASET_UPLOAD_COMPLETE",
                    "Tokenized dataset uploaded",
                    tokenized_dataset_path=job["tokenized_dataset_path"],
                )
            )
            events.append(self.event(job, "TRAINING_START", "Training started"))
            events.append(
                self.event(
                    job,
                    "CHECKPOINT_SAVE",
                    f"Checkpoint saved at step {INTERMEDIATE_STEP}",
                    step=INTERMEDIATE_STEP,
                    checkpoint_path=path,
                )
            )
        elif status == "compressing":
            halt = self._halt_step(job)
            job["steps_completed"] = halt
            job["epochs_completed"] = job.get("n_epochs", 1)
            job["progress"] = {"estimate_available": True, "seconds_remaining": 120}
            self._add_metrics(job, INTERMEDIATE_STEP + 1, halt)
            if halt < TOTAL_STEPS:
                best_step, best_metric = early_stop_result(job, halt, TOTAL_STEPS)
                job.update(
                    early_stopped=True,
                    early_stopping_best_step=best_step,
                    early_stopping_best_metric=best_metric,
                )
                events.append(
                    self.event(
                        job,
                        "EARLY_STOPPED",
                        f"Early stopping at step {halt}; best step {best_step}",
                        step=halt,
                        early_stopping_best_step=best_step,
                        early_stopping_best_metric_value=best_metric,
                    )
                )
            events.append(self.event(job, "EPOCH_COMPLETE", "Epoch completed", step=halt))
            events.append(self.event(job, "TRAINING_COMPLETE", "Training completed"))
            events.append(self.event(job, "COMPRESSING_MODEL", "Compressing output model"))
        elif status == "uploading":
            job["progress"] = {"estimate_available": True, "seconds_remaining": 60}
            events.append(self.event(job, "MODEL_UPLOADING", "Uploading output model"))
        elif status == "completed":
            job["progress"] = {"estimate_available": True, "seconds_remaining": 0}
            job["model_output_path"] = self._checkpoint_path(job, None)
            job["total_price"] = TOTAL_PRICE_NANODOLLARS
            self._finish(job)
            events.append(
                self.event(
                    job,
                    "MODEL_UPLOAD_COMPLETE",
                    "Model upload complete",
                    model_path=job["model_output_path"],
                )
            )
            events.append(self.event(job, "JOB_COMPLETE", "Fine tuning job completed"))
        if with_events:
            job.setdefault("events", []).extend(events)

    def _halt_step(self, job: JSON) -> int:
        """The step training ends at: early (see :meth:`early_stops`) or ``TOTAL_STEPS``."""
        if job.get("early_stopping_enabled") is not True:
            return TOTAL_STEPS
        halt = self.early_stops.get(job["id"], EARLY_STOP_STEP)
        return TOTAL_STEPS if halt is None else min(halt, TOTAL_STEPS)

    def _finish(self, job: JSON) -> None:
        """Register a completed job's outputs and add its final checkpoints."""
        lora = not self._is_full(job)
        job.update(registry_fields(job, lora))
        # The final checkpoint is the shipped one: the best step of an early-stopped job.
        step = job.get("early_stopping_best_step") if job.get("early_stopped") else None
        finals = [("Final" if not lora else "Final Merged", "model")]
        if lora:
            finals.append(("Final Adapter", "adapter"))
        for checkpoint_type, selector in finals:
            path = job["model_output_path"] + ("/adapter" if selector == "adapter" else "")
            self.checkpoints.setdefault(job["id"], []).append(
                {
                    "step": step if isinstance(step, int) else TOTAL_STEPS,
                    "path": path,
                    "created_at": now_iso(),
                    "checkpoint_type": checkpoint_type,
                    "checkpoint": selector,
                    "object_id": job[f"{selector}_object_id"],
                    "object_name": job[f"{selector}_object_name"],
                    "object_revision_id": job[f"{selector}_object_revision_id"],
                }
            )

    def _step(self, job: JSON) -> None:
        status = job.get("status")
        if status in TERMINAL:
            return
        if status == "cancel_requested":
            job["status"] = "cancelled"
            self.touch(job, started=True)
            job["progress"] = {"estimate_available": False, "seconds_remaining": 0}
            job.setdefault("events", []).append(self.event(job, "JOB_STOPPED", "Job stopped"))
            return
        if status in LIFECYCLE:
            self._enter(job, LIFECYCLE[LIFECYCLE.index(status) + 1])

    def tick(self) -> None:
        """Apply the steps due on the clock (``step_seconds`` mode)."""
        if self._ctx.step_seconds is None:
            return
        now = self._ctx.clock()
        for job_id, job in self.jobs.items():
            last = self._last_step_at.get(job_id, now)
            while now - last >= self._ctx.step_seconds and job.get("status") not in TERMINAL:
                self._step(job)
                last += self._ctx.step_seconds
            self._last_step_at[job_id] = last if job.get("status") not in TERMINAL else now

    def get(self, job_id: str) -> JSON:
        """The stored job ``job_id``; a 404 ``APIError`` if there is none."""
        job = self.jobs.get(job_id)
        if job is None:
            raise _job_not_found(job_id)
        return job

    def truncated(self, job: JSON) -> JSON:
        """A copy of ``job`` as list/create/cancel answer it: no events, a numeric batch size."""
        out = copy.deepcopy(job)
        out["events"] = []
        if not isinstance(out.get("batch_size"), int):
            limits = SUPPORTED_MODELS.get(str(out.get("model")), {"max_batch": 8})
            out["batch_size"] = limits["max_batch"]
        return out
