"""How models show themselves: one short repr line, HTML tables for Jupyter, no secrets."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import datetime, timezone
from typing import Any, List

import attrs
from support.parsed_html import Parsed

from together_finetune._format import local_time
from together_finetune.converter import converter, decode, encode
from together_finetune.models import (
    Checkpoint,
    FileObject,
    FineTune,
    FineTuneEvent,
    FineTuneStatus,
    Listing,
    LoRATraining,
)
from together_finetune.models._display import (
    MAX_REPR,
    MAX_ROWS,
    is_secret,
    listing_html,
    object_html,
    short_repr,
    summarized,
)

HOSTILE = '<script>alert("x")</script>&'
#: Every tag the display writes.
ALLOWED_TAGS = frozenset(
    [
        "div",
        "span",
        "code",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "caption",
        "details",
        "summary",
    ]
)
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


def full_job(**overrides: Any) -> FineTune:
    """A job with every field set, long strings included (a retrieve answer's worth)."""
    values: dict[str, Any] = {}
    for field in attrs.fields(FineTune):
        values[field.name] = f"{field.name}-" + "x" * 200
    values.update(
        id="ft-0123",
        status=FineTuneStatus.RUNNING,
        created_at=WHEN,
        updated_at=WHEN,
        started_at=WHEN,
        training_type=LoRATraining(lora_r=8),
        training_method=None,
        lr_scheduler=None,
        multimodal_params=None,
        progress=None,
        batch_size=8,
        train_on_inputs="auto",
        packing=True,
        events=[FineTuneEvent(message="m" * 500, created_at=WHEN) for _ in range(100)],
    )
    for name in ("n_epochs", "n_checkpoints", "n_evals", "eval_steps", "max_seq_length"):
        values[name] = 3
    for name in ("random_seed", "trainingfile_numlines", "trainingfile_size", "token_count"):
        values[name] = 123
    for name in ("param_count", "epochs_completed", "steps_completed", "total_steps"):
        values[name] = 20
    for name in ("evals_completed", "queue_depth"):
        values[name] = 1
    for name in ("learning_rate", "warmup_ratio", "max_grad_norm", "weight_decay", "total_price"):
        values[name] = 0.5
    values.update(overrides)
    return FineTune(**values)


# -- repr -----------------------------------------------------------------------------------


def test_a_full_job_repr_is_one_short_line_with_id_status_and_model() -> None:
    job = full_job()
    line = repr(job)
    assert len(line) <= MAX_REPR
    assert "\n" not in line
    assert line.startswith("FineTune(id='ft-0123', status='running', model='model-xxx")
    assert "created_at='2026-01-02T03:04:05Z'" in line
    assert "events" not in line


def test_a_minimal_job_repr_shows_only_what_is_set() -> None:
    assert repr(FineTune(id="ft-1", status=FineTuneStatus.QUEUED)) == (
        "FineTune(id='ft-1', status='queued')"
    )


def test_numbers_and_booleans_are_not_quoted() -> None:
    assert repr(FileObject(id="file-1", filename="a.jsonl", bytes=10)) == (
        "FileObject(id='file-1', filename='a.jsonl', bytes=10)"
    )
    assert repr(Checkpoint(step=10, checkpoint_type="Intermediate")) == (
        "Checkpoint(step=10, checkpoint_type='Intermediate')"
    )


def test_an_event_repr_flattens_and_shortens_its_message() -> None:
    line = repr(FineTuneEvent(message="line one\nline two " + "y" * 400, created_at=WHEN))
    assert "\n" not in line
    assert len(line) <= MAX_REPR
    assert "message='line one line two yyy" in line
    assert line.endswith("…')")


def test_a_repr_over_the_budget_is_cut() -> None:
    @summarized("a", "b", "c", "d", "e")
    @attrs.frozen
    class Wide:
        a: str = "a" * 70
        b: str = "b" * 70
        c: str = "c" * 70
        d: str = "d" * 70
        e: str = "e" * 70

    line = repr(Wide())
    assert len(line) == MAX_REPR
    assert line.endswith("…)")


def test_the_summary_defaults_to_the_first_fields() -> None:
    @attrs.frozen
    class Plain:
        a: int = 1
        b: int = 2
        c: int = 3
        d: int = 4
        e: int = 5

    assert short_repr(Plain()) == "Plain(a=1, b=2, c=3, d=4)"


def test_fields_named_like_credentials_never_show() -> None:
    @summarized("id", "wandb_key", "hf_api_token")
    @attrs.frozen
    class WithSecrets:
        id: str = "x-1"
        wandb_key: str = "wk-secret"
        hf_api_token: str = "hf-secret"
        token_count: int = 7
        extra: dict[str, Any] = attrs.field(factory=lambda: {"api_key": "k-secret", "n": 1})

    shown = WithSecrets()
    for text in (repr(shown), object_html(shown), listing_html([shown], "Listing")):
        assert "secret" not in text
    assert "token_count" in object_html(shown)  # a count, not a token
    assert "n=1" in object_html(shown)
    assert [is_secret(n) for n in ("key", "api_key", "password", "monkey", "tokens")] == [
        True,
        True,
        True,
        False,
        False,
    ]


# -- one object as HTML (the card's structure: tests/unit/test_cards.py) ---------------------


def test_a_full_job_card_stays_small_and_counts_its_events() -> None:
    job = full_job()
    markup = job._repr_html_()  # type: ignore[attr-defined]
    parsed = Parsed(markup)
    assert parsed.tags[0] == "div"
    assert parsed.text[:2] == ["FineTune", "ft-0123"]
    assert any(row[0] == "events" and row[1].startswith("100 · last: ") for row in parsed.rows)
    assert any(
        row == ["training_type", "LoRA r=8 \N{GREEK SMALL LETTER ALPHA}=16"] for row in parsed.rows
    )
    assert "m" * 300 not in markup  # the events are counted, not listed
    assert len(markup) < 30_000  # inline styles on every cell: about 25,000


def test_server_text_is_escaped_in_html() -> None:
    job = FineTune(id="ft-1", status=HOSTILE, model=HOSTILE, suffix=HOSTILE)  # type: ignore[arg-type]
    event = FineTuneEvent(message=HOSTILE)
    for markup in (
        object_html(job),
        object_html(event),
        listing_html([job, job], "Listing"),
        listing_html([event], "Listing"),
        listing_html([HOSTILE, 1], "Listing"),
    ):
        assert "<script>" not in markup
        assert "&lt;script&gt;" in markup
        assert set(Parsed(markup).tags) <= ALLOWED_TAGS
    assert HOSTILE in Parsed(object_html(event)).text


# -- lists ----------------------------------------------------------------------------------


def test_a_listing_is_a_real_list() -> None:
    jobs = Listing([FineTune(id="ft-1", status="queued"), FineTune(id="ft-2", status="running")])  # type: ignore[arg-type]
    plain = list(jobs)
    assert isinstance(jobs, list)
    assert jobs == plain
    assert plain == jobs
    assert len(jobs) == 2
    assert jobs[1].id == "ft-2"
    assert jobs[:1] == [plain[0]]
    assert repr(jobs) == repr(plain)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(jobs, protocol))  # noqa: S301 - bytes made just above
        assert type(again) is Listing
        assert again == jobs
    assert copy.deepcopy(jobs) == jobs
    assert json.dumps(Listing([1, "a"])) == '[1, "a"]'


