"""The notebook cards: key fields first, dollars, local times, the rest folded, text escaped,
self-contained markup, and no exception ever raised into the notebook."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List

import attrs
import pytest
from support.parsed_html import Parsed

from together_finetune._format import status_tone
from together_finetune.cli.fmt import status as cli_status
from together_finetune.models import (
    SFT,
    Checkpoint,
    CosineLRScheduler,
    DownloadResult,
    FileObject,
    FileProcessingStatus,
    FineTune,
    FineTuneEvent,
    FineTuneProgress,
    FineTuneStatus,
    Listing,
    LoRATraining,
    ModelLimits,
    PriceEstimate,
    TrainingLimits,
    ValidationReport,
)
from together_finetune.models._display import MAX_ROWS, object_html
from together_finetune.models._html import BADGE_COLOURS

HOSTILE = '<img src=x onerror=alert("x")>&'
CREATED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
ALPHA = "\N{GREEK SMALL LETTER ALPHA}"


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the process's time zone (``TZ``) for one test; put it back after."""
    if not hasattr(time, "tzset"):  # pragma: no cover - Windows has no tzset
        pytest.skip("needs time.tzset")

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def running_job(**overrides: Any) -> FineTune:
    """A running job as retrieve returns it: a price, progress, settings and noise fields."""
    defaults = dict(  # noqa: C408 - keyword arguments read like the constructor call
        id="ft-42",
        status=FineTuneStatus.RUNNING,
        model="meta-llama/Llama-3-8b",
        model_output_name="me/llama-ft-42",
        training_file="file-1",
        created_at=CREATED,
        started_at=CREATED + dt.timedelta(minutes=5),
        updated_at=CREATED + dt.timedelta(minutes=30),
        total_price=3_750_000_000,
        n_epochs=3,
        epochs_completed=1,
        steps_completed=140,
        total_steps=400,
        progress=FineTuneProgress(estimate_available=True, seconds_remaining=1260),
        training_type=LoRATraining(lora_r=8),
        lr_scheduler=CosineLRScheduler(),
        training_method=SFT(),
        learning_rate=1e-5,
        param_count=8_030_261_248,
        queue_depth=0,
        owner_address="me@example.com",
        events=[FineTuneEvent(message="started", type="job_start", created_at=CREATED)],  # type: ignore[arg-type]
    )
    return FineTune(**{**defaults, **overrides})


def card(obj: Any) -> Parsed:
    return Parsed(obj._repr_html_())


def labels(rows: List[List[str]]) -> List[str]:
    return [row[0] for row in rows]


def value(parsed: Parsed, label: str) -> str:
    found = [row[1] for row in parsed.rows if row[0] == label]
    assert len(found) == 1, (label, parsed.rows)
    return found[0]


def badge_colours(markup: str) -> List[str]:
    return re.findall(r"color:#fff;background:(#[0-9a-f]{6})", markup)


# -- the job card ---------------------------------------------------------------------------


def test_a_running_job_leads_with_id_status_model_output_times_price_and_progress() -> None:
    parsed = card(running_job())
    assert parsed.text[:3] == ["FineTune", "ft-42", "running"]
    assert labels(parsed.lead()) == [
        "Model",
        "Output model",
        "Created",
        "Started",
        "Price",
        "Progress",
    ]
    assert value(parsed, "Model") == "meta-llama/Llama-3-8b"
    assert value(parsed, "Output model") == "me/llama-ft-42"
    assert value(parsed, "Progress") == "35% · step 140/400 · epoch 1/3 · about 21 min left"
    assert "width:35.0%" in running_job()._repr_html_()  # type: ignore[attr-defined]


def test_the_status_badge_has_the_colour_the_cli_gives_the_status() -> None:
    sgr = {"green": "32", "cyan": "36", "yellow": "33", "red": "31", "magenta": "35"}
    for status in FineTuneStatus:
        markup = running_job(status=status)._repr_html_()  # type: ignore[attr-defined]
        tone = status_tone(status)
        assert badge_colours(markup)[0] == BADGE_COLOURS[tone], status
        assert cli_status(status.value, True).startswith(f"\x1b[{sgr[tone]}m"), status
    assert BADGE_COLOURS[status_tone("completed")] != BADGE_COLOURS[status_tone("error")]


