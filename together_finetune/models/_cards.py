"""What each object's notebook card leads with, and the columns of a list of them.

A card names the object and shows its state as a badge, then the few fields a
reader looks for first, in the words the command line uses; every other field
follows in the collapsed part (:func:`._display.object_html` adds those). Each
row is made apart: a value that cannot be formatted shows as escaped text.

This module knows the classes and hands them their cards (:func:`._display.present`)
when the package is imported; the classes do not import it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, List, Optional, Sequence, Set, Union

from .. import _format
from . import _html
from ._display import MAX_CARD_VALUE, Card, Cell, present, safe_text, shorten, value_html
from .catalog import ModelLimits, PriceEstimate, TrainingLimits
from .files import FileObject
from .jobs import Checkpoint, FineTune, FineTuneEvent
from .results import DownloadResult

#: The longest event message in a list of events.
MAX_MESSAGE = 120


class Lead:
    """The first rows of a card, and the fields they show."""

    def __init__(self, obj: Any, now: dt.datetime) -> None:
        self.obj = obj
        self.now = now
        self.rows: List[tuple[str, str]] = []
        self.used: Set[str] = set()

    def row(
        self,
        label: str,
        fields: Union[str, Sequence[str]],
        render: Optional[Callable[[], str]] = None,
    ) -> None:
        """A row ``label`` for ``fields`` (skipped when none is set): ``render()``'s markup
        (a row is left out when it gives ``""``), or the first field's value; escaped text
        of the fields when ``render`` fails."""
        names = (fields,) if isinstance(fields, str) else tuple(fields)
        self.used.update(names)
        values = [getattr(self.obj, name, None) for name in names]
        if all(value is None for value in values):
            return
        try:
            markup = render() if render is not None else value_html(values[0], self.now)
        except Exception:  # a value that cannot be formatted: the row shows it as text
            markup = _html.esc(", ".join(safe_text(v) for v in values if v is not None))
        if markup:
            self.rows.append((label, markup))

    def card(self, title: str, badges: List[str], **notes: str) -> Card:
        """The card these rows lead."""
        return Card(title, badges, self.rows, self.used, notes)


def _word(value: Any) -> str:
    """An enum or text as its wire value."""
    return str(getattr(value, "value", value))


def status_badge(value: Any) -> str:
    """A status as a badge in the CLI's colour for it."""
    return _html.badge(_word(value), _format.status_tone(value))


def _text(value: Any) -> str:
    return _html.esc(shorten(str(value), MAX_CARD_VALUE))


def _count(value: Optional[int], unit: str) -> str:
    return f"{_format.number(value)} {unit}" if value is not None else ""


# -- jobs -------------------------------------------------------------------------------------


def job_card(job: FineTune, now: dt.datetime) -> Card:
    """ID and status; model, output, times and price; progress while it runs; the outputs
    when done; why it failed when it did."""
    lead = Lead(job, now)
    lead.used.update(("id", "status"))
    lead.row("Model", "model")
    lead.row("Output model", "model_output_name")
    lead.row("Created", "created_at")
    lead.row("Started", "started_at")
    if job.is_terminal:
        lead.row("Finished", "updated_at")
    lead.row("Price", "total_price", lambda: _price(job))
    if not job.is_terminal:
        lead.row(
            "Progress",
            ("steps_completed", "total_steps", "epochs_completed", "progress"),
            lambda: _progress(job),
        )
    if job.status.value == "completed":
        lead.row("Adapter", "adapter_output_name")
        model = ("model_object_name", "model_object_revision_id")
        adapter = ("adapter_object_name", "adapter_object_revision_id")
        lead.row("Registry model", model, lambda: _registry(job, *model))
        lead.row("Registry adapter", adapter, lambda: _registry(job, *adapter))
        lead.row("Checkpoints", "n_checkpoints")
    if job.status.is_failure and job.events:
        lead.row("Last error", "events", lambda: _last_error(job.events or []))
        lead.used.discard("events")  # counted again in the rest
    notes = {"events": _events_note(job.events, now)} if job.events else {}
    return lead.card(job.id, [status_badge(job.status)], **notes)


def _registry(job: FineTune, name: str, revision: str) -> str:
    """A registry entry as the CLI shows it: the name, then the revision in brackets."""
    entry, version = getattr(job, name), getattr(job, revision)
    if not entry:
        return ""
    return _text(entry) + (" " + _html.muted(f"({version})") if version else "")