def test_a_listing_unstructures_like_a_list() -> None:
    body = [{"id": "ft-1", "status": "queued", "model": "m"}]
    jobs = Listing(decode(body, List[FineTune]))
    assert encode(jobs) == converter.unstructure(list(jobs))
    assert encode(jobs)[0]["model"] == "m"
    assert json.dumps(encode(jobs))


def test_a_listing_renders_one_row_per_object_and_a_column_per_summary_field() -> None:
    jobs = Listing(
        [
            FineTune(id="ft-1", status=FineTuneStatus.QUEUED, model="m1", created_at=WHEN),
            FineTune(id="ft-2", status=FineTuneStatus.COMPLETED, model="m2", total_steps=20),
        ]
    )
    parsed = Parsed(jobs._repr_html_())
    assert parsed.text[0] == "Listing of 2 FineTune"
    local = local_time(WHEN)
    assert parsed.rows == [
        ["ID", "Status", "Model", "Steps", "Created"],  # no column empty everywhere
        ["ft-1", "queued", "m1", "", local],
        ["ft-2", "completed", "m2", "0/20", ""],
    ]


def test_a_long_listing_shows_the_first_rows_and_counts_the_rest() -> None:
    checkpoints = Listing([Checkpoint(step=i) for i in range(MAX_ROWS + 7)])
    parsed = Parsed(checkpoints._repr_html_())
    assert parsed.tags.count("tr") == 1 + MAX_ROWS + 1
    assert parsed.text[-1] == "… and 7 more"


def test_an_empty_listing_and_a_mixed_one() -> None:
    assert Listing([])._repr_html_() == "<p>Listing of 0 items</p>"
    parsed = Parsed(Listing([1, "two"])._repr_html_())
    assert parsed.text[0] == "Listing of 2 items"
    assert parsed.rows == [["value"], ["1"], ["'two'"]]


def test_an_object_without_fields_renders_its_type_and_id_only() -> None:
    class Opaque:
        id = "x-<1>"

    parsed = Parsed(object_html(Opaque()))
    assert parsed.text == ["Opaque", "x-<1>"]
    assert parsed.rows == []