def test_the_price_is_in_dollars_never_nanodollars() -> None:
    job = running_job(total_price=12_345_670_000)
    markup = job._repr_html_()  # type: ignore[attr-defined]
    assert value(Parsed(markup), "Price") == "$12.35"
    assert "12345670000" not in markup
    assert "12,345,670,000" not in markup
    assert value(card(running_job(total_price=0)), "Price") == "not billed yet"


def test_times_are_local_with_the_utc_time_as_a_tooltip(
    local_zone: Callable[[str], None],
) -> None:
    local_zone("Asia/Kolkata")  # UTC+5:30, no daylight saving
    parsed = card(running_job())
    assert value(parsed, "Created") == "2026-01-02 08:34:05"
    assert value(parsed, "Started") == "2026-01-02 08:39:05"
    assert ("span", {"title": "2026-01-02T03:04:05Z"}) in parsed.attributes
    local_zone("America/New_York")
    assert value(card(running_job()), "Created") == "2026-01-01 22:04:05"


def test_a_recent_time_says_how_long_ago() -> None:
    recent = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=3, seconds=5)
    assert value(card(running_job(created_at=recent)), "Created").endswith(" (3 min ago)")


def test_every_other_set_field_is_in_the_collapsed_details() -> None:
    job = running_job()
    parsed = card(job)
    shown_first = {"id", "status", "model", "model_output_name", "created_at", "started_at"}
    shown_first |= {"total_price", "steps_completed", "total_steps", "epochs_completed"}
    shown_first |= {"progress"}
    expected = [
        field.name
        for field in attrs.fields(FineTune)
        if getattr(job, field.name) is not None and field.name not in shown_first | {"extra"}
    ]
    assert labels(parsed.rest()) == expected
    assert parsed.summary == f"{len(expected)} more fields"
    assert "details" in parsed.tags
    assert ("details", {"style": parsed.attributes[parsed.tags.index("details")][1]["style"]}) in (
        parsed.attributes
    )  # no "open" attribute: folded until clicked


def test_nested_settings_read_as_short_phrases() -> None:
    parsed = card(running_job())
    assert value(parsed, "training_type") == f"LoRA r=8 {ALPHA}=16"
    assert value(parsed, "lr_scheduler") == "cosine, min 0.0"
    assert value(parsed, "training_method") == "SFT, train on inputs auto"
    assert value(parsed, "events") == "1 · last: job_start at " + value(parsed, "Created")
    assert value(parsed, "param_count") == "8,030,261,248"
    assert value(parsed, "learning_rate") == "10e-6"  # as the CLI prints metrics


def test_a_completed_job_shows_its_outputs_instead_of_progress() -> None:
    job = running_job(
        status=FineTuneStatus.COMPLETED,
        steps_completed=400,
        model_object_name="proj/llama-ft",
        model_object_revision_id="rv_1",
        n_checkpoints=2,
    )
    parsed = card(job)
    assert labels(parsed.lead()) == [
        "Model",
        "Output model",
        "Created",
        "Started",
        "Finished",
        "Price",
        "Registry model",
        "Checkpoints",
    ]
    assert value(parsed, "Registry model") == "proj/llama-ft (rv_1)"
    assert value(parsed, "Checkpoints") == "2"
    assert "steps_completed" in labels(parsed.rest())


def test_a_failed_job_shows_its_last_error() -> None:
    events = [
        FineTuneEvent(message="all good", level="info"),  # type: ignore[arg-type]
        FineTuneEvent(message=HOSTILE, level="error"),  # type: ignore[arg-type]
    ]
    parsed = card(running_job(status=FineTuneStatus.ERROR, events=events))
    assert value(parsed, "Last error") == HOSTILE
    assert value(parsed, "events").startswith("2 ")


