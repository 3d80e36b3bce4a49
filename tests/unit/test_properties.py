"""Property tests: decoding never crashes, request models round-trip, retry waits stay bounded."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import cattrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from together_finetune import converter as converter_module
from together_finetune.converter import converter, decode, encode
from together_finetune.errors import APIResponseValidationError
from together_finetune.models import (
    DPO,
    SFT,
    Checkpoint,
    CosineLRScheduler,
    FileObject,
    FineTune,
    FineTuneEvent,
    FineTuneRequest,
    FullTraining,
    LinearLRScheduler,
    LoRATraining,
    ModelLimits,
    MultimodalParams,
    PriceEstimate,
    PriceEstimateRequest,
)
from together_finetune.transport import RetryPolicy, parse_retry_after

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# No example database: a test below runs a property against a broken converter on purpose.
DECODE_SETTINGS = settings(SETTINGS, database=None)

# ----------------------------------------------------------------------------- decoding

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
STATUSES = [
    "pending",
    "queued",
    "running",
    "compressing",
    "uploading",
    "cancel_requested",
    "cancelled",
    "error",
    "user_error",
    "completed",
]
EVENT_TYPES = ["job_pending", "JOB_PENDING", "job_start", "CHECKPOINT_SAVE", "warning"]


def either_case(words: List[str]) -> st.SearchStrategy[str]:
    """A known value in lower, upper or title case, or any other string."""
    known = st.sampled_from(words).flatmap(
        lambda w: st.sampled_from([w, w.upper(), w.lower(), w.title()])
    )
    return known | st.text(max_size=16)


timestamps = st.one_of(
    st.datetimes(timezones=st.just(timezone.utc)).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.integers(min_value=0, max_value=2**32),
    st.text(max_size=20),
)
events = st.fixed_dictionaries(
    {},
    optional={
        "message": st.text(max_size=20) | json_values,
        "type": either_case(EVENT_TYPES) | json_values,
        "level": st.sampled_from(["", "Info", "info", "WARNING", "error", None]) | json_values,
        "created_at": timestamps,
        "step": st.integers() | json_values,
    },
)
training_types = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["Full", "full", "", "Lora", "LoRA", "x"])}),
    st.fixed_dictionaries(
        {"type": st.just("Lora")},
        optional={
            "lora_r": st.integers(1, 256) | json_values,
            "lora_alpha": st.integers(1, 512),
            "lora_dropout": st.floats(0, 1),
            "lora_trainable_modules": st.text(max_size=10),
        },
    ),
    json_values,
)
training_methods = st.one_of(
    st.fixed_dictionaries(
        {"method": st.sampled_from(["sft", "SFT", "dpo", "Dpo", "grpo"])},
        optional={
            "train_on_inputs": st.sampled_from([True, False, "auto", "maybe"]),
            "dpo_beta": st.floats(allow_nan=False) | json_values,
        },
    ),
    json_values,
)
schedulers = st.one_of(
    st.fixed_dictionaries(
        {"lr_scheduler_type": st.sampled_from(["linear", "cosine", "", "constant"])},
        optional={
            "lr_scheduler_args": st.none()
            | st.fixed_dictionaries(
                {},
                optional={
                    "min_lr_ratio": st.floats(0, 1) | json_values,
                    "num_cycles": st.floats(0, 5),
                },
            )
            | json_values
        },
    ),
    json_values,
)
jobs = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=20).map(lambda s: "ft-" + s) | json_values,
        "status": either_case(STATUSES) | json_values,
    },
    optional={
        "model": st.text(max_size=20) | json_values,
        "created_at": timestamps,
        "updated_at": timestamps,
        "training_type": training_types,
        "training_method": training_methods,
        "lr_scheduler": schedulers,
        "batch_size": st.integers(1, 1024) | st.just("max") | json_values,
        "train_on_inputs": st.sampled_from([True, False, "auto", None]) | json_values,
        "n_epochs": st.integers(0, 100) | st.floats() | json_values,
        "learning_rate": st.floats() | json_values,
        "random_seed": st.none() | st.integers(),
        "events": st.lists(events, max_size=3) | json_values,
        "progress": st.fixed_dictionaries(
            {}, optional={"estimate_available": st.booleans(), "seconds_remaining": st.floats()}
        )
        | json_values,
        "TrainingFileNumLines": st.integers() | json_values,
        "multimodal_params": st.fixed_dictionaries({"train_vision": st.booleans()}) | json_values,
    },
).flatmap(
    # extra keys the library does not know about
    lambda job: st.dictionaries(
        st.text(max_size=10).filter(lambda k: k not in job), json_values, max_size=3
    ).map(lambda extra: {**job, **extra})
)


def decodes_or_rejects(data: Any, cls: Any) -> Any:
    """The property: a body decodes into ``cls`` or raises APIResponseValidationError.

    Anything else escaping (``AttributeError``, ``OverflowError``, ...) is a bug in a
    hook, and ``decode`` lets it through, so the property fails on it.
    """
    try:
        return decode(data, cls)
    except APIResponseValidationError:
        return None


DECODED_TYPES = (
    FineTune,
    List[FineTune],
    FineTuneEvent,
    Checkpoint,
    FileObject,
    ModelLimits,
    PriceEstimate,
    List[str],
    List[Dict[str, float]],
)


def check_job(data: Dict[str, Any]) -> None:
    """A job-shaped body decodes to a job with its ID and status, or is rejected."""
    job = decodes_or_rejects(data, FineTune)
    if job is None:
        return
    assert isinstance(job, FineTune)
    assert job.id == data["id"]
    assert job.status == data["status"] or job.status.value == str(data["status"]).lower()


@DECODE_SETTINGS
@given(jobs)
def test_any_job_shaped_object_decodes_or_raises_validation_error(data: Dict[str, Any]) -> None:
    check_job(data)


@DECODE_SETTINGS
@given(json_values | st.lists(jobs, max_size=3))
def test_anything_at_all_decodes_or_raises_validation_error(data: Any) -> None:
    for cls in DECODED_TYPES:
        decodes_or_rejects(data, cls)


def _raise_a_bug(value: Any, _: Any) -> Any:
    return value.no_such_attribute  # a bug in a hook, not a body that does not fit


def _converter_with_a_bug(monkeypatch: pytest.MonkeyPatch, where: str) -> cattrs.Converter:
    """The library's converter, built again with a bug in one hook."""
    if where == "top":  # the hook decode calls raises it
        broken = converter_module._build()
        broken.register_structure_hook(FineTune, _raise_a_bug)
        return broken
    # the status hook raises it inside cattrs' generated code, which gathers it into a group
    with monkeypatch.context() as patch:
        patch.setattr(converter_module, "_enum_hook", lambda cls: _raise_a_bug)
        return converter_module._build()


