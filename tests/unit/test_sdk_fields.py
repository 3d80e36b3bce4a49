"""Every field of the official SDK's (``together`` 3.1.1) fine-tune, event, checkpoint and
file response types is a typed field here: decoding it never lands in ``extra``.

The table lists the wire names (pydantic aliases) of the SDK's generated types
(``together.types.finetune_response.FinetuneResponse``, ``fine_tuning_list_response.Data``,
``fine_tuning_cancel_response.FineTuningCancelResponse``, ``finetune_event.FinetuneEvent``,
``fine_tuning_list_checkpoints_response.Data``, ``file_response.FileResponse`` and its
``ValidationReport``) and of its hand-written ``together.lib.types.fine_tuning``
(``FinetuneResponse``, ``FinetuneEvent``, ``FinetuneProgress``). When a newer SDK adds a
field, add its name here: the test then fails with that name until the model types it.
``test_the_table_is_the_installed_sdk_s`` compares the table with the SDK when it is
installed (never a dependency of this project; run it from a throwaway venv).
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, List, Set

import pytest

from together_finetune.converter import decode
from together_finetune.models import (
    Checkpoint,
    FileObject,
    FineTune,
    FineTuneEvent,
    FineTuneProgress,
    ValidationReport,
)

#: The wire names of the official SDK's response types, per class of ours.
SDK_FIELDS: Dict[type, List[str]] = {
    FineTune: [
        "TrainingFileNumLines",
        "TrainingFileSize",
        "adapter_object_id",
        "adapter_object_name",
        "adapter_object_revision_id",
        "adapter_output_name",
        "batch_size",
        "created_at",
        "early_stopped",
        "early_stopping_best_metric",
        "early_stopping_best_step",
        "epochs_completed",
        "eval_steps",
        "evals_completed",
        "events",
        "from_checkpoint",
        "from_hf_model",
        "hf_model_revision",
        "id",
        "job_id",
        "learning_rate",
        "lr_scheduler",
        "max_grad_norm",
        "max_seq_length",
        "model",
        "model_object_id",
        "model_object_name",
        "model_object_revision_id",
        "model_output_name",
        "model_output_path",
        "multimodal_params",
        "n_checkpoints",
        "n_epochs",
        "n_evals",
        "owner_address",
        "packing",
        "param_count",
        "progress",
        "queue_depth",
        "random_seed",
        "started_at",
        "status",
        "steps_completed",
        "suffix",
        "token_count",
        "tokenized_dataset_path",
        "tokenized_dataset_uploaded_at",
        "total_price",
        "total_steps",
        "train_on_inputs",
        "training_file",
        "training_method",
        "training_type",
        "trainingfile_numlines",
        "trainingfile_size",
        "updated_at",
        "user_id",
        "validation_file",
        "wandb_base_url",
        "wandb_entity",
        "wandb_name",
        "wandb_project_name",
        "wandb_url",
        "warmup_ratio",
        "weight_decay",
    ],
    FineTuneEvent: [
        "checkpoint_path",
        "created_at",
        "early_stopping_best_metric_value",
        "early_stopping_best_step",
        "hash",
        "level",
        "message",
        "model_path",
        "object",
        "param_count",
        "step",
        "token_count",
        "tokenized_dataset_path",
        "total_steps",
        "type",
        "wandb_url",
    ],
    FineTuneProgress: ["estimate_available", "seconds_remaining"],
    Checkpoint: [
        "checkpoint",
        "checkpoint_type",
        "created_at",
        "object_id",
        "object_name",
        "object_revision_id",
        "path",
        "step",
    ],
    FileObject: [
        "FileType",
        "bytes",
        "created_at",
        "filename",
        "id",
        "object",
        "processing_status",
        "purpose",
        "validation_report",
    ],
    ValidationReport: [
        "dataset_format",
        "dataset_has_message_weights",
        "dataset_has_parallel_tool_calls",
        "dataset_has_reasoning",
        "dataset_has_sample_weights",
        "dataset_has_tools",
        "dataset_is_multimodal",
        "error",
        "error_type",
        "file_id",
        "nlines",
        "valid",
    ],
}

#: What each class needs to decode at all.
REQUIRED: Dict[type, Dict[str, Any]] = {
    FineTune: {"id": "ft-1", "status": "running"},
    FileObject: {"id": "file-1", "object": "file"},
}


@pytest.mark.parametrize(
    ("cls", "name"),
    [(cls, name) for cls, names in SDK_FIELDS.items() for name in names],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_every_sdk_field_is_typed(cls: type, name: str) -> None:
    data = dict(REQUIRED.get(cls, {}))
    data.setdefault(name, None)
    decoded = decode(data, cls)
    assert name not in decoded.extra, f"{cls.__name__} does not type the SDK's field {name!r}"


def test_wandb_entity_is_decoded() -> None:
    job = decode({"id": "ft-1", "status": "completed", "wandb_entity": "my-team"}, FineTune)
    assert job.wandb_entity == "my-team"
    assert dict(job.extra) == {}


# -- the table against the installed SDK (skipped without it) ------------------------------------

_SDK_TYPES = {
    FineTune: [
        ("together.types.finetune_response", "FinetuneResponse"),
        ("together.types.fine_tuning_list_response", "Data"),
        ("together.types.fine_tuning_cancel_response", "FineTuningCancelResponse"),
        ("together.lib.types.fine_tuning", "FinetuneResponse"),
    ],
    FineTuneEvent: [
        ("together.types.finetune_event", "FinetuneEvent"),
        ("together.lib.types.fine_tuning", "FinetuneEvent"),
    ],
    FineTuneProgress: [
        ("together.types.finetune_response", "Progress"),
        ("together.lib.types.fine_tuning", "FinetuneProgress"),
    ],
    Checkpoint: [("together.types.fine_tuning_list_checkpoints_response", "Data")],
    FileObject: [("together.types.file_response", "FileResponse")],
    ValidationReport: [("together.types.file_response", "ValidationReport")],
}


#: The skip reason .ci/skips.py accepts: the SDK is never a dependency of this project.
SDK_ABSENT = "official SDK not installed: the static table stands in for it"


def test_the_table_is_the_installed_sdk_s() -> None:
    pytest.importorskip("together.lib.types.fine_tuning", reason=SDK_ABSENT)
    for cls, sources in _SDK_TYPES.items():
        names: Set[str] = set()
        for module, attribute in sources:
            model = getattr(importlib.import_module(module), attribute)
            names |= {field.alias or key for key, field in model.model_fields.items()}
        assert sorted(names) == sorted(SDK_FIELDS[cls]), cls.__name__
