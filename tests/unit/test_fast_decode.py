"""The generated structure functions (``_structure_gen``) give what cattrs' own would.

The library's converter decodes every answer class through one generated function
per class; a converter built without them (cattrs' generated functions, as before)
is the reference. Also: what the generated objects are (frozen, of the class
itself), which classes fall back to cattrs, and the collector pause.
"""

from __future__ import annotations

import copy
import gc
import pickle
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from unit.test_properties import DECODE_SETTINGS, events, jobs, json_values

from together_finetune import converter as converter_module
from together_finetune._gc import gc_paused
from together_finetune._structure_gen import make_structure_fn
from together_finetune._structure_gen import structure_hook as _hook
from together_finetune.errors import APIResponseValidationError
from together_finetune.models import (
    Checkpoint,
    FileObject,
    FineTune,
    FineTuneEvent,
    FineTuneEventLevel,
    FineTuneEventType,
    FineTuneStatus,
    LoRATraining,
    WireObject,
)


@pytest.fixture(scope="module")
def reference() -> cattrs.Converter:
    """The library's converter as it was: cattrs' generated functions for every class."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(converter_module, "make_structure_fn", lambda *args, **kwargs: None)
        conv = converter_module._build()
        # Hooks are made on first use (nested classes' with their parent's): make them
        # here, while the generated functions are off.
        for cls in (FineTune, FineTuneEvent, FileObject, Checkpoint):
            for tp in (cls, List[cls], Optional[cls]):
                _hook(conv, tp)
        return conv


def outcome(conv: cattrs.Converter, data: Any, cls: Any) -> Any:
    """What decoding gives: the objects with their ``extra`` and types, or the error text."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(converter_module, "converter", conv)
        try:
            value = converter_module.decode(data, cls)
        except APIResponseValidationError as exc:
            return ("error", str(exc))
    return ("ok", value, described(value))


def described(value: Any) -> Any:
    """Everything equality leaves out: each field's exact type, and every ``extra``."""
    if isinstance(value, list):
        return [described(item) for item in value]
    if attrs.has(type(value)):
        fields = {f.name: described(getattr(value, f.name)) for f in attrs.fields(type(value))}
        return (type(value), fields)
    if isinstance(value, dict):
        return {key: described(item) for key, item in value.items()}
    return (type(value), value)


def agree(reference: cattrs.Converter, data: Any, cls: Any) -> None:
    assert outcome(converter_module.converter, data, cls) == outcome(reference, data, cls)


@DECODE_SETTINGS
@given(jobs)
def test_a_job_decodes_as_cattrs_decodes_it(
    reference: cattrs.Converter, data: Dict[str, Any]
) -> None:
    agree(reference, data, FineTune)


@DECODE_SETTINGS
@given(st.lists(jobs, max_size=3))
def test_a_job_list_decodes_as_cattrs_decodes_it(reference: cattrs.Converter, data: Any) -> None:
    agree(reference, data, List[FineTune])


@DECODE_SETTINGS
@given(events | json_values)
def test_an_event_decodes_as_cattrs_decodes_it(reference: cattrs.Converter, data: Any) -> None:
    agree(reference, data, FineTuneEvent)


@DECODE_SETTINGS
@given(
    st.fixed_dictionaries(
        {"id": st.text(max_size=8) | json_values},
        optional={
            "FileType": st.text(max_size=6) | json_values,
            "file_type": st.text(max_size=6),
            "Processed": st.booleans() | json_values,
            "bytes": st.integers() | st.floats() | json_values,
            "object": st.text(max_size=6) | st.none(),
            "processing_status": st.sampled_from(["COMPLETED", "queued", "new"]) | json_values,
            "validation_report": st.fixed_dictionaries({"valid": st.booleans()}) | json_values,
        },
    )
)
def test_a_file_decodes_as_cattrs_decodes_it(reference: cattrs.Converter, data: Any) -> None:
    agree(reference, data, FileObject)


@pytest.mark.parametrize(
    "data",
    [
        {"type": "Lora"},  # lora_alpha's factory reads lora_r: None
        {"type": "Lora", "lora_r": 4},  # ... and 8
        {"type": "Lora", "lora_r": 4.0, "lora_alpha": 3},  # a coerced integer
        {"type": "Lora", "lora_r": "4"},  # a misfit
    ],
)
def test_a_factory_default_sees_the_fields_before_it(
    reference: cattrs.Converter, data: Dict[str, Any]
) -> None:
    body = {"id": "ft-1", "status": "running", "training_type": data}
    agree(reference, body, FineTune)
    if "lora_alpha" not in data and not isinstance(data.get("lora_r", 0), str):
        job = converter_module.decode(body, FineTune)
        assert job.training_type == LoRATraining(lora_r=data.get("lora_r"))


