"""A job's model download: where it goes and what to ask for (pure), then the download.

:func:`resolve_output` reads ``output=`` by one rule: a path ending in a separator, an
existing directory or ``None`` (the current directory) means "inside this directory",
under a name made from the job; any other path names the archive, or with
``extract`` the directory that receives the model files (the archive then lives
beside it and is removed once extracted, unless kept). Missing parent directories are
created when the download runs.

:func:`plan_model_download` turns a job (when one was needed), the caller's choices
and a checked output location into a :class:`ModelDownloadPlan`: the endpoint, its
parameters and the targets. :func:`download_model` runs a plan on a transport.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, NamedTuple, Optional, Union

from ..errors import DownloadError
from ..models import DownloadResult, FineTune, FullTraining, UnknownTrainingType
from .archive import extract_archive, strip_archive_suffix
from .fetch import stream_download
from .lock import DEFAULT_LOCK_TIMEOUT
from .progress import ProgressCallback, download_progress
from .target import Target

if TYPE_CHECKING:  # pragma: no cover
    from ..transport import Timeout, Transport

__all__ = [
    "CHECKPOINTS",
    "DownloadOutput",
    "ModelDownloadPlan",
    "check_download_options",
    "download_model",
    "needs_job",
    "plan_model_download",
    "resolve_output",
]

#: What ``checkpoint=`` accepts.
CHECKPOINTS = ("merged", "adapter", "model_output_path")
_DOWNLOAD_PATH = "/finetune/download"


class DownloadOutput(NamedTuple):
    """A checked output location.

    ``file``: the archive's path; ``extract_to``: the directory named for the model
    files (its archive goes beside it); neither: a name is made in ``directory``.
    """

    directory: Path
    file: Optional[Path] = None
    extract_to: Optional[Path] = None


class ModelDownloadPlan(NamedTuple):
    """What one model download asks for and where it lands.

    Exactly one of ``stem`` (name made in ``directory``; the suffix follows the
    answer's type) and ``file`` is set. ``extract_to`` is the directory the archive is
    unpacked into (``None``: not extracted).
    """

    job_id: str
    path: str
    params: Dict[str, Any]
    checkpoint: Optional[str]
    checkpoint_step: Optional[int]
    #: shown on a progress bar
    name: str
    directory: Path
    stem: Optional[str] = None
    file: Optional[Path] = None
    extract_to: Optional[Path] = None


def check_download_options(checkpoint: Optional[str], checkpoint_step: Optional[int]) -> None:
    """Raise ``ValueError`` for a checkpoint or step the API cannot take."""
    if checkpoint is not None and checkpoint not in CHECKPOINTS:
        raise ValueError(
            f"checkpoint must be 'merged', 'adapter' or 'model_output_path', got {checkpoint!r}"
        )
    if checkpoint_step is not None and not (
        isinstance(checkpoint_step, int)
        and not isinstance(checkpoint_step, bool)
        and checkpoint_step >= 0
    ):
        raise ValueError(f"checkpoint_step must be an integer >= 0, got {checkpoint_step!r}")


def resolve_output(
    output: Union[str, os.PathLike[str], None], *, overwrite: bool, extract: bool = False
) -> DownloadOutput:
    """Check ``output`` by the module's rule (no request is sent, nothing is created).

    :raises DownloadError: the target exists without ``overwrite``, or a path that must
        be a directory is a file.
    """
    out = Path(os.fspath(output)) if output is not None else Path.cwd()
    to_directory = output is None or out.is_dir() or os.fspath(output).endswith(("/", os.sep))
    if to_directory:
        if out.exists() and not out.is_dir():
            raise DownloadError(f"output directory {out} is a file")
        return DownloadOutput(directory=out)
    _check_parent(out.parent)
    if extract:
        if out.exists():  # not a directory: that would have meant "inside it"
            raise DownloadError(f"cannot extract into {out}: it is a file")
        return DownloadOutput(directory=out.parent, extract_to=out)
    if out.exists() and not overwrite:
        raise DownloadError(f"{out} already exists (pass overwrite=True to replace it)")
    return DownloadOutput(directory=out.parent, file=out)


def _check_parent(directory: Path) -> None:
    """Refuse a parent that cannot become a directory (a file in the way)."""
    for parent in (directory, *directory.parents):
        if parent.exists():
            if not parent.is_dir():
                raise DownloadError(
                    f"output directory {directory} cannot be made: {parent} is a file"
                )
            return


def needs_job(checkpoint: Optional[str], output: DownloadOutput) -> bool:
    """Whether planning needs the job: for the default checkpoint, or to name the file."""
    return checkpoint is None or (output.file is None and output.extract_to is None)


def plan_model_download(
    job_id: str,
    job: Optional[FineTune],
    *,
    checkpoint: Optional[str],
    checkpoint_step: Optional[int],
    output: DownloadOutput,
    extract: bool = False,
) -> ModelDownloadPlan:
    """Plan the download of a job's model (pure: no I/O).

    ``job`` is required when :func:`needs_job` says so. The default checkpoint is
    ``model_output_path`` for full training and ``merged`` for LoRA. With ``extract``,
    the model files go to ``output.extract_to``, or to a directory named like the
    archive without its suffix.
    """
    name = job_id
    if job is not None:
        if checkpoint is None:
            full = isinstance(job.training_type, (FullTraining, UnknownTrainingType))
            checkpoint = "model_output_path" if full else "merged"
        name = job.model_output_name or job_id
    elif needs_job(checkpoint, output):
        raise ValueError("the job is needed to plan this download")
    params: Dict[str, Any] = {"ft_id": job_id}
    if checkpoint_step is not None:
        params["checkpoint_step"] = checkpoint_step
    if checkpoint is not None:
        params["checkpoint"] = checkpoint
    stem = None
    extract_to = output.extract_to
    if extract_to is not None:
        stem = extract_to.name
    elif output.file is None:
        stem = _safe_name(name)
        if checkpoint_step is not None:
            stem += f"-step-{checkpoint_step}"
        stem += f"-{checkpoint}"
    if extract and extract_to is None:
        if output.file is not None:
            extract_to = strip_archive_suffix(output.file)
        elif stem is not None:
            extract_to = output.directory / stem
    return ModelDownloadPlan(
        job_id=job_id,
        path=_DOWNLOAD_PATH,
        params=params,
        checkpoint=checkpoint,
        checkpoint_step=checkpoint_step,
        name=name,
        directory=output.directory,
        stem=stem,
        file=output.file,
        extract_to=extract_to,
    )


def download_model(
    transport: Transport,
    plan: ModelDownloadPlan,
    *,
    overwrite: bool,
    keep_archive: bool = False,
    progress: Union[bool, ProgressCallback, None],
    timeout: Optional[Timeout],
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    connections: Optional[int] = None,
) -> DownloadResult:
    """Run a plan: stream the archive, then unpack it when the plan says where.

    An extracted archive is removed unless ``keep_archive``; one that failed to
    extract is always kept (it is complete and verified).
    """
    _check_targets(plan, overwrite=overwrite)
    try:
        plan.directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"cannot make the output directory {plan.directory}: {exc.strerror or exc}"
        ) from exc
    target = Target(plan.directory, plan.stem, plan.file)
    with download_progress(progress, plan.name) as callback:
        path, size, digest = stream_download(
            transport,
            plan.path,
            params=plan.params,
            target=target,
            overwrite=overwrite,
            label=plan.job_id,
            progress=callback,
            timeout=timeout,
            lock_timeout=lock_timeout,
            connections=connections,
        )
    result_path = path
    archive: Optional[Path] = path
    if plan.extract_to is not None:
        result_path = extract_archive(path, plan.extract_to, replace=overwrite)
        if not keep_archive:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            archive = None
    return DownloadResult(
        id=plan.job_id,
        checkpoint_step=plan.checkpoint_step,
        path=result_path,
        size=size,
        sha256=digest,
        checkpoint=plan.checkpoint,
        archive=archive,
    )


def _check_targets(plan: ModelDownloadPlan, *, overwrite: bool) -> None:
    """Refuse, before anything is sent, to replace what exists without ``overwrite``."""
    if overwrite:
        return
    if plan.stem is not None:
        for suffix in (".tar.zst", ".tar.gz"):
            existing = plan.directory / f"{plan.stem}{suffix}"
            if existing.exists():
                raise DownloadError(
                    f"{existing} already exists (pass overwrite=True to replace it)"
                )
    dest = plan.extract_to
    if dest is not None and dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DownloadError(f"{dest} already exists (pass overwrite=True to replace it)")


def _safe_name(name: str) -> str:
    """A file name made from server text that cannot leave its directory."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("/", "--")).strip("._-")
    return cleaned[:180] or "model"