@pytest.mark.parametrize("where", ["top", "nested"])
def test_a_bug_in_a_hook_surfaces_as_itself(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    monkeypatch.setattr(converter_module, "converter", _converter_with_a_bug(monkeypatch, where))
    with pytest.raises(AttributeError, match="no_such_attribute"):
        decode({"id": "ft-1", "status": "running"}, FineTune)
    with pytest.raises(AttributeError, match="no_such_attribute"):
        decode([{"id": "ft-1", "status": "running"}], List[FineTune])


def test_the_property_fails_when_a_hook_has_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(converter_module, "converter", _converter_with_a_bug(monkeypatch, "nested"))
    # The same property, without shrinking: the first counterexample is enough here.
    prop = settings(
        DECODE_SETTINGS, max_examples=20, phases=[Phase.generate], report_multiple_bugs=False
    )(given(jobs)(check_job))
    with pytest.raises(AttributeError, match="no_such_attribute"):
        prop()


def test_a_body_that_does_not_fit_is_still_a_validation_error() -> None:
    with pytest.raises(APIResponseValidationError, match=r"\$\.status"):
        decode({"id": "ft-1", "status": 7}, FineTune)
    with pytest.raises(APIResponseValidationError, match=r"\$\.created_at"):
        decode({"id": "ft-1", "status": "running", "created_at": 10**30}, FineTune)
    with pytest.raises(
        APIResponseValidationError, match=r"expected (typing\.)?Dict(\[str, float\])? @ \$\[0\]"
    ):
        decode([[1.0]], List[Dict[str, float]])


# ----------------------------------------------------------------------------- round trips

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
short = st.text(max_size=16)
training_type_models = st.one_of(
    st.just(FullTraining()),
    st.builds(
        LoRATraining,
        lora_r=st.integers(1, 512),
        lora_alpha=st.integers(1, 1024),
        lora_dropout=st.none() | st.floats(0, 1, exclude_max=True),
        lora_trainable_modules=st.none() | short,
    ),
)
training_method_models = st.one_of(
    st.builds(SFT, train_on_inputs=st.sampled_from([True, False, "auto"])),
    st.builds(
        DPO,
        dpo_beta=st.none() | finite,
        rpo_alpha=st.none() | finite,
        dpo_normalize_logratios_by_length=st.none() | st.booleans(),
        dpo_reference_free=st.none() | st.booleans(),
        simpo_gamma=st.none() | finite,
    ),
)
scheduler_models = st.one_of(
    st.builds(LinearLRScheduler, min_lr_ratio=finite),
    st.builds(CosineLRScheduler, min_lr_ratio=finite, num_cycles=finite),
)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


fine_tune_requests = st.builds(
    FineTuneRequest,
    training_file=short,
    model=optional(short),
    validation_file=optional(short),
    n_epochs=optional(st.integers(0, 1000)),
    n_checkpoints=optional(st.integers(0, 1000)),
    n_evals=optional(st.integers(0, 1000)),
    batch_size=optional(st.integers(1, 4096) | st.just("max")),
    learning_rate=optional(finite),
    lr_scheduler=optional(scheduler_models),
    warmup_ratio=optional(finite),
    max_grad_norm=optional(finite),
    weight_decay=optional(finite),
    random_seed=optional(st.integers(-(2**63), 2**63)),
    suffix=optional(short),
    packing=optional(st.booleans()),
    max_seq_length=optional(st.integers(1, 2**20)),
    training_type=optional(training_type_models),
    training_method=optional(training_method_models),
    multimodal_params=optional(st.builds(MultimodalParams, train_vision=optional(st.booleans()))),
    from_checkpoint=optional(short),
    from_hf_model=optional(short),
    hf_model_revision=optional(short),
    hf_api_token=optional(short),
    hf_output_repo_name=optional(short),
    wandb_api_key=optional(short),
    wandb_base_url=optional(short),
    wandb_project_name=optional(short),
    wandb_name=optional(short),
    wandb_entity=optional(short),
)
price_requests = st.builds(
    PriceEstimateRequest,
    training_file=short,
    model=optional(short),
    validation_file=optional(short),
    n_epochs=optional(st.integers(0, 1000)),
    n_evals=optional(st.integers(0, 1000)),
    training_type=optional(training_type_models),
    training_method=optional(training_method_models),
    from_checkpoint=optional(short),
)


@SETTINGS
@given(fine_tune_requests | price_requests)
def test_request_models_survive_the_wire(request: Any) -> None:
    wire = json.loads(json.dumps(encode(request)))
    assert None not in wire.values()  # omitted, not null
    assert converter.structure(wire, type(request)) == request


def test_wandb_key_travels_as_wandb_key() -> None:
    wire = encode(FineTuneRequest(training_file="file-1", wandb_api_key="k"))
    assert wire == {"training_file": "file-1", "wandb_key": "k"}


# ----------------------------------------------------------------------------- retry waits

retry_after_values = st.one_of(
    st.none(),
    st.integers(-10, 10_000).map(str),
    finite.map(repr),
    st.sampled_from(["", "soon", "nan", "inf", "-inf", "1e309", "0", "0.0", " 5 "]),
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.just(timezone.utc),
    ).map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")),
    st.text(max_size=12),
)
retry_after_ms_values = st.none() | st.integers(-1000, 10**7).map(str) | st.text(max_size=8)
policies = st.builds(
    RetryPolicy,
    max_retries=st.integers(0, 10),
    initial_delay=st.floats(0.001, 10),
    max_delay=st.floats(0.001, 120),
    jitter=st.floats(0, 0.999),
    max_retry_after=st.floats(0, 3600),
)
NOW = datetime(2050, 1, 1, tzinfo=timezone.utc).timestamp()