def test_server_text_is_escaped_everywhere() -> None:
    job = running_job(
        model=HOSTILE,
        model_output_name=HOSTILE,
        suffix=HOSTILE,
        training_type=LoRATraining(lora_r=8, lora_trainable_modules=HOSTILE),
        extra={HOSTILE: HOSTILE},
        events=[FineTuneEvent(message=HOSTILE, type=HOSTILE)],  # type: ignore[arg-type]
    )
    for markup in (
        job._repr_html_(),  # type: ignore[attr-defined]
        Listing([job])._repr_html_(),
        Listing(job.events or [])._repr_html_(),
    ):
        assert "<img" not in markup
        assert "&lt;img src=x onerror=alert(&quot;x&quot;)&gt;&amp;" in markup
    assert HOSTILE in Parsed(job._repr_html_()).text  # type: ignore[attr-defined]


def test_the_markup_is_self_contained() -> None:
    objects: List[Any] = [running_job(), Listing([running_job()])]
    for markup in (obj._repr_html_() for obj in objects):
        lowered = markup.lower()
        for banned in ("<script", "<style", "<link", "<img", "url(", "@import", "href=", "src="):
            assert banned not in lowered
        assert "class=" not in lowered  # nothing a stylesheet must define
        assert not re.search(r"var\(--[\w-]+\)", markup)  # every theme variable has a fallback
        assert "var(--jp-" in markup


# -- never raises -----------------------------------------------------------------------------


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


def test_a_field_that_cannot_be_formatted_shows_as_escaped_text() -> None:
    job = running_job(total_price=HOSTILE, created_at=HOSTILE, learning_rate=Unprintable())
    parsed = card(job)
    assert value(parsed, "Price") == HOSTILE  # dollars failed: the value as it came
    assert value(parsed, "Created") == HOSTILE
    assert value(parsed, "learning_rate") == "<Unprintable>"
    assert value(parsed, "Model") == "meta-llama/Llama-3-8b"  # the rest of the card stands


def test_a_card_that_cannot_be_made_falls_back_to_a_plain_table() -> None:
    job = running_job(status=HOSTILE)  # not a status: is_terminal fails
    parsed = card(job)
    assert parsed.text[:2] == ["FineTune", "ft-42"]
    assert value(parsed, "status") == HOSTILE
    assert value(parsed, "total_price") == "3750000000"


def test_a_listing_of_odd_objects_never_raises() -> None:
    odd = [running_job(status=HOSTILE), running_job(steps_completed=Unprintable())]
    parsed = Parsed(Listing(odd)._repr_html_())
    assert parsed.rows[1][1] == HOSTILE
    assert parsed.rows[2][3] == "<Unprintable>"
    assert "<Unprintable>" in Parsed(Listing([Unprintable(), 1])._repr_html_()).text


# -- listings ---------------------------------------------------------------------------------


def test_a_job_listing_has_badges_right_aligned_numbers_and_local_times(
    local_zone: Callable[[str], None],
) -> None:
    local_zone("Asia/Kolkata")
    jobs = Listing([running_job(), running_job(id="ft-43", status=FineTuneStatus.QUEUED)])
    markup = jobs._repr_html_()
    parsed = Parsed(markup)
    assert parsed.rows[0] == ["ID", "Status", "Model", "Steps", "Price", "Created"]
    assert parsed.rows[1] == [
        "ft-42",
        "running",
        "meta-llama/Llama-3-8b",
        "140/400",
        "$3.75",
        "2026-01-02 08:34:05",
    ]
    aligned = [style.split(";")[0] for style in parsed.styles[1]]
    assert aligned == ["text-align:left"] * 3 + ["text-align:right"] * 2 + ["text-align:left"]
    assert badge_colours(markup) == [BADGE_COLOURS["cyan"], BADGE_COLOURS["yellow"]]


def test_a_listing_shows_at_most_fifty_rows_and_counts_the_rest() -> None:
    jobs = Listing([running_job(id=f"ft-{i}") for i in range(MAX_ROWS + 12)])
    parsed = Parsed(jobs._repr_html_())
    assert MAX_ROWS == 50
    assert len(parsed.rows) == 1 + MAX_ROWS + 1
    assert parsed.rows[MAX_ROWS][0] == f"ft-{MAX_ROWS - 1}"
    assert parsed.rows[-1] == ["… and 12 more"]