def _price(job: FineTune) -> str:
    # The API sends 0 until the job is billed: $0.00 would say it was free.
    price = job.total_price_usd
    return _html.esc(_format.dollars(price)) if price else _html.muted("not billed yet")


def _progress(job: FineTune) -> str:
    fraction, parts = _format.progress(job)
    if fraction is None and not parts:
        return ""
    return _html.progress_bar(fraction, parts, _format.status_tone(job.status) or "cyan")


def _last_error(events: Sequence[FineTuneEvent]) -> str:
    for event in reversed(events):
        if event.message and _word(event.level).lower().endswith("error"):
            return _text(event.message)
    return ""


def _events_note(events: Optional[Sequence[FineTuneEvent]], now: dt.datetime) -> str:
    try:
        found = list(events or [])
        last = found[-1]
        said = _word(last.type) if last.type is not None else "event"
        when = f" at {_html.moment(last.created_at, now)}" if last.created_at else ""
        return f"{len(found):,} · last: {_html.esc(said)}{when}"
    except Exception:  # not a list of events after all
        return _html.esc(safe_text(events))


def job_columns(jobs: Sequence[FineTune]) -> List[Cell]:
    """ID, status badge, model, steps, price, created."""
    return [
        Cell(_html.Column("ID"), "id", lambda job, now: _html.code(job.id)),
        Cell(_html.Column("Status"), "status", lambda job, now: status_badge(job.status)),
        Cell(_html.Column("Model"), "model", lambda job, now: _optional(job.model)),
        Cell(_html.Column("Steps", numeric=True), "steps_completed", lambda job, now: _steps(job)),
        Cell(_html.Column("Price", numeric=True), "total_price", lambda job, now: _bill(job)),
        Cell(_html.Column("Created"), "created_at", lambda job, now: _at(job.created_at, now)),
    ]


def _optional(value: Any) -> str:
    return "" if value is None else _html.esc(shorten(str(value)))


def _at(value: Optional[dt.datetime], now: dt.datetime) -> str:
    return "" if value is None else _html.moment(value, now)


def _steps(job: FineTune) -> str:
    done, total = job.steps_completed, job.total_steps
    if total:
        return _html.esc(f"{done or 0:,}/{total:,}")
    return "" if done is None else _html.esc(f"{done:,}")


def _bill(job: FineTune) -> str:
    price = job.total_price_usd
    return _html.esc(_format.dollars(price)) if price else ""


# -- events and checkpoints -------------------------------------------------------------------


def _level_tone(level: Any) -> str:
    word = _word(level).lower()
    if word.endswith("error"):
        return "red"
    return "yellow" if word.endswith("warning") else ""


def event_card(event: FineTuneEvent, now: dt.datetime) -> Card:
    """Type and level; time, message, step."""
    lead = Lead(event, now)
    lead.used.update(("type", "level"))
    lead.row("Time", "created_at")
    lead.row("Message", "message")
    lead.row("Step", "step")
    badges = (
        [] if event.level is None else [_html.badge(_word(event.level), _level_tone(event.level))]
    )
    return lead.card("" if event.type is None else _word(event.type), badges)


def event_columns(events: Sequence[FineTuneEvent]) -> List[Cell]:
    """Time, level badge, type, step, message."""
    return [
        Cell(_html.Column("Time"), "created_at", lambda e, now: _at(e.created_at, now)),
        Cell(_html.Column("Level"), "level", lambda e, now: _level(e)),
        Cell(
            _html.Column("Type"),
            "type",
            lambda e, now: _optional(_word(e.type) if e.type else None),
        ),
        Cell(_html.Column("Step", numeric=True), "step", lambda e, now: _number(e.step)),
        Cell(_html.Column("Message", wrap=True), "message", lambda e, now: _message(e.message)),
    ]


def _level(event: FineTuneEvent) -> str:
    return "" if event.level is None else _html.badge(_word(event.level), _level_tone(event.level))


def _number(value: Any) -> str:
    return "" if value is None else _html.esc(_format.number(value))


def _message(value: Optional[str]) -> str:
    return "" if not value else _html.esc(shorten(value, MAX_MESSAGE))


