"""Decoding keeps what it does not know: every answer class has a read-only ``extra``,
filled by the one structure hook of converter.py, outside equality and the repr, and put
back by unstructuring (what ``--json`` prints). Also the newer-than-spec fields of §5b."""

from __future__ import annotations

import typing
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import attrs
import pytest

from together_finetune import models
from together_finetune.converter import converter, decode, encode
from together_finetune.errors import APIResponseValidationError
from together_finetune.models import (
    NO_EXTRA,
    Checkpoint,
    CosineLRScheduler,
    FileObject,
    FileProcessingStatus,
    FineTune,
    FineTuneEvent,
    FineTuneEventLevel,
    FineTuneEventType,
    LoRATraining,
    TokenizationPreview,
    TokenizedDatasetLink,
    UnknownTrainingType,
    WireObject,
)

JOB: Dict[str, Any] = {
    "id": "ft-1",
    "status": "completed",
    "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16, "moe": "w_up"},
    "training_method": {"method": "sft", "train_on_inputs": "auto", "new_knob": 1},
    "lr_scheduler": {
        "lr_scheduler_type": "cosine",
        "lr_scheduler_args": {"min_lr_ratio": 0.1, "num_cycles": 0.5, "warm": True},
        "beside": "x",
    },
    "progress": {"estimate_available": True, "seconds_remaining": 5, "eta": "soon"},
    "events": [{"message": "m", "type": "EARLY_STOPPED", "level": "Info", "shiny": [1, 2]}],
    "next_month": {"nested": [1, None]},
}


def test_every_answer_class_is_a_wire_object() -> None:
    answers = [
        cls
        for name in models.__all__
        if attrs.has(cls := getattr(models, name))
        and name
        not in {"FineTuneRequest", "PriceEstimateRequest", "DownloadResult", "ResponseInfo"}
        and not name.startswith("Dataset")
    ]
    assert answers
    assert all(issubclass(cls, WireObject) for cls in answers)


def test_unknown_keys_are_kept_at_every_level() -> None:
    job = decode(JOB, FineTune)
    assert dict(job.extra) == {"next_month": {"nested": [1, None]}}
    assert job.training_type is not None
    assert dict(job.training_type.extra) == {"moe": "w_up"}
    assert job.training_method is not None
    assert dict(job.training_method.extra) == {"new_knob": 1}
    assert isinstance(job.lr_scheduler, CosineLRScheduler)
    assert dict(job.lr_scheduler.extra) == {"beside": "x", "warm": True}
    assert job.progress is not None
    assert dict(job.progress.extra) == {"eta": "soon"}
    assert job.events is not None
    assert dict(job.events[0].extra) == {"shiny": [1, 2]}


def test_an_object_with_only_known_keys_has_the_shared_empty_extra() -> None:
    job = decode(
        {"id": "ft-1", "status": "running", "progress": {"seconds_remaining": 1}}, FineTune
    )
    assert job.extra is NO_EXTRA
    assert job.progress is not None
    assert job.progress.extra is NO_EXTRA
    assert dict(job.extra) == {}


def test_extra_is_read_only() -> None:
    job = decode(JOB, FineTune)
    with pytest.raises(TypeError):
        job.extra["next_month"] = 1  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        job.extra = {}  # type: ignore[misc]


def test_extra_is_not_part_of_equality_or_the_repr() -> None:
    plain = decode({"id": "ft-1", "status": "running"}, FineTune)
    more = decode({"id": "ft-1", "status": "running", "surprise": 1}, FineTune)
    assert plain == more
    assert hash(plain) == hash(more)
    assert "surprise" not in repr(more)
    assert "extra" not in repr(more)


def test_unstructuring_puts_the_unknown_keys_back_beside_the_fields() -> None:
    data = converter.unstructure(decode(JOB, FineTune))
    assert data["next_month"] == {"nested": [1, None]}
    assert data["progress"]["eta"] == "soon"
    assert data["events"][0]["shiny"] == [1, 2]
    assert data["training_type"]["moe"] == "w_up"
    assert "extra" not in data
    assert "extra" not in data["progress"]