def test_a_decoded_object_is_a_frozen_instance_of_its_class() -> None:
    job = converter_module.decode(
        {"id": "ft-1", "status": "running", "created_at": "2026-01-02T03:04:05Z", "new": 1},
        FineTune,
    )
    assert type(job) is FineTune
    assert job.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert job.status is FineTuneStatus.RUNNING
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        job.id = "ft-2"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del job.model  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(job)) == job  # noqa: S301 - our own bytes
    assert copy.deepcopy(job) == job
    assert hash(converter_module.decode({"step": 1}, Checkpoint)) == hash(Checkpoint(step=1))
    assert dict(job.extra) == {"new": 1}


def test_a_field_added_to_a_model_is_decoded_without_a_hand_list() -> None:
    @attrs.frozen
    class Gadget(WireObject):
        name: str
        count: Optional[int] = None
        seen_at: Optional[datetime] = None
        label: str = "plain"

    gadget = converter_module.decode({"name": "g", "count": 2, "seen_at": 0, "x": [1]}, Gadget)
    assert gadget == Gadget(
        name="g", count=2, seen_at=datetime(1970, 1, 1, tzinfo=timezone.utc), label="plain"
    )
    assert type(gadget) is Gadget
    assert dict(gadget.extra) == {"x": [1]}
    with pytest.raises(APIResponseValidationError, match=r"\$\.count"):
        converter_module.decode({"name": "g", "count": "2"}, Gadget)


def test_a_class_whose_init_does_more_than_store_is_left_to_cattrs() -> None:
    @attrs.frozen
    class Checked(WireObject):
        size: int = attrs.field(validator=attrs.validators.ge(0))

    @attrs.frozen
    class Posted(WireObject):
        size: int = 0

        def __attrs_post_init__(self) -> None:
            pass

    @attrs.frozen(slots=False)
    class Plain(WireObject):
        size: int = 0

    conv = converter_module.converter
    for cls in (Checked, Posted, Plain):
        assert make_structure_fn(cls, conv, renames={}, omit=("extra",)) is None
    with pytest.raises(APIResponseValidationError, match="Checked"):
        converter_module.decode({"size": -1}, Checked)
    assert make_structure_fn(FineTune, conv, renames={}, omit=("extra",)) is not None


def test_the_collector_is_paused_while_a_list_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: List[bool] = []
    real = converter_module.converter

    class Watching:
        def structure(self, data: Any, cls: Any) -> Any:
            seen.append(gc.isenabled())
            return real.structure(data, cls)

    monkeypatch.setattr(converter_module, "converter", Watching())
    assert gc.isenabled()
    converter_module.decode([{"id": "ft-1", "status": "running"}], List[FineTune])
    converter_module.decode({"id": "ft-1", "status": "running"}, FineTune)
    assert seen == [False, True]
    assert gc.isenabled()
    with pytest.raises(APIResponseValidationError):
        converter_module.decode([{"id": 1}], List[FineTune])
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()

    def fail_paused() -> None:
        with gc_paused():
            raise KeyError("x")

    with pytest.raises(KeyError):
        fail_paused()
    assert gc.isenabled()


def test_without_a_twin_the_slots_are_filled_through_their_descriptors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from together_finetune import _structure_gen

    body = {
        "id": "ft-1",
        "status": "COMPLETED",
        "n_epochs": 2,
        "training_type": {"type": "Lora", "lora_r": 4},
        "created_at": "2026-01-02T03:04:05Z",
    }
    expected = converter_module.decode(body, FineTune)
    monkeypatch.setattr(_structure_gen, "_writable_twin", lambda cls, fields: None)
    structure = make_structure_fn(FineTune, converter_module.converter, renames={}, omit=("extra",))
    assert structure is not None
    job = structure(body, FineTune)
    assert type(job) is FineTune
    assert job == expected
    assert described(job) == described(expected)