def test_event_checkpoint_and_file_listings(local_zone: Callable[[str], None]) -> None:
    local_zone("UTC")
    events = Listing(
        [
            FineTuneEvent(
                message="saved", type="checkpoint_save", level="info", step=1200, created_at=CREATED
            )
        ]  # type: ignore[arg-type]
    )
    assert Parsed(events._repr_html_()).rows == [
        ["Time", "Level", "Type", "Step", "Message"],
        ["2026-01-02 03:04:05", "info", "checkpoint_save", "1,200", "saved"],
    ]
    checkpoints = Listing([Checkpoint(step=10, checkpoint_type="Intermediate", path="s3://b/10")])
    assert Parsed(checkpoints._repr_html_()).rows == [
        ["Step", "Type", "Path"],
        ["10", "Intermediate", "s3://b/10"],
    ]
    stored = FileObject(
        id="file-1",
        filename="train.jsonl",
        bytes=1_234_567,
        purpose="fine-tune",
        created_at=1767323045,
        processing_status=FileProcessingStatus.FAILED,
    )
    markup = Listing([stored])._repr_html_()
    assert Parsed(markup).rows[1] == [
        "file-1",
        "train.jsonl",
        "1,234,567",
        "fine-tune",
        "FAILED",
        "2026-01-02 03:04:05",
    ]
    assert badge_colours(markup) == [BADGE_COLOURS["red"]]


# -- the other objects ----------------------------------------------------------------------


def test_an_event_card_leads_with_type_level_time_and_message() -> None:
    event = FineTuneEvent(
        message="Job failed",
        type="job_error",
        level="error",
        created_at=CREATED,
        hash="h",  # type: ignore[arg-type]
    )
    parsed = card(event)
    assert parsed.text[:3] == ["FineTuneEvent", "job_error", "error"]
    assert labels(parsed.lead()) == ["Time", "Message"]
    assert labels(parsed.rest()) == ["hash"]
    assert badge_colours(event._repr_html_()) == [BADGE_COLOURS["red"]]  # type: ignore[attr-defined]


def test_a_checkpoint_card() -> None:
    checkpoint = Checkpoint(
        step=1200, path="s3://b/1200", checkpoint_type="Intermediate", object_id="ml_1"
    )
    parsed = card(checkpoint)
    assert parsed.text[:3] == ["Checkpoint", "step 1,200", "Intermediate"]
    assert labels(parsed.lead()) == ["Path"]
    assert labels(parsed.rest()) == ["object_id"]


def test_a_file_card_leads_with_name_size_and_the_servers_check(
    local_zone: Callable[[str], None],
) -> None:
    local_zone("UTC")
    stored = FileObject(
        id="file-1",
        filename="train.jsonl",
        bytes=1_234_567,
        purpose="fine-tune",
        file_type="jsonl",
        created_at=1767323045,
        processed=True,
        processing_status=FileProcessingStatus.COMPLETED,
        validation_report=ValidationReport(valid=True, dataset_format="CONVERSATION", nlines=1000),
    )
    parsed = card(stored)
    assert parsed.text[:3] == ["FileObject", "file-1", "COMPLETED"]
    assert labels(parsed.lead()) == ["Filename", "Size", "Purpose", "Type", "Uploaded", "Check"]
    assert value(parsed, "Size") == "1,234,567 bytes"
    assert value(parsed, "Uploaded") == "2026-01-02 03:04:05"
    assert value(parsed, "Check") == "valid, CONVERSATION, 1,000 lines"
    assert labels(parsed.rest()) == ["processed"]
    invalid = FileObject(id="f", validation_report=ValidationReport(valid=False, error=HOSTILE))
    assert value(card(invalid), "Check") == "invalid " + HOSTILE


def test_a_price_estimate_card_is_in_dollars() -> None:
    estimate = PriceEstimate(
        estimated_total_price=1234.5,
        allowed_to_proceed=True,
        user_limit=5000.0,
        estimated_train_token_count=250000.0,
    )
    parsed = card(estimate)
    assert parsed.text[:2] == ["PriceEstimate", "allowed to proceed"]
    assert parsed.lead() == [
        ["Estimated price", "$1,234.50"],
        ["Your limit", "$5,000.00"],
        ["Training tokens", "250,000"],
    ]
    over = card(PriceEstimate(estimated_total_price=9.0, allowed_to_proceed=False))
    assert over.text[1] == "over your limit"
    none = card(PriceEstimate(estimation_available=False, unavailable_reason=HOSTILE))
    assert none.lead() == [["Why no estimate", HOSTILE]]