def test_a_known_field_wins_over_an_unknown_key_of_the_same_name_when_unstructured() -> None:
    job = attrs.evolve(decode({"id": "ft-1", "status": "running"}, FineTune), model="m")
    object.__setattr__(job, "extra", {"model": "shadow"})
    assert converter.unstructure(job)["model"] == "m"


def test_legacy_and_alternative_spellings_are_not_unknown() -> None:
    job = decode({"id": "ft-1", "status": "running", "TrainingFileSize": 3}, FineTune)
    assert job.trainingfile_size == 3
    assert dict(job.extra) == {}
    found = decode({"id": "file-1", "file_type": "jsonl", "processed": True}, FileObject)
    assert found.file_type == "jsonl"
    assert dict(found.extra) == {}


def test_an_unknown_training_type_keeps_its_keys_in_raw_and_extra() -> None:
    job = decode(
        {"id": "ft-1", "status": "x", "training_type": {"type": "QLoRA", "bits": 4}}, FineTune
    )
    assert isinstance(job.training_type, UnknownTrainingType)
    assert dict(job.training_type.extra) == {"bits": 4}


def test_optional_answer_objects_decode_none_and_keep_the_job_rules() -> None:
    assert decode(None, Optional[FineTune]) is None
    job = decode({"id": "ft-1", "status": "x", "TrainingFileNumLines": 7}, Optional[FineTune])
    assert job is not None
    assert job.trainingfile_numlines == 7


def test_a_field_that_does_not_fit_is_still_named_with_its_path() -> None:
    with pytest.raises(APIResponseValidationError, match=r"progress.*seconds_remaining"):
        decode({"id": "ft-1", "status": "x", "progress": {"seconds_remaining": "soon"}}, FineTune)
    with pytest.raises(APIResponseValidationError, match="id"):
        decode({"status": "x", "unknown": 1}, FineTune)


def test_a_non_object_where_an_object_belongs_is_refused() -> None:
    with pytest.raises(APIResponseValidationError, match=r"\$\.progress"):
        decode({"id": "ft-1", "status": "x", "progress": [1]}, FineTune)


def test_the_newer_job_fields_decode_typed() -> None:
    job = decode(
        {
            "id": "ft-1",
            "status": "completed",
            "total_price": 1_500_000_000,
            "early_stopped": True,
            "early_stopping_best_metric": None,
            "early_stopping_best_step": 40,
            "model_object_name": "proj/model",
            "model_object_id": "ml_1",
            "model_object_revision_id": "rv_1",
            "adapter_object_name": "proj/model-adapter",
            "tokenized_dataset_path": "s3://b/k",
            "tokenized_dataset_uploaded_at": "2026-11-01T00:00:00Z",
        },
        FineTune,
    )
    assert job.total_price == 1_500_000_000
    assert job.total_price_usd == 1.5
    assert job.early_stopped is True
    assert job.early_stopping_best_step == 40
    assert job.model_object_name == "proj/model"
    assert job.adapter_object_name.endswith("-adapter")
    assert job.tokenized_dataset_uploaded_at == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert decode({"id": "ft-1", "status": "x"}, FineTune).total_price_usd is None


def test_checkpoint_and_event_fields_of_the_registry_and_early_stopping() -> None:
    point = decode({"step": 4, "checkpoint": "adapter", "object_name": "p/m-adapter"}, Checkpoint)
    assert point.checkpoint == "adapter"
    assert point.object_name == "p/m-adapter"
    event = decode(
        {
            "type": "early_stopped",
            "early_stopping_best_metric_value": 0.5,
            "level": "legacy_iwarning",
        },
        FineTuneEvent,
    )
    assert event.type is FineTuneEventType.EARLY_STOPPED
    assert event.level is FineTuneEventLevel.LEGACY_IWARNING
    assert event.early_stopping_best_metric_value == 0.5
    upload = decode({"type": "TOKENIZED_DATASET_UPLOAD_COMPLETE"}, FineTuneEvent)
    assert upload.type is FineTuneEventType.TOKENIZED_DATASET_UPLOAD_COMPLETE