@SETTINGS
@given(
    policy=policies,
    exchanges=st.lists(
        st.tuples(
            st.sampled_from([429, 500, 502, 503, 504]), retry_after_values, retry_after_ms_values
        ),
        min_size=1,
        max_size=12,
    ),
    rand=st.none() | st.floats(0, 1, exclude_max=True),
    first=st.sampled_from([1, 1]) | st.integers(1, 10**6),
)
def test_retry_waits_stay_within_the_policy(
    policy: RetryPolicy, exchanges: List[Any], rand: Optional[float], first: int
) -> None:
    ceiling = max(policy.max_delay, policy.max_retry_after)
    for number, (_status, header, header_ms) in enumerate(exchanges, start=first):
        headers = {
            k: v
            for k, v in (("retry-after", header), ("retry-after-ms", header_ms))
            if v is not None
        }
        retry_after = parse_retry_after(headers, now=NOW)
        assert retry_after is None or (retry_after > 0 and math.isfinite(retry_after))
        wait = policy.wait(number, retry_after, rand)
        assert 0 < wait <= ceiling
        if retry_after is not None and retry_after <= policy.max_retry_after:
            assert wait == retry_after


@pytest.mark.parametrize("number", [1, 2, 5, 64, 1024, 1025, 10**6])
def test_default_backoff_is_positive_and_capped(number: int) -> None:
    policy = RetryPolicy()
    for rand in (0.0, 0.5, 0.999999):
        assert 0 < policy.wait(number, None, rand) <= policy.max_delay