def checkpoint_card(checkpoint: Checkpoint, now: dt.datetime) -> Card:
    """Step and type; time, path, registry name."""
    lead = Lead(checkpoint, now)
    lead.used.update(("step", "checkpoint_type"))
    lead.row("Created", "created_at")
    lead.row("Path", "path", lambda: _html.code(str(checkpoint.path)))
    lead.row("Registry name", "object_name")
    title = "" if checkpoint.step is None else f"step {checkpoint.step:,}"
    kind = checkpoint.checkpoint_type
    return lead.card(title, [] if kind is None else [_html.badge(kind, "")])


def checkpoint_columns(checkpoints: Sequence[Checkpoint]) -> List[Cell]:
    """Step, type, created, path."""
    return [
        Cell(_html.Column("Step", numeric=True), "step", lambda c, now: _number(c.step)),
        Cell(_html.Column("Type"), "checkpoint_type", lambda c, now: _optional(c.checkpoint_type)),
        Cell(_html.Column("Created"), "created_at", lambda c, now: _at(c.created_at, now)),
        Cell(_html.Column("Path", wrap=True), "path", lambda c, now: _code(c.path)),
    ]


def _code(value: Any) -> str:
    return "" if value is None else _html.code(shorten(str(value), MAX_CARD_VALUE))


# -- files ------------------------------------------------------------------------------------


def file_card(stored: FileObject, now: dt.datetime) -> Card:
    """ID and processing status; name, size, purpose, type, upload time, the server's check."""
    lead = Lead(stored, now)
    lead.used.update(("id", "processing_status", "object"))
    lead.row("Filename", "filename")
    lead.row("Size", "bytes", lambda: _html.esc(_count(stored.bytes, "bytes")))
    lead.row("Purpose", "purpose")
    lead.row("Type", "file_type")
    lead.row("Uploaded", "created_at", lambda: _uploaded(stored, now))
    lead.row("Check", "validation_report", lambda: _check(stored))
    badges = [] if stored.processing_status is None else [status_badge(stored.processing_status)]
    return lead.card(stored.id, badges)


def _uploaded(stored: FileObject, now: dt.datetime) -> str:
    when = _format.epoch_time(stored.created_at)
    return _html.esc(str(stored.created_at)) if when is None else _html.moment(when, now)


def _check(stored: FileObject) -> str:
    report = stored.validation_report
    if report is None:
        return ""
    if report.valid is False:
        why = report.error or report.error_type or "no reason given"
        return _html.badge("invalid", "red") + " " + _text(why)
    words = ["valid" if report.valid else "not checked"]
    if report.dataset_format:
        words.append(report.dataset_format)
    if report.nlines is not None:
        words.append(_count(report.nlines, "lines"))
    return _text(", ".join(words))


def file_columns(files: Sequence[FileObject]) -> List[Cell]:
    """ID, filename, size, purpose, status badge, upload time."""
    return [
        Cell(_html.Column("ID"), "id", lambda f, now: _html.code(f.id)),
        Cell(_html.Column("Filename"), "filename", lambda f, now: _optional(f.filename)),
        Cell(_html.Column("Bytes", numeric=True), "bytes", lambda f, now: _number(f.bytes)),
        Cell(_html.Column("Purpose"), "purpose", lambda f, now: _optional(f.purpose)),
        Cell(_html.Column("Status"), "processing_status", lambda f, now: _file_status(f)),
        Cell(_html.Column("Uploaded"), "created_at", lambda f, now: _file_time(f, now)),
    ]


def _file_status(stored: FileObject) -> str:
    status = stored.processing_status
    return "" if status is None else status_badge(status)


def _file_time(stored: FileObject, now: dt.datetime) -> str:
    return "" if stored.created_at is None else _uploaded(stored, now)


# -- prices, limits, downloads ----------------------------------------------------------------


