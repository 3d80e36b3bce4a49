"""A job's model download: where it goes and what to ask for (pure), then the download.

:func:`plan_model_download` turns a job (when one was needed), the caller's choices
and a checked output location into a :class:`ModelDownloadPlan`: the endpoint, its
parameters and the target. :func:`download_model` runs a plan on a transport.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, NamedTuple, Optional, Union

from ..errors import DownloadError
from ..models import DownloadResult, FineTune, FullTraining, UnknownTrainingType
from .archive import extract_archive, strip_archive_suffix
from .lock import DEFAULT_LOCK_TIMEOUT
from .progress import ProgressCallback, download_progress
from .stream import Target, stream_download

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
    """A checked output location: a ``file`` to write, or a ``directory`` to name one in."""

    directory: Path
    file: Optional[Path] = None


class ModelDownloadPlan(NamedTuple):
    """What one model download asks for and where it lands.

    Exactly one of ``stem`` (name made in ``directory``; the suffix follows the
    answer's type) and ``file`` is set.
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
    output: Union[str, os.PathLike[str], None], *, overwrite: bool
) -> DownloadOutput:
    """Check ``output`` (a file path, an existing directory, or ``None`` for the cwd).

    :raises DownloadError: the directory is missing, or the file exists without ``overwrite``.
    """
    out = Path(os.fspath(output)) if output is not None else Path.cwd()
    to_directory = output is None or out.is_dir() or os.fspath(output).endswith(("/", os.sep))
    if to_directory:
        if not out.is_dir():
            raise DownloadError(f"output directory {out} does not exist")
        return DownloadOutput(directory=out)
    if not out.parent.is_dir():
        raise DownloadError(f"output directory {out.parent} does not exist")
    if out.exists() and not overwrite:
        raise DownloadError(f"{out} already exists (pass overwrite=True to replace it)")
    return DownloadOutput(directory=out.parent, file=out)


def needs_job(checkpoint: Optional[str], output: DownloadOutput) -> bool:
    """Whether planning needs the job: for the default checkpoint, or to name the file."""
    return checkpoint is None or output.file is None


def plan_model_download(
    job_id: str,
    job: Optional[FineTune],
    *,
    checkpoint: Optional[str],
    checkpoint_step: Optional[int],
    output: DownloadOutput,
) -> ModelDownloadPlan:
    """Plan the download of a job's model (pure: no I/O).

    ``job`` is required when :func:`needs_job` says so. The default checkpoint is
    ``model_output_path`` for full training and ``merged`` for LoRA.
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
    if output.file is None:
        stem = _safe_name(name)
        if checkpoint_step is not None:
            stem += f"-step-{checkpoint_step}"
        stem += f"-{checkpoint}"
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
    )


def download_model(
    transport: Transport,
    plan: ModelDownloadPlan,
    *,
    overwrite: bool,
    extract: bool,
    progress: Union[bool, ProgressCallback, None],
    timeout: Optional[Timeout],
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> DownloadResult:
    """Run a plan: stream the archive, then unpack it beside itself when ``extract``."""
    if plan.stem is not None and not overwrite:
        for suffix in (".tar.zst", ".tar.gz"):
            existing = plan.directory / f"{plan.stem}{suffix}"
            if existing.exists():
                raise DownloadError(
                    f"{existing} already exists (pass overwrite=True to replace it)"
                )
    target = Target(plan.directory, plan.stem, plan.file)
    callback = download_progress(progress, plan.name)
    try:
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
        )
    finally:
        closer = getattr(callback, "close", None)
        if closer is not None:
            closer()
    result_path = path
    if extract:
        result_path = extract_archive(path, strip_archive_suffix(path))
    return DownloadResult(
        id=plan.job_id,
        checkpoint_step=plan.checkpoint_step,
        path=result_path,
        size=size,
        sha256=digest,
        checkpoint=plan.checkpoint,
    )


def _safe_name(name: str) -> str:
    """A file name made from server text that cannot leave its directory."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace("/", "--")).strip("._-")
    return cleaned[:180] or "model"