#: Values the generated code takes inline (timestamps, integral floats, unions of exact
#: types and literals, tags), with the neighbours it must leave to the hooks.
INLINE_CASES: List[Dict[str, Any]] = [
    {"created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05.123456+02:00"},
    {"created_at": "2026-01-02T03:04:05"},  # naive: UTC
    {"created_at": " 2026-01-02T03:04:05.1234567Z "},  # only the hook's fallback reads it
    {"created_at": 1767323045, "started_at": 1767323045.5},  # epoch seconds
    {"created_at": "yesterday"},
    {"created_at": ["2026-01-02"]},
    {"learning_rate": 1, "warmup_ratio": 0},  # integral: floats
    {"learning_rate": True},
    {"learning_rate": "0.1"},
    {"batch_size": "max", "train_on_inputs": "auto"},
    {"batch_size": 96, "train_on_inputs": True},
    {"batch_size": "MAX", "train_on_inputs": "AUTO"},
    {"batch_size": 96.0, "train_on_inputs": 1},
    {"batch_size": True},
    {"batch_size": ["max"]},
    {"train_on_inputs": {"auto": 1}},
    {"training_type": {"type": "LORA", "lora_r": 8}, "training_method": {"method": "SFT"}},
    {"training_type": {"type": ""}, "training_method": {"method": "dpo", "dpo_beta": 1}},
    {"training_type": {"type": "Future"}, "training_method": {"method": "grpo"}},
    {"training_type": {"type": 1}},
    {"training_type": ["Lora"]},
    {"lr_scheduler": {"lr_scheduler_type": "cosine", "lr_scheduler_args": {"num_cycles": 1}}},
    {"lr_scheduler": {"lr_scheduler_type": "linear", "lr_scheduler_args": None, "x": 1}},
    {"lr_scheduler": {"lr_scheduler_type": "linear", "lr_scheduler_args": [1]}},
    {"lr_scheduler": {"lr_scheduler_type": "COSINE", "lr_scheduler_args": {}}},
]


@pytest.mark.parametrize("fields", INLINE_CASES)
def test_values_taken_inline_decode_as_cattrs_decodes_them(
    reference: cattrs.Converter, fields: Dict[str, Any]
) -> None:
    agree(reference, {"id": "ft-1", "status": "running", **fields}, FineTune)
    agree(reference, [{"id": "ft-1", "status": "running", **fields}], List[FineTune])


def test_timestamps_are_aware_and_integral_floats_are_floats() -> None:
    job = converter_module.decode(
        {
            "id": "ft-1",
            "status": "running",
            "created_at": "2026-01-02T03:04:05",
            "learning_rate": 1,
        },
        FineTune,
    )
    assert job.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert type(job.learning_rate) is float


#: Enum spellings the generated code looks up in its table of the hook's answers, with
#: the neighbours it must leave to the hook (unknown values, other cases, non-strings).
ENUM_CASES: List[Dict[str, Any]] = [
    {"type": "JOB_PENDING", "level": "info"},
    {"type": "job_pending", "level": "INFO"},
    {"type": "Job_Pending", "level": "Info"},  # neither as sent nor upper nor lower case
    {"type": "checkpoint_save", "level": ""},  # "" is no level
    {"type": "LEGACY_IWARNING", "level": "legacy_iwarning"},
    {"type": "NEW_KIND", "level": "fatal"},  # unknown: kept as strings
    {"type": "", "level": None},
    {"type": 5, "level": 1},
    {"type": ["JOB_PENDING"], "level": {"info": 1}},
]


@pytest.mark.parametrize("fields", ENUM_CASES)
def test_enum_values_taken_from_the_table_decode_as_cattrs_decodes_them(
    reference: cattrs.Converter, fields: Dict[str, Any]
) -> None:
    agree(reference, {"message": "m", **fields}, FineTuneEvent)
    agree(reference, [{"message": "m", **fields}], List[FineTuneEvent])
    job = {"id": "ft-1", "status": fields["type"], "events": [fields]}
    agree(reference, job, FineTune)


def test_an_unknown_enum_value_is_kept_as_its_string() -> None:
    event = converter_module.decode({"type": "NEW_KIND", "level": "Fatal"}, FineTuneEvent)
    assert event.type == "NEW_KIND"
    assert isinstance(event.type, FineTuneEventType)
    assert event.level == "Fatal"
    assert isinstance(event.level, FineTuneEventLevel)
    known = converter_module.decode({"type": "JOB_START", "level": ""}, FineTuneEvent)
    assert known.type is FineTuneEventType.JOB_START
    assert known.level is None
