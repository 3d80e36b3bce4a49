"""Commands on existing jobs: list, retrieve, cancel, delete, events, checkpoints, metrics,
wait and download."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from .._format import dollars, number
from . import arguments, plotting
from .base import PROG, UsageError, add_alias, add_command, add_job_command, client
from .output import Out, plain, show_download, show_job, table, text, wants_progress_bar, when
from .terminal import confirm

if TYPE_CHECKING:  # pragma: no cover
    from ..models import FineTune, FineTuneEvent
    from .base import Subparsers

_EVENT_HEADERS = ("CREATED", "LEVEL", "TYPE", "MESSAGE")


def _jobs_table(jobs: Sequence[FineTune], colour: bool) -> str:
    from .fmt import status

    return table(
        ("ID", "STATUS", "MODEL", "CREATED"),
        ((j.id, status(j.status.value, colour), text(j.model), when(j.created_at)) for j in jobs),
    )


def _event_row(event: FineTuneEvent) -> List[str]:
    return [
        when(event.created_at),
        event.level.value if event.level is not None else "-",
        event.type.value if event.type is not None else "-",
        " ".join((event.message or "").split()) or "-",
    ]


def list_jobs(args: argparse.Namespace, out: Out) -> int:
    """``list``: every job of the account."""
    with client(args) as api:
        jobs = api.fine_tunes.list()
    if out.json_mode:
        out.json(plain(jobs))
    elif jobs:
        out.line(_jobs_table(jobs, out.colour))
    else:
        out.note("no fine-tuning jobs")
    return 0


def _early_stopping(job: FineTune) -> str:
    if job.early_stopped:
        best = job.early_stopping_best_metric
        step = text(job.early_stopping_best_step)
        if best is None:
            return f"stopped early at step {step} (no finite improving evaluation)"
        return f"stopped early; best eval loss {best:.6g} at step {step}"
    settings = [
        f"{label} {value}"
        for label, value in (
            ("patience", job.early_stopping_patience),
            ("min delta", job.early_stopping_min_delta),
            ("warmup evals", job.early_stopping_warmup_evals),
        )
        if value is not None
    ]
    return "enabled" + (f" ({', '.join(settings)})" if settings else "")


def job_details(job: FineTune) -> List[Tuple[str, str]]:
    """What ``retrieve`` shows beyond the job block, when the API sent it: early
    stopping, the registry entries of the outputs, the price, the tokenized data."""
    pairs: List[Tuple[str, str]] = []
    if job.early_stopping_enabled or job.early_stopped:
        pairs.append(("EARLY STOPPING", _early_stopping(job)))
    for label, name, revision in (
        ("REGISTRY MODEL", job.model_object_name, job.model_object_revision_id),
        ("REGISTRY ADAPTER", job.adapter_object_name, job.adapter_object_revision_id),
    ):
        if name:
            pairs.append((label, name + (f" ({revision})" if revision else "")))
    # The fake and the API send 0 until the job is billed: a price of $0.00 says nothing.
    if job.total_price_usd:
        pairs.append(("PRICE", dollars(job.total_price_usd)))
    if job.tokenized_dataset_path:
        pairs.append(("TOKENIZED DATA", job.tokenized_dataset_path))
    return pairs


def retrieve(args: argparse.Namespace, out: Out) -> int:
    """``retrieve JOB_ID``: the job block, then early stopping and registry names if present."""
    with client(args) as api:
        job = api.fine_tunes.retrieve(args.id)
    show_job(job, out, job_details(job))
    return 0


def cancel(args: argparse.Namespace, out: Out) -> int:
    """``cancel JOB_ID``: reads the job first; a finished one is left alone (exit 1).

    Asks on a terminal (not with ``--yes``) before sending the cancel.
    """
    with client(args) as api:
        job = api.fine_tunes.retrieve(args.id)
        if job.status.is_terminal:
            out.note(
                f"{PROG} cancel: job {args.id} has already finished ({job.status.value}); "
                "nothing to cancel"
            )
            return 1
        if not confirm(f"cancel job {args.id}?", assume_yes=args.yes):
            out.note(f"{PROG} cancel: not cancelled")
            return 1
        job = api.fine_tunes.cancel(args.id)
    show_job(job, out)
    return 0


def delete(args: argparse.Namespace, out: Out) -> int:
    """``delete JOB_ID``: asks first on a terminal (not with ``--yes``)."""
    if not confirm(
        f"delete job {args.id} and its outputs? This cannot be undone.", assume_yes=args.yes
    ):
        out.note(f"{PROG} delete: not deleted")
        return 1
    with client(args) as api:
        result = api.fine_tunes.delete(args.id)
    if out.json_mode:
        out.json(plain(result))
    else:
        out.line(result.message or f"deleted {args.id}")
    return 0


def events(args: argparse.Namespace, out: Out) -> int:
    """``events JOB_ID [--follow]``."""
    with client(args) as api:
        if args.follow:
            for event in api.fine_tunes.follow_events(args.id, poll_interval=args.poll_interval):
                if out.json_mode:
                    out.line(json.dumps(plain(event), ensure_ascii=False))
                else:
                    out.line("  ".join(_event_row(event)))
                out.flush()
            return 0
        found = api.fine_tunes.list_events(args.id)
    if out.json_mode:
        out.json(plain(found))
    elif found:
        out.line(table(_EVENT_HEADERS, (_event_row(e) for e in found)))
    else:
        out.note(f"no events for {args.id}")
    return 0


def checkpoints(args: argparse.Namespace, out: Out) -> int:
    """``checkpoints JOB_ID``."""
    with client(args) as api:
        found = api.fine_tunes.list_checkpoints(args.id)
    if out.json_mode:
        out.json(plain(found))
    elif found:
        headers = ["STEP", "TYPE", "CREATED", "PATH"]
        rows = [
            [text(c.step), text(c.checkpoint_type), when(c.created_at), text(c.path)] for c in found
        ]
        # The model registry's name of each checkpoint, when the API sends one.
        if any(c.object_name for c in found):
            headers.append("REGISTRY NAME")
            for row, c in zip(rows, found):
                row.append(text(c.object_name))
        out.line(table(headers, rows))
    else:
        out.note(f"no checkpoints for {args.id}")
    return 0


def metrics(args: argparse.Namespace, out: Out) -> int:
    """``metrics JOB_ID``: the loss as a chart on a terminal, else one column per metric
    (``--plot FILE``: a figure written to FILE).

    Piped, the table is printed (``--plain`` asks for it on a terminal too): a
    script or a file wants the numbers, not the drawing.
    """
    if args.plot is not None:
        plotting.check_target(args.plot)
    with client(args) as api:
        rows = api.fine_tunes.list_metrics(
            args.id,
            global_step_from=args.step_from,
            global_step_to=args.step_to,
            logged_at_from=args.since,
            logged_at_to=args.until,
            resolution=args.resolution,
        )
    if args.plot is not None:
        return plotting.write(args.id, rows, args.plot, out)
    if out.json_mode:
        out.json(rows)
    elif not rows:
        out.note(f"no metrics for {args.id}")
    elif args.plain or not sys.stdout.isatty() or not _loss_chart(rows, out):
        columns: List[str] = []
        for row in rows:
            columns.extend(key for key in row if key not in columns)
        out.line(table(columns, ([number(row.get(c)) for c in columns] for row in rows)))
    return 0


def _loss_chart(rows: List[Dict[str, float]], out: Out) -> bool:
    """Draw the loss curves sized to the terminal; ``False`` when the rows carry no loss."""
    import shutil

    from .chart import loss_series, render

    series = loss_series(rows)
    if not series:
        return False
    size = shutil.get_terminal_size((80, 24))
    for line in render(series, size.columns - 1, min(20, max(5, size.lines - 8))):
        out.line(line)
    for name, points in series.items():
        low = min(points, key=lambda point: point[1])
        out.line(
            f"{name}: {number(points[0][1])} → {number(points[-1][1])}, "
            f"lowest {number(low[1])} at step {number(int(low[0]))}"
        )
    return True


def wait(args: argparse.Namespace, out: Out) -> int:
    """``wait JOB_ID``: exit 1 when the job ends as a failure.

    On a terminal one status line (bar, steps, epoch, time left) is redrawn under the
    events; otherwise the events are plain lines, as a log wants them.
    """
    from .._format import job_progress
    from .fmt import status
    from .terminal import StatusLine

    show_events = not out.json_mode and not args.quiet
    live = not out.json_mode and sys.stdout.isatty()
    line = StatusLine(sys.stdout, live=live)

    def on_event(event: FineTuneEvent) -> None:
        line.above("  ".join(_event_row(event)))

    def on_update(job: FineTune) -> None:
        line.show(f"{status(job.status.value, out.colour)}  {job_progress(job)}")

    try:
        with client(args) as api:
            job = api.fine_tunes.wait(
                args.id,
                poll_interval=args.poll_interval,
                timeout=args.timeout,
                on_event=on_event if show_events else None,
                on_update=on_update if live else None,
            )
    finally:
        line.close()
    show_job(job, out)
    if job.status.is_failure:
        out.note(f"{PROG}: job {job.id} ended as {job.status.value}")
        return 1
    return 0


def _job_and_step(args: argparse.Namespace) -> Tuple[str, Optional[int]]:
    """``JOB_ID`` or ``JOB_ID:STEP`` (as the official CLI's ``list-checkpoints`` prints
    it), and the step, which ``--step`` may give instead (not both)."""
    from .base import check_job_argument

    job_id, colon, step_text = args.id.partition(":")
    step: Optional[int] = args.step
    if colon:
        if not step_text.isdigit():
            raise UsageError(f"{args.id}: JOB_ID:STEP needs a whole number after the colon")
        if step is not None:
            raise UsageError(f"{args.id}: give the step once, in JOB_ID:STEP or --step")
        step = int(step_text)
    check_job_argument(job_id)
    return job_id, step


def download(args: argparse.Namespace, out: Out) -> int:
    """``download JOB_ID[:STEP]``: a progress bar only on a terminal, when tqdm is installed."""
    job_id, step = _job_and_step(args)
    if args.keep_archive and not args.extract:
        raise UsageError("--keep-archive: only with --extract")
    checkpoint = None if args.checkpoint == "default" else args.checkpoint
    progress = wants_progress_bar(args.no_progress, out)
    with client(args) as api:
        result = api.fine_tunes.download(
            job_id,
            checkpoint=checkpoint,
            checkpoint_step=step,
            output=args.output,
            overwrite=args.overwrite,
            extract=args.extract,
            keep_archive=args.keep_archive,
            progress=progress,
            connections=args.connections,
        )
    show_download(result, out)
    return 0


def register(subparsers: Subparsers) -> None:
    """Add the job commands and their flags."""
    # The hidden aliases (add_alias) and second flag spellings are the official
    # `together fine-tuning` CLI's names for the same thing.
    add_command(subparsers, "list", "list fine-tuning jobs", list_jobs)
    add_job_command(subparsers, "retrieve", "show one job", retrieve)
    p = add_job_command(subparsers, "cancel", "cancel a running job", cancel)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask (on a terminal)")
    p = add_job_command(subparsers, "delete", "delete a job and its outputs", delete)
    p.add_argument("--yes", "-y", "--force", action="store_true", help="do not ask (on a terminal)")

    p = add_job_command(subparsers, "events", "show a job's events", events)
    p.add_argument("--follow", "-f", action="store_true", help="print new events until the end")
    p.add_argument("--poll-interval", type=arguments.positive_float, default=5.0, metavar="SECONDS")
    add_alias(subparsers, "list-events", p)

    p = add_job_command(subparsers, "checkpoints", "list a job's checkpoints", checkpoints)
    add_alias(subparsers, "list-checkpoints", p)

    p = add_job_command(subparsers, "metrics", "show a job's training metrics", metrics)
    add_alias(subparsers, "list-metrics", p)
    p.add_argument(
        "--step-from", "--global-step-from", type=int, help="first global step (inclusive)"
    )
    p.add_argument("--step-to", "--global-step-to", type=int, help="last global step (inclusive)")
    p.add_argument("--since", type=arguments.timestamp, help="logged at or after (ISO-8601)")
    p.add_argument("--until", type=arguments.timestamp, help="logged at or before (ISO-8601)")
    p.add_argument(
        "--resolution", type=arguments.positive_int, help="about N uniformly sampled points"
    )
    p.add_argument("--plot", metavar="FILE", help="write the loss curves to FILE.png or FILE.svg")
    p.add_argument(
        "--plain",
        action="store_true",
        help="the table of numbers, not the loss chart (the default when piped)",
    )

    p = add_job_command(subparsers, "wait", "wait for a job to finish (exit 1 if it failed)", wait)
    p.add_argument("--poll-interval", type=arguments.positive_float, default=5.0, metavar="SECONDS")
    p.add_argument(
        "--timeout", type=arguments.positive_float, metavar="SECONDS", help="give up after"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="do not print events")

    # JOB_ID:STEP is split and checked by the handler.
    p = add_command(subparsers, "download", "download a job's model or a checkpoint", download)
    p.add_argument(
        "id", metavar="JOB_ID[:STEP]", help="fine-tune job ID (ft-...), with a checkpoint step"
    )
    p.add_argument(
        "--output",
        "-o",
        "--output-dir",
        metavar="PATH",
        help="the archive's path, or with --extract the directory for the model files; "
        "DIR/ or an existing directory: inside it, named after the job (default: .); "
        "missing parent directories are made",
    )
    p.add_argument(
        "--checkpoint",
        "--checkpoint-type",
        "-c",
        choices=("merged", "adapter", "model_output_path", "default"),
        help="default: merged for LoRA jobs, model_output_path for full training",
    )
    p.add_argument(
        "--step", "--checkpoint-step", "-s", type=int, help="an intermediate checkpoint's step"
    )
    p.add_argument(
        "--extract",
        action="store_true",
        help="unpack the archive, then remove it (see --keep-archive)",
    )
    p.add_argument(
        "--keep-archive", action="store_true", help="with --extract: keep the archive beside"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing file or extracted directory"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    arguments.add_connections(p)
