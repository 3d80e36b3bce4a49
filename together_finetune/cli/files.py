"""``files``: upload, check and manage data files."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from .._format import number
from . import arguments
from .base import PROG, UsageError, add_command, add_file_command, client
from .output import Out, block, plain, table, text, wants_progress_bar, when

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import DatasetReport
    from ..files import FileObject
    from .base import Subparsers

_FILE_HEADERS = ("ID", "FILENAME", "BYTES", "PURPOSE", "TYPE", "CREATED")
#: Problems listed when an upload is refused by the dataset check (``files check`` lists all).
_UPLOAD_PROBLEMS_SHOWN = 20


def _epoch(value: Any) -> str:
    """Epoch seconds (how file objects carry ``created_at``) in local time, as :func:`when`."""
    from .._format import epoch_time

    if value is None:
        return "-"
    moment = epoch_time(value)
    return str(value) if moment is None else when(moment)


def _file_row(f: FileObject) -> List[str]:
    return [
        f.id,
        text(f.filename),
        number(f.bytes),
        text(f.purpose),
        text(f.file_type),
        _epoch(f.created_at),
    ]


def _show_file(f: FileObject, out: Out) -> None:
    if out.json_mode:
        out.json(plain(f))
        return
    pairs = list(zip(_FILE_HEADERS, _file_row(f)))
    pairs += [("PROCESSED", text(f.processed)), ("STATUS", text(f.processing_status))]
    out.line(block(pairs))


def _report_data(report: DatasetReport) -> Dict[str, Any]:
    return {
        "path": report.path,
        "ok": report.ok,
        "format": report.format,
        "num_examples": report.num_examples,
        "problems": [{"line": p.line, "message": p.message} for p in report.problems],
        "warnings": [{"line": w.line, "message": w.message} for w in report.warnings],
        "warnings_omitted": report.warnings_omitted,
    }


def _upload_progress(name: str) -> Tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm bar on stderr, drawn at the first byte sent (not if the check refuses the file).

    Returns ``(callback, close)``; the callback may be called from several threads
    (multipart uploads) and with a smaller count after a retried part.
    """
    import threading

    lock = threading.Lock()
    bars: List[Any] = []

    def update(done: int, total: int) -> None:
        with lock:
            if not bars:
                from tqdm.auto import tqdm

                bars.append(
                    tqdm(
                        total=total,
                        unit="B",
                        unit_scale=True,
                        unit_divisor=1024,
                        desc=name[:40],
                        leave=True,
                    )
                )
            bars[0].update(done - bars[0].n)

    def close() -> None:
        with lock:
            for bar in bars:
                bar.close()

    return update, close


def dataset_refusal(path: str, report: DatasetReport) -> str:
    """Why a file the dataset check refused is not uploaded: the first problems, and a count."""
    count = len(report.problems)
    lines = [
        f"{path} failed the dataset check ({count} problem{'s' if count != 1 else ''}); "
        "nothing was sent"
    ]
    lines += [f"  {problem}" for problem in report.problems[:_UPLOAD_PROBLEMS_SHOWN]]
    if count > _UPLOAD_PROBLEMS_SHOWN:
        lines.append(
            f"  ... and {count - _UPLOAD_PROBLEMS_SHOWN} more "
            f"(`{PROG} files check {path}` lists them all)"
        )
    return "\n".join(lines)


def warning_lines(report: DatasetReport, limit: Optional[int] = None) -> List[str]:
    """The check's warnings, one line each (at most ``limit``, then how many more)."""
    shown = report.warnings if limit is None else report.warnings[:limit]
    lines = [f"warning: {warning}" for warning in shown]
    hidden = report.warning_count - len(shown)
    if hidden > 0:
        more = f"warning: ... and {hidden} more"
        if limit is not None:
            more += f" (`{PROG} files check {report.path}` lists them)"
        lines.append(more if limit is not None else f"{more} not listed")
    return lines


def upload(args: argparse.Namespace, out: Out) -> int:
    """``files upload PATH``: a file refused by the dataset check exits 2, nothing sent;
    warnings are printed to stderr and the file is uploaded."""
    from ..dataset import check_dataset

    if not args.no_check:
        # Checked here rather than inside upload() so the warnings can be shown.
        report = check_dataset(args.path, purpose=args.purpose, file_type=args.file_type)
        if not report.ok:
            raise UsageError(dataset_refusal(args.path, report))
        for line in warning_lines(report, _UPLOAD_PROBLEMS_SHOWN):
            out.note(line)

    callback: Optional[Callable[[int, int], None]] = None
    close: Optional[Callable[[], None]] = None
    if wants_progress_bar(args.no_progress, out):
        callback, close = _upload_progress(os.path.basename(args.path))
    try:
        with client(args) as api:
            uploaded = api.files.upload(
                args.path,
                purpose=args.purpose,
                file_type=args.file_type,
                check=False,
                if_exists=args.if_exists,
                progress=callback,
            )
    finally:
        if close is not None:
            close()
    _show_file(uploaded, out)
    return 0


