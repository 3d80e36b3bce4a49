"""The tokenization sub-app: ``POST /fine-tunes/preview`` and the tokenized-dataset download.

Neither endpoint is in the public spec; their shapes are those of the official TypeScript
SDK's types (``tests/support/waivers.py`` waives them with that source).
The preview tokenizes the uploaded file with the toy tokenizer of ``tokenizer.py``; the
tokenized dataset is a deterministic archive behind a presigned URL on the storage server.
"""

from __future__ import annotations

import datetime as _dt
import secrets
import threading
from typing import Any
from urllib.parse import quote

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from together_finetune.testing._fake.bodies import Body, DownloadSpec
from together_finetune.testing._fake.catalog import MAX_SEQ_LENGTH_SFT, SUPPORTED_MODELS, is_int
from together_finetune.testing._fake.datasets import read_dataset
from together_finetune.testing._fake.errors import JSON, APIError, bad_request, error_body
from together_finetune.testing._fake.exchanges import RecordedRequest
from together_finetune.testing._fake.files import FilesAPI
from together_finetune.testing._fake.jobs import JobStore
from together_finetune.testing._fake.routes import Routes, json_object
from together_finetune.testing._fake.storage import StorageServer
from together_finetune.testing._fake.tokenizer import preview_row
from together_finetune.testing.archive import build_tokenized_archive

__all__ = ["DEFAULT_TOP_K", "URL_LIFETIME_SECONDS", "Tokenization"]

#: rows a preview answers with when the request names no ``top_k``
DEFAULT_TOP_K = 5
#: how long a tokenized-dataset URL is valid (``expires_at``)
URL_LIFETIME_SECONDS = 3600
_PREVIEW_FORMATS = ("general", "conversation", "instruction")


class Tokenization(Routes):
    """Previews of how a file tokenizes, and the tokenized datasets of jobs."""

    def __init__(self, store: JobStore, files: FilesAPI, storage: StorageServer) -> None:
        """Read datasets from ``files``, jobs from ``store``; serve archives from ``storage``."""
        self._store = store
        self._files = files
        self._storage = storage
        self._set: dict[str, tuple[DownloadSpec, str | None]] = {}
        self._archives: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def rules(self) -> list[Rule]:
        """The preview and tokenized-dataset rules."""
        return [
            Rule("/v1/fine-tunes/preview", methods=["POST"], endpoint="preview"),
            Rule(
                "/v1/fine-tunes/<job_id>/download-tokenized-dataset",
                methods=["GET"],
                endpoint="tokenized_dataset",
            ),
        ]

    def set(self, job_id: str, spec: DownloadSpec, filename: str | None) -> None:
        """Serve ``spec`` as ``job_id``'s tokenized dataset (named ``filename`` if given)."""
        with self._lock:
            self._set[job_id] = (spec, filename)

    # ------------------------------------------------------------------ preview

    def _route_preview(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        body = json_object(recorded)
        model, training_file = body.get("model"), body.get("training_file")
        if not isinstance(model, str) or not model:
            raise bad_request("model is required", "model")
        if not isinstance(training_file, str) or not training_file:
            raise bad_request("training_file is required", "training_file")
        top_k = body.get("top_k", DEFAULT_TOP_K)
        if not is_int(top_k) or top_k < 1:
            raise bad_request("top_k must be a positive integer", "top_k")
        train_on_inputs = body.get("train_on_inputs", False)
        if not isinstance(train_on_inputs, bool):
            raise bad_request("train_on_inputs must be a boolean", "train_on_inputs")
        if body.get("training_method", "sft") != "sft":
            raise bad_request("training_method must be 'sft'", "training_method")
        if model not in SUPPORTED_MODELS:
            raise bad_request(f"Model {model} is not supported for fine-tuning", "model")
        record, content = self._dataset(training_file)
        if record.get("processing_status") == "INVALID_FORMAT":
            report = record.get("validation_report") or {}
            raise bad_request(
                f"training_file {training_file} failed validation: {report.get('error')}",
                "training_file",
            )
        if record.get("FileType") != "jsonl":
            raise bad_request("a preview needs a JSONL training file", "training_file")
        dataset = read_dataset(content)
        if dataset.error is not None or dataset.format not in _PREVIEW_FORMATS:
            raise bad_request(
                f"training_file {training_file} cannot be previewed: "
                f"{dataset.error or f'{dataset.format} datasets are not SFT datasets'}",
                "training_file",
            )
        limit = self._store.context.preview_max_seq_length or MAX_SEQ_LENGTH_SFT
        rows = [
            preview_row(sample, str(dataset.format), train_on_inputs, limit)
            for sample in dataset.samples[:top_k]
        ]
        return 200, {
            "dataset_format": dataset.format,
            "max_seq_length": limit,
            "model": model,
            "train_on_inputs": train_on_inputs,
            "rows": rows,
        }

    def _dataset(self, file_id: str) -> tuple[JSON, bytes]:
        try:
            return self._files.dataset(file_id)
        except APIError:
            raise APIError(
                400,
                error_body(
                    f"training_file: file {file_id} does not exist",
                    param="training_file",
                    code="file_not_found",
                ),
            ) from None

    # ------------------------------------------------------------------ tokenized dataset

    def _route_tokenized_dataset(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        job = self._store.get(job_id)
        with self._lock:
            spec, filename = self._set.get(job_id, (None, None))
        if spec is None:
            if not job.get("tokenized_dataset_path"):
                raise APIError(
                    404,
                    error_body(
                        f"Fine-tune job {job_id} has no tokenized dataset yet",
                        param="id",
                        code="not_found",
                    ),
                )
            spec = DownloadSpec(Body(data=self._archive(job)), content_type="application/zstd")
        filename = filename or f"{job_id}-tokenized.tar.zst"
        folder = f"/tokenized/{secrets.token_hex(8)}/"
        # Storage matches the decoded path; the URL carries the name percent-encoded.
        self._storage.register(folder + filename, spec)
        # A name of dots alone is percent-encoded too, or clients would take it for a
        # dot segment of the path.
        encoded = quote(filename, safe="")
        if set(filename) == {"."}:
            encoded = "%2E" * len(filename)
        path = folder + encoded
        expires = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=URL_LIFETIME_SECONDS)
        signature = secrets.token_hex(8)
        return 200, {
            "content_type": spec.content_type,
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "filename": filename,
            "size": spec.body.size,
            "url": f"{self._storage.url}{path}?X-Fake-Expires={URL_LIFETIME_SECONDS}"
            f"&X-Fake-Signature={signature}",
        }

    def _archive(self, job: JSON) -> bytes:
        """The job's tokenized training file (pseudo-random rows if the fake lacks the file)."""
        with self._lock:
            if job["id"] in self._archives:
                return self._archives[job["id"]]
        rows = None
        file_id = job.get("training_file")
        if isinstance(file_id, str) and file_id in self._files.files:
            dataset = read_dataset(self._files.contents[file_id])
            if dataset.error is None and dataset.format in _PREVIEW_FORMATS:
                rows = [
                    {key: row[key] for key in ("input_ids", "labels")}
                    for row in (
                        preview_row(s, str(dataset.format), False, MAX_SEQ_LENGTH_SFT)
                        for s in dataset.samples
                    )
                ]
        data = build_tokenized_archive(job["id"], rows)
        with self._lock:
            return self._archives.setdefault(job["id"], data)