def test_a_model_limits_card_reads_as_sentences() -> None:
    limits = ModelLimits(
        model_name="meta-llama/Llama-3-8b",
        lora_training=TrainingLimits(
            max_rank=64, default_rank=8, min_batch_size=8, max_batch_size=32
        ),
        full_training=None,
        supports_full_training=False,
        max_num_epochs=20,
        max_seq_length_sft=8192,
        max_seq_length_dpo=4096,
        min_learning_rate=1e-6,
        max_learning_rate=1e-3,
        supports_vision=False,
        supports_tools=True,
        merge_output_lora=True,
    )
    parsed = card(limits)
    assert parsed.text[:2] == ["ModelLimits", "meta-llama/Llama-3-8b"]
    assert parsed.lead() == [
        ["LoRA", "rank up to 64 (default 8), batch 8\N{EN DASH}32"],
        ["Full training", "not supported"],
        ["Epochs", "up to 20"],
        ["Sequence length", "up to 8,192 (SFT), 4,096 (DPO)"],
        ["Learning rate", "1e-6 to 0.001"],
        ["Supports", "tools"],
    ]
    assert labels(parsed.rest()) == ["merge_output_lora"]


def test_a_download_result_card_and_repr() -> None:
    # A short path: the one-line repr shortens long values (any pytest tmp_path may be).
    where = Path("/models/m.tar.zst")
    result = DownloadResult(
        id="ft-42", checkpoint_step=None, path=where, size=2048, sha256="ab" * 32
    )
    assert repr(result) == f"DownloadResult(id='ft-42', path='{where}', size=2048)"
    parsed = card(result)
    assert parsed.text[:2] == ["DownloadResult", "ft-42"]
    assert parsed.lead() == [
        ["Path", str(where)],
        ["Size", "2,048 bytes"],
        ["SHA-256", "ab" * 32],
    ]


def test_the_plain_reprs_stay_one_short_line() -> None:
    for obj in (
        running_job(),
        PriceEstimate(estimated_total_price=1.5, allowed_to_proceed=True),
        ModelLimits(model_name="m", max_num_epochs=20),
    ):
        line = repr(obj)
        assert "\n" not in line
        assert len(line) < 300
    assert (
        repr(PriceEstimate(estimated_total_price=1.5)) == "PriceEstimate(estimated_total_price=1.5)"
    )


def test_every_summarized_class_renders_without_raising_when_empty() -> None:
    for obj in (FineTuneEvent(), Checkpoint(), FileObject(id="f"), PriceEstimate()):
        assert object_html(obj).startswith("<div")
        assert "Traceback" not in object_html(obj)


def test_the_display_imports_nothing_heavy() -> None:
    code = (
        "import sys, together_finetune.models as m\n"
        "m.FineTune(id='ft-1', status='running')._repr_html_()\n"
        "heavy = ('requests', 'cattrs', 'tenacity', 'pandas', 'matplotlib', 'numpy', 'IPython')\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in heavy))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.strip() == "[]"


def test_a_listing_whose_columns_fail_shows_one_column_of_reprs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(items: Any) -> Any:
        raise RuntimeError("no columns")

    monkeypatch.setattr(FineTune, "__display_columns__", broken)
    parsed = Parsed(Listing([running_job(model=HOSTILE)])._repr_html_())
    assert parsed.rows[0] == ["value"]
    assert parsed.rows[1][0].startswith("FineTune(id='ft-42', status='running', model='<img")


def test_every_cell_says_how_it_aligns_whatever_the_front_ends_stylesheet_says() -> None:
    # Jupyter's stylesheet right-aligns and stripes output tables: inline styles win over it.
    for obj in (running_job(), Listing([running_job(), running_job(id="ft-43")])):
        parsed = Parsed(obj._repr_html_())
        cells = [style for row in parsed.styles for style in row]
        assert cells
        assert all(re.search(r"(^|;)text-align:(left|right)", style) for style in cells)
        rows = [attributes for tag, attributes in parsed.attributes if tag == "tr"]
        assert all("background:none" in (row.get("style") or "") for row in rows)