def list_files(args: argparse.Namespace, out: Out) -> int:
    """``files list``."""
    with client(args) as api:
        found = api.files.list()
    if out.json_mode:
        out.json(plain(found))
    elif found:
        out.line(table(_FILE_HEADERS, (_file_row(f) for f in found)))
    else:
        out.note("no files")
    return 0


def retrieve(args: argparse.Namespace, out: Out) -> int:
    """``files retrieve FILE_ID``."""
    with client(args) as api:
        found = api.files.retrieve(args.id)
    _show_file(found, out)
    return 0


def delete(args: argparse.Namespace, out: Out) -> int:
    """``files delete FILE_ID``."""
    with client(args) as api:
        result = api.files.delete(args.id)
    if out.json_mode:
        out.json(plain(result))
    else:
        out.line(f"deleted {result.id}" if result.deleted else f"{result.id} was not deleted")
    return 0


def content(args: argparse.Namespace, out: Out) -> int:
    """``files content FILE_ID OUTPUT`` (or ``-o OUTPUT``); ``-`` writes the bytes to stdout."""
    output = args.output if args.output is not None else args.output_flag
    if output is None or (args.output is not None and args.output_flag is not None):
        raise UsageError("give the output once: files content FILE_ID OUTPUT or -o OUTPUT")
    if output == "-":
        return _content_to_stdout(args)
    with client(args) as api:
        path = api.files.content(
            args.id,
            output,
            overwrite=args.overwrite,
            progress=wants_progress_bar(args.no_progress, out),
            connections=args.connections,
        )
    size = path.stat().st_size
    if out.json_mode:
        out.json({"id": args.id, "path": str(path), "bytes": size})
    else:
        out.line(f"wrote {path} ({size} bytes)")
    return 0


def _content_to_stdout(args: argparse.Namespace) -> int:
    """The file's bytes on stdout, once the whole file arrived and was verified."""
    import shutil
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="together-finetune-") as scratch:
        with client(args) as api:
            path = api.files.content(
                args.id, os.path.join(scratch, "content"), connections=args.connections
            )
        with open(path, "rb") as source:
            sys.stdout.flush()
            shutil.copyfileobj(source, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    return 0


def check(args: argparse.Namespace, out: Out) -> int:
    """``files check PATH``: local only; exit 1 when the file has problems."""
    from ..dataset import check_dataset

    report = check_dataset(args.path, purpose=args.purpose)
    if out.json_mode:
        out.json(_report_data(report))
    elif report.ok:
        examples = "" if report.num_examples is None else f", {report.num_examples} examples"
        warned = report.warning_count
        noted = f" ({warned} warning{'s' if warned != 1 else ''})" if warned else ""
        out.line(f"{report.path}: {report.format} format{examples}, ok{noted}")
    else:
        for problem in report.problems:
            out.line(str(problem))
    if not out.json_mode:
        for line in warning_lines(report):
            out.line(line)
    if not report.ok:
        count = len(report.problems)
        warned = report.warning_count
        tail = f", {warned} warning{'s' if warned != 1 else ''}" if warned else ""
        out.note(
            f"{PROG} files check: {report.path}: {count} problem{'s' if count != 1 else ''}{tail}"
        )
        return 1
    return 0


def register(subparsers: Subparsers) -> None:
    """Add ``files`` and its subcommands with their flags."""
    group = add_command(
        subparsers,
        "files",
        "upload, check and manage data files",
        description="Upload, check and manage data files.",
    )
    sub = group.add_subparsers(dest="files_command", metavar="SUBCOMMAND")
    sub.required = True

    purpose_help = "what the file is for (default: fine-tune)"
    p = add_command(sub, "upload", "check a data file locally, then upload it", upload)
    p.add_argument("path", metavar="PATH", help="a .jsonl, .parquet or .csv file")
    p.add_argument("--purpose", default="fine-tune", help=purpose_help)
    p.add_argument(
        "--file-type", choices=("jsonl", "parquet", "csv"), help="default: from the extension"
    )
    p.add_argument("--no-check", action="store_true", help="skip the local dataset check")
    p.add_argument(
        "--if-exists",
        choices=("return", "error"),
        default="return",
        help="when an identical file is already stored: print it (default) or fail",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_command(sub, "list", "list the stored files", list_files)
    add_file_command(sub, "retrieve", "show one file", retrieve)
    add_file_command(sub, "delete", "delete a file", delete)
    p = add_file_command(sub, "content", "download a file's content", content)
    p.add_argument("output", metavar="OUTPUT", nargs="?", help="the path to write; - for stdout")
    p.add_argument("--output", "-o", dest="output_flag", metavar="OUTPUT", help="the same")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    arguments.add_connections(p)
    p = add_command(
        sub,
        "check",
        "check a data file locally and send nothing (exit 1 if it has problems)",
        check,
    )
    p.add_argument("path", metavar="PATH", help="a .jsonl, .parquet or .csv file")
    p.add_argument("--purpose", default="fine-tune", help=purpose_help)