def estimate_card(estimate: PriceEstimate, now: dt.datetime) -> Card:
    """Whether it may proceed; the price and the limit in dollars, the token counts."""
    lead = Lead(estimate, now)
    lead.used.update(("estimation_available", "allowed_to_proceed"))
    price, limit = estimate.estimated_total_price, estimate.user_limit
    lead.row("Estimated price", "estimated_total_price", lambda: _html.esc(_format.dollars(price)))
    lead.row("Your limit", "user_limit", lambda: _html.esc(_format.dollars(limit)))
    train, evaluate = estimate.estimated_train_token_count, estimate.estimated_eval_token_count
    lead.row("Training tokens", "estimated_train_token_count", lambda: _tokens(train))
    lead.row("Evaluation tokens", "estimated_eval_token_count", lambda: _tokens(evaluate))
    lead.row("Why no estimate", "unavailable_reason")
    if not estimate.estimation_available:
        badges = [_html.badge("no estimate", "yellow")]
    elif estimate.allowed_to_proceed is False:
        badges = [_html.badge("over your limit", "red")]
    elif estimate.allowed_to_proceed:
        badges = [_html.badge("allowed to proceed", "green")]
    else:
        badges = []
    return lead.card("", badges)


def _tokens(value: Optional[float]) -> str:
    whole = int(value) if isinstance(value, float) and value.is_integer() else value
    return _html.esc(_format.number(whole))


def limits_card(limits: ModelLimits, now: dt.datetime) -> Card:
    """The model; LoRA and full training, epochs, sequence length, learning rate, features."""
    lead = Lead(limits, now)
    lead.used.add("model_name")
    lead.row("LoRA", "lora_training", lambda: _text(_training(limits.lora_training)))
    lead.row(
        "Full training",
        ("full_training", "supports_full_training"),
        lambda: _text(_training(limits.full_training) if limits.full_training else "not supported"),
    )
    lead.row("Epochs", "max_num_epochs", lambda: _text(f"up to {limits.max_num_epochs:,}"))
    lead.row(
        "Sequence length",
        ("max_seq_length_sft", "max_seq_length_dpo"),
        lambda: _text(_sequence(limits)),
    )
    lead.row(
        "Learning rate",
        ("min_learning_rate", "max_learning_rate"),
        lambda: _text(
            f"{_format.number(limits.min_learning_rate)} to "
            f"{_format.number(limits.max_learning_rate)}"
        ),
    )
    features = ("supports_vision", "supports_tools", "supports_reasoning")
    lead.row("Supports", features, lambda: _text(_features(limits, features)))
    return lead.card(limits.model_name, [])


def _training(limits: Optional[TrainingLimits]) -> str:
    if limits is None:
        return ""
    words = []
    if limits.max_rank is not None:
        rank = f"rank up to {limits.max_rank}"
        if limits.default_rank is not None:
            rank += f" (default {limits.default_rank})"
        words.append(rank)
    if limits.min_batch_size is not None or limits.max_batch_size is not None:
        low, high = _format.number(limits.min_batch_size), _format.number(limits.max_batch_size)
        words.append(f"batch {low}\N{EN DASH}{high}")
    return ", ".join(words) or "supported"


def _sequence(limits: ModelLimits) -> str:
    shown = [
        f"{_format.number(value)} ({kind})"
        for kind, value in (("SFT", limits.max_seq_length_sft), ("DPO", limits.max_seq_length_dpo))
        if value is not None
    ]
    return "up to " + ", ".join(shown)


def _features(limits: ModelLimits, names: Sequence[str]) -> str:
    return ", ".join(name[len("supports_") :] for name in names if getattr(limits, name)) or "-"


def download_card(result: DownloadResult, now: dt.datetime) -> Card:
    """The job; where it landed, its size and digest, the checkpoint."""
    lead = Lead(result, now)
    lead.used.update(("id", "checkpoint"))
    lead.row("Path", "path", lambda: _html.code(str(result.path)))
    lead.row("Size", "size", lambda: _html.esc(_count(result.size, "bytes")))
    lead.row("SHA-256", "sha256", lambda: _html.code(result.sha256) if result.sha256 else "")
    lead.row("Step", "checkpoint_step")
    lead.row("Archive", "archive", lambda: _html.code(str(result.archive)))
    badges = [] if not result.checkpoint else [_html.badge(result.checkpoint, "")]
    return lead.card(result.id, badges)


present(FineTune, job_card, job_columns)
present(FineTuneEvent, event_card, event_columns)
present(Checkpoint, checkpoint_card, checkpoint_columns)
present(FileObject, file_card, file_columns)
present(PriceEstimate, estimate_card)
present(ModelLimits, limits_card)
present(DownloadResult, download_card)
