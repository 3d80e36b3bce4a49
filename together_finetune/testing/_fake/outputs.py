"""What a finished job leaves behind: registry entries, early-stopping results, prices.

Shapes follow the official SDK 3.1.1's job type: the model registry names are
``<project_slug>/<model_name>`` (``-adapter`` for the adapter of a LoRA job), ids ``ml_...``
and revisions ``rv_...``; ``total_price`` is an integer in nanodollars.
"""

from __future__ import annotations

import hashlib
from typing import Any

from together_finetune.testing._fake.errors import JSON

__all__ = [
    "EARLY_STOP_STEP",
    "PROJECT_SLUG",
    "TOTAL_PRICE_NANODOLLARS",
    "early_stop_result",
    "eval_every",
    "eval_loss",
    "registry_fields",
]

#: the registry project every output of the fake is filed under
PROJECT_SLUG = "fake-project"
#: the price of a completed job: 3.75 dollars, in nanodollars
TOTAL_PRICE_NANODOLLARS = 3_750_000_000
#: where a job with early stopping enabled halts unless told otherwise
EARLY_STOP_STEP = 15


def _id(prefix: str, *seed: str) -> str:
    return prefix + hashlib.sha256(":".join(seed).encode()).hexdigest()[:24]


def registry_fields(job: JSON, lora: bool) -> JSON:
    """The ``model_object_*`` (and for LoRA ``adapter_object_*``) fields of a finished job."""
    name = str(job.get("model_output_name") or job["id"]).split("/")[-1]
    fields: JSON = {
        "model_object_id": _id("ml_", job["id"], "model"),
        "model_object_name": f"{PROJECT_SLUG}/{name}",
        "model_object_revision_id": _id("rv_", job["id"], "model"),
    }
    if lora:
        fields.update(
            adapter_object_id=_id("ml_", job["id"], "adapter"),
            adapter_object_name=f"{PROJECT_SLUG}/{name}-adapter",
            adapter_object_revision_id=_id("rv_", job["id"], "adapter"),
        )
    return fields


def eval_every(job: JSON, total_steps: int) -> int:
    """Steps between two evaluations (0 when the job runs none)."""
    n_evals = job.get("n_evals") or 0
    if not isinstance(n_evals, int) or n_evals <= 0 or not job.get("validation_file"):
        return 0
    return max(1, total_steps // n_evals)


def eval_loss(step: int) -> float:
    """The validation loss the fake reports at ``step`` (improving, then flat)."""
    return round(2.1 * 0.9 ** min(step, 8), 6)


def early_stop_result(job: JSON, halt: int, total_steps: int) -> tuple[int, Any]:
    """``(early_stopping_best_step, early_stopping_best_metric)`` of a job halted at ``halt``.

    The best evaluation is the one ``patience`` evaluations before the last one run by
    ``halt``; when no evaluation ran by then, the metric is ``None`` and the step is the
    halt step (as the live API reports it).
    """
    every = eval_every(job, total_steps)
    done = halt // every if every else 0
    if done == 0:
        return halt, None
    patience = job.get("early_stopping_patience")
    patience = patience if isinstance(patience, int) and patience > 0 else 2
    best = max(1, done - patience) * every
    return best, eval_loss(best)
