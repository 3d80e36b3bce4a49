"""How a job's training data looks to the model: the tokenization preview of a
training file, and the download of a job's tokenized data set.

Part of ``client.fine_tunes`` (:class:`~together_finetune.fine_tunes.FineTunes`
inherits these methods); kept apart so each module stays one subject.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Dict, Literal, Mapping, Optional, Union, cast

from ._checks import check_flag, check_seconds
from ._resource import Resource, check_file_id, check_job_id, job_path
from ._transfer.progress import ProgressCallback
from .models import DownloadResult, TokenizationPreview, TokenizedDatasetLink
from .transport import Timeout

__all__ = ["Tokenization"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Tokenization(Resource):
    """The tokenization endpoints of ``client.fine_tunes``."""

    def preview(
        self,
        *,
        model: str,
        training_file: str,
        top_k: Optional[int] = None,
        train_on_inputs: Optional[bool] = None,
        training_method: Optional[Literal["sft"]] = None,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
        extra_body: Optional[Mapping[str, Any]] = None,
    ) -> TokenizationPreview:
        """How a training file will be tokenized for ``model`` (``POST /fine-tunes/preview``).

        The answer samples rows of the file; each has its tokens, their labels
        (``-100`` for tokens that do not train) and the trained spans.

        :param top_k: how many rows to sample (server default when ``None``).
        :param train_on_inputs: also train on the inputs (user turns, prompts);
            by default the server masks them.
        :param training_method: ``"sft"``, the only method the preview supports (sent
            when given; the server assumes it otherwise).
        :raises ValueError: an argument is invalid (nothing was sent).
        """
        extras = self._extras(extra_headers, extra_query, extra_body)
        problems: list[str] = []
        if not isinstance(model, str) or not model.strip():
            problems.append(f"model: must be a non-empty model name, got {model!r}")
        if top_k is not None and not (_is_int(top_k) and top_k >= 1):
            problems.append(f"top_k: must be an integer >= 1, got {top_k!r}")
        flag: object = train_on_inputs
        if flag is not None and not isinstance(flag, bool):
            problems.append(f"train_on_inputs: must be True or False, got {train_on_inputs!r}")
        method: object = training_method
        if method is not None and method != "sft":
            problems.append(
                f"training_method: must be 'sft' (the preview supports supervised "
                f"fine-tuning only), got {training_method!r}"
            )
        try:
            check_file_id(training_file, "training_file")
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise ValueError("invalid preview arguments:\n  - " + "\n  - ".join(problems))
        body: Dict[str, Any] = {"model": model, "training_file": training_file}
        if top_k is not None:
            body["top_k"] = top_k
        if train_on_inputs is not None:
            body["train_on_inputs"] = train_on_inputs
        if training_method is not None:
            body["training_method"] = training_method
        return cast(
            "TokenizationPreview",
            self._call(
                "POST",
                "/fine-tunes/preview",
                TokenizationPreview,
                extras=extras,
                json_body=body,
                idempotent=True,  # computes an answer, changes nothing
                timeout=timeout,
            ),
        )

    def tokenized_dataset_link(
        self,
        id: str,
        *,
        timeout: Optional[Timeout] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> TokenizedDatasetLink:
        """Where a job's tokenized data set can be fetched: a presigned URL, its file
        name and size (``GET /fine-tunes/{id}/download-tokenized-dataset``)."""
        extras = self._extras(extra_headers, extra_query)
        return cast(
            "TokenizedDatasetLink",
            self._get(
                job_path(id, "/download-tokenized-dataset"),
                TokenizedDatasetLink,
                extras=extras,
                timeout=timeout,
            ),
        )

    def download_tokenized_dataset(
        self,
        id: str,
        *,
        output: Union[str, os.PathLike[str], None] = None,
        overwrite: bool = False,
        progress: Union[bool, ProgressCallback, None] = None,
        timeout: Optional[Timeout] = None,
        lock_timeout: float = 300.0,
        connections: Optional[int] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
        extra_query: Optional[Mapping[str, Any]] = None,
    ) -> DownloadResult:
        """Download the tokenized data set a job trained on.

        Asks the API for a presigned URL, then streams the archive from storage
        (without the API key) like a model download: into ``<target>.part``,
        resumable, checked against the size the API announced, and renamed into
        place only when complete.

        :param output: a file path, or an existing directory (default: the current
            directory) in which the file gets the name the API suggests, made safe.
        :param overwrite: replace an existing file at the target.
        :param progress: ``True`` for a progress bar on stderr (needs the
            ``progress`` extra), or a callback ``(bytes_done, total)``.
        :param lock_timeout: how long to wait for another download of the same target.
        :param connections: ranged connections at once, as for :meth:`download`.
        :raises DownloadError: the download could not be completed.
        """
        # The engines load requests: imported on first use, like the transport does.
        from ._transfer.model import resolve_output
        from ._transfer.presigned import download_presigned, safe_filename
        from ._transfer.progress import check_progress, download_progress
        from ._transfer.segments import check_connections

        job_id = check_job_id(id)
        extras = self._extras(extra_headers, extra_query)
        check_connections(connections)  # before the link is asked for: nothing sent
        check_progress(progress)
        check_seconds(lock_timeout, "lock_timeout")
        check_flag(overwrite, "overwrite")
        where = resolve_output(output, overwrite=overwrite)
        ask = functools.partial(
            self.tokenized_dataset_link,
            job_id,
            extra_headers=extras.headers,
            extra_query=extras.query,
        )
        link = ask(timeout=timeout)
        name = safe_filename(link.filename, f"{job_id}-tokenized-dataset.tar.zst")
        final = where.file if where.file is not None else where.directory / name
        first = [link.url]

        def locate() -> str:
            # The URL at hand first; after a 403 or 404 (expired) a freshly signed one.
            return first.pop() if first else ask().url

        with download_progress(progress, name) as callback:
            path, size, digest = download_presigned(
                self._sender(extras),
                locate,
                source=job_path(job_id, "/download-tokenized-dataset"),
                output=final,
                expected_size=link.size,
                overwrite=overwrite,
                label=f"the tokenized data set of {job_id}",
                progress=callback,
                timeout=timeout,
                lock_timeout=lock_timeout,
                connections=connections,
            )
        return DownloadResult(id=job_id, checkpoint_step=None, path=path, size=size, sha256=digest)