def test_processing_status_is_an_open_enum_and_the_report_is_typed() -> None:
    found = decode(
        {
            "id": "file-1",
            "processing_status": "invalid_format",
            "validation_report": {"valid": False, "error": "bad line 3", "later": 1},
        },
        FileObject,
    )
    assert found.processing_status is FileProcessingStatus.INVALID_FORMAT
    assert found.processing_status.is_final
    assert found.validation_report is not None
    assert found.validation_report.error == "bad line 3"
    assert dict(found.validation_report.extra) == {"later": 1}
    odd = decode({"id": "file-1", "processing_status": "ARCHIVED"}, FileObject)
    assert odd.processing_status == "ARCHIVED"
    assert not odd.processing_status.is_final


def test_a_preview_and_a_tokenized_dataset_link_decode() -> None:
    preview = decode(
        {
            "dataset_format": "conversation",
            "max_seq_length": 8,
            "model": "m",
            "train_on_inputs": False,
            "rows": [
                {
                    "tokens": ["a", "b"],
                    "input_ids": [1, 2],
                    "labels": [-100, 2],
                    "num_tokens": 2,
                    "num_trained_tokens": 1,
                    "trained_spans": [[1, 2]],
                    "truncated": False,
                }
            ],
        },
        TokenizationPreview,
    )
    assert preview.rows[0].trained_mask() == (False, True)
    link = decode(
        {
            "url": "https://s/k?sig=secret",
            "filename": "a.tar",
            "size": 3,
            "content_type": "x",
            "expires_at": "2026-01-01T00:00:00Z",
        },
        TokenizedDatasetLink,
    )
    assert "secret" not in repr(link)
    assert "https://s/k?..." in repr(link)


def test_lora_training_without_a_rank_leaves_rank_and_alpha_to_the_model() -> None:
    assert LoRATraining() == LoRATraining(lora_r=None, lora_alpha=None)
    assert LoRATraining(lora_r=16).lora_alpha == 32
    assert encode(LoRATraining()) == {"type": "Lora"}
    assert encode(LoRATraining(lora_alpha=8)) == {"type": "Lora", "lora_alpha": 8}


def test_a_decoded_value_sent_back_keeps_what_the_server_sent() -> None:
    job = decode(JOB, FineTune)
    assert encode(job.training_type)["moe"] == "w_up"


@pytest.mark.parametrize("cls", [FineTune, FineTuneEvent, FileObject])
def test_extra_is_keyword_only_and_defaults_to_empty(cls: type) -> None:
    field = attrs.fields_dict(cls)["extra"]
    assert field.kw_only
    assert field.default is NO_EXTRA
    assert not field.eq
    assert not field.repr
    assert typing.get_type_hints(cls)["extra"] is not None


def test_a_list_decodes_each_item_with_its_own_extra() -> None:
    jobs = decode(
        [{"id": "ft-1", "status": "x", "a": 1}, {"id": "ft-2", "status": "x"}], List[FineTune]
    )
    assert [dict(job.extra) for job in jobs] == [{"a": 1}, {}]


def test_a_decoded_object_with_extra_pickles_and_copies() -> None:
    import copy
    import pickle

    job = decode(JOB, FineTune)
    again = pickle.loads(pickle.dumps(job))  # noqa: S301 - bytes made just above
    assert again == job
    assert dict(again.extra) == dict(job.extra)
    assert again.progress is not None
    assert dict(again.progress.extra) == {"eta": "soon"}
    with pytest.raises(TypeError, match="read-only"):
        again.extra.update({"x": 1})  # type: ignore[attr-defined]
    assert dict(copy.deepcopy(job).extra) == dict(job.extra)
