"""The files sub-app: uploads (single-shot and multipart), list, retrieve, delete, content,
and the ``training_file`` check of ``create``.

Uploads follow the flow the live API serves (the endpoints the spec lacks are listed in
``tests/support/waivers.py``): ``POST /v1/files`` with form fields answers ``302`` to the
:class:`StorageServer`, which stores the ``PUT`` bytes and records the headers it received;
``POST /v1/files/{id}/preprocess`` turns the stored object into a file.

Processing: a ``fine-tune`` file is answered ``processing_status: PENDING`` (``Processed``
false, no ``validation_report``) by preprocess (or multipart complete); once
``file_processing_seconds`` of the fake's clock have passed, any request to the files
endpoints finds it ``COMPLETED`` (or ``INVALID_FORMAT`` for a file the server refuses), with
its ``validation_report``. Files of other purposes need no validation: ``COMPLETED`` at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from together_finetune.testing._fake.bodies import Body, BodyServer, DownloadSpec
from together_finetune.testing._fake.context import FakeContext
from together_finetune.testing._fake.datasets import validation_report
from together_finetune.testing._fake.errors import JSON, APIError, bad_request, error_body
from together_finetune.testing._fake.exchanges import RecordedRequest
from together_finetune.testing._fake.routes import Routes, json_object
from together_finetune.testing._fake.storage import StorageServer

__all__ = ["FAKE_FILE_ID", "FilesAPI"]

#: The shape of the IDs the fake hands out; unknown IDs of this shape are refused by create.
FAKE_FILE_ID = re.compile(
    r"^file-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)
#: The spec's purposes and the official SDK's ``calibration``.
_PURPOSES = frozenset(
    {
        "fine-tune",
        "eval",
        "eval-sample",
        "eval-output",
        "eval-summary",
        "batch-generated",
        "batch-api",
        "calibration",
    }
)
_FILE_TYPES = frozenset({"jsonl", "parquet", "csv"})


def _not_found(file_id: str) -> APIError:
    return APIError(
        404, error_body(f"File not found: {file_id}", param="id", code="file_not_found")
    )


class FilesAPI(Routes):
    """State and handlers of the files endpoints of one fake.

    :ivar files: stored file objects (wire JSON, PascalCase ``FileType``/``Processed``) by id.
    :ivar contents: the bytes of each stored file, by id.
    :ivar aborted: upload IDs of aborted multipart uploads.
    """

    def __init__(
        self,
        storage: StorageServer,
        context: FakeContext | None = None,
        bodies: BodyServer | None = None,
    ) -> None:
        """Create the files API whose uploads go to ``storage``, on ``context``'s clock.

        File contents are sent through ``bodies`` (``Range``, ``If-Range`` and the download
        knobs apply to them), by default a body server of their own.
        """
        self._storage = storage
        self._bodies = bodies if bodies is not None else BodyServer()
        self._ctx = context or FakeContext(api_key="", clock=time.monotonic, step_seconds=None)
        self._due: dict[str, float] = {}  # file id -> clock time its validation finishes
        self.files: dict[str, JSON] = {}
        self.contents: dict[str, bytes] = {}
        self.aborted: list[str] = []
        self._pending: dict[str, JSON] = {}
        self._multipart: dict[str, JSON] = {}
        self._checksums: dict[str, str] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ routing

    def rules(self) -> list[Rule]:
        """The werkzeug rules of the files endpoints (endpoints named ``files_*``)."""
        return [
            Rule("/v1/files", methods=["GET"], endpoint="files_list"),
            Rule("/v1/files", methods=["POST"], endpoint="files_create"),
            Rule("/v1/files/upload", methods=["POST"], endpoint="files_upload"),
            Rule("/v1/files/multipart/initiate", methods=["POST"], endpoint="files_initiate"),
            Rule("/v1/files/multipart/complete", methods=["POST"], endpoint="files_complete"),
            Rule("/v1/files/multipart/abort", methods=["POST"], endpoint="files_abort"),
            Rule("/v1/files/<file_id>", methods=["GET"], endpoint="files_retrieve"),
            Rule("/v1/files/<file_id>", methods=["DELETE"], endpoint="files_delete"),
            Rule("/v1/files/<file_id>/content", methods=["GET"], endpoint="files_content"),
            Rule(
                "/v1/files/<file_id>/preprocess",
                methods=["POST"],
                endpoint="files_preprocess",
            ),
        ]

    def dispatch(
        self, endpoint: str, request: Request, recorded: RecordedRequest, args: Mapping[str, Any]
    ) -> Response:
        """Answer a request routed to ``endpoint`` (one of :meth:`rules`), under this API's lock."""
        with self._lock:
            self.tick()
            response = super().dispatch(endpoint, request, recorded, args)
            if response.mimetype == "application/json" and response.status_code == 200:
                self._dress(response)
            return response

    def tick(self) -> None:
        """Finish the validations that are due on the clock."""
        with self._lock:
            now = self._ctx.clock()
            for file_id, due in list(self._due.items()):
                if now >= due:
                    del self._due[file_id]
                    if file_id in self.files:
                        self._validate(file_id)

    def dataset(self, file_id: str) -> tuple[JSON, bytes]:
        """The stored file ``file_id`` (its wire JSON, its bytes); a 404 if there is none."""
        with self._lock:
            self.tick()
            return self._file(file_id), self.contents[file_id]

    def check_training_file(self, body: JSON) -> None:
        """Refuse a ``create`` naming an unknown file of the fake's own ID shape (400)."""
        for field in ("training_file", "validation_file"):
            value = body.get(field)
            if isinstance(value, str) and FAKE_FILE_ID.match(value):
                with self._lock:
                    known = value in self.files
                if not known:
                    raise APIError(
                        400,
                        error_body(
                            f"{field}: file {value} does not exist",
                            param=field,
                            code="file_not_found",
                        ),
                    )

    # ------------------------------------------------------------------ inspection

    def add_file(self, content: bytes, filename: str = "data.jsonl", **fields: Any) -> JSON:
        """Store a file directly; ``fields`` override the generated wire keys."""
        file_type = filename.rsplit(".", 1)[-1] if "." in filename else "jsonl"
        meta: JSON = {
            "file_name": filename,
            "purpose": fields.pop("purpose", "fine-tune"),
            "file_type": file_type,
            "checksum": hashlib.sha256(content).hexdigest(),
        }
        with self._lock:
            record = self._store("file-" + str(uuid.uuid4()), meta, content)
            self._due.pop(record["id"], None)
            self._validate(record["id"])
            record.update(fields)
            return record

    # ------------------------------------------------------------------ handlers

    def _route_files_list(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        return 200, {"data": [dict(record) for record in self.files.values()]}

    def _route_files_retrieve(
        self, request: Request, recorded: RecordedRequest, file_id: str
    ) -> tuple[int, Any]:
        return 200, dict(self._file(file_id))

    def _route_files_delete(
        self, request: Request, recorded: RecordedRequest, file_id: str
    ) -> tuple[int, Any]:
        self._file(file_id)
        del self.files[file_id]
        self.contents.pop(file_id, None)
        self._checksums.pop(file_id, None)
        return 200, {"id": file_id, "deleted": True}

    def _route_files_content(
        self, request: Request, recorded: RecordedRequest, file_id: str
    ) -> Response:
        self._file(file_id)
        # Through the body server, like model downloads: Range, ETag, cuts and lies apply.
        spec = DownloadSpec(Body(data=self.contents[file_id]), content_type="text/plain")
        return self._bodies.serve(request, spec)

    def _route_files_upload(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        raise bad_request(
            "This fake serves the upload flow of the live API: POST /v1/files with form fields"
        )

    def _route_files_create(self, request: Request, recorded: RecordedRequest) -> Response:
        if request.files:
            raise bad_request("POST /files takes form fields only, not the file", "file")
        meta = self._meta({key: request.form.get(key) for key in request.form})
        self._conflict(meta)
        file_id = "file-" + str(uuid.uuid4())
        path = f"/uploads/{file_id}/{quote(meta['file_name'], safe='')}"
        meta["storage_path"] = path
        self._pending[file_id] = meta
        response = Response(b"", status=302)
        response.headers["Location"] = (
            self._storage.url + path + "?X-Fake-Signature=" + secrets.token_hex(8)
        )
        response.headers["X-Together-File-Id"] = file_id
        return response

    def _route_files_preprocess(
        self, request: Request, recorded: RecordedRequest, file_id: str
    ) -> tuple[int, Any]:
        if file_id in self.files:
            return 200, dict(self.files[file_id])
        meta = self._pending.get(file_id)
        if meta is None:
            raise _not_found(file_id)
        content = self._storage.objects.get(meta["storage_path"])
        if content is None:
            raise bad_request(f"File {file_id} was not uploaded to storage", "file_id")
        if hashlib.sha256(content).hexdigest() != meta["checksum"]:
            raise bad_request(f"File {file_id} does not match its checksum", "checksum")
        del self._pending[file_id]
        return 200, dict(self._store(file_id, meta, content))

    def _route_files_initiate(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        body = json_object(recorded)
        meta = self._meta(body)
        size, num_parts = body.get("file_size"), body.get("num_parts")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise bad_request("file_size must be a positive integer", "file_size")
        if (
            not isinstance(num_parts, int)
            or isinstance(num_parts, bool)
            or not (1 <= num_parts <= 250)
        ):
            raise bad_request("num_parts must be an integer from 1 to 250", "num_parts")
        self._conflict(meta)
        file_id = "file-" + str(uuid.uuid4())
        upload_id = "upload-" + secrets.token_hex(8)
        meta.update(file_size=size, num_parts=num_parts, file_id=file_id)
        self._multipart[upload_id] = meta
        parts = []
        for number in range(1, num_parts + 1):
            url = (
                f"{self._storage.url}/multipart/{upload_id}/part-{number}"
                f"?X-Fake-Signature={secrets.token_hex(8)}"
            )
            if number % 2:  # both spellings the live API has used
                parts.append({"PartNumber": number, "URL": url, "Headers": {"x-fake-part": "1"}})
            else:
                parts.append({"part_number": number, "UploadURL": url})
        return 200, {"upload_id": upload_id, "file_id": file_id, "parts": parts}

    def _route_files_complete(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        body = json_object(recorded)
        upload_id = body.get("upload_id")
        meta = self._multipart.get(upload_id) if isinstance(upload_id, str) else None
        if meta is None or body.get("file_id") != meta["file_id"]:
            raise bad_request("unknown upload_id or file_id", "upload_id")
        parts = body.get("parts")
        if not isinstance(parts, list) or len(parts) != meta["num_parts"]:
            raise bad_request("parts must list every part", "parts")
        numbers = [p.get("part_number") if isinstance(p, dict) else None for p in parts]
        if numbers != list(range(1, meta["num_parts"] + 1)):
            raise bad_request("parts must be sorted by part_number, 1 to n", "parts")
        chunks = []
        for part in parts:
            data = self._storage.objects.get(f"/multipart/{upload_id}/part-{part['part_number']}")
            if data is None:
                raise bad_request(f"part {part['part_number']} was not uploaded", "parts")
            if part.get("etag") != hashlib.md5(data, usedforsecurity=False).hexdigest():
                raise bad_request(f"part {part['part_number']} has the wrong etag", "parts")
            chunks.append(data)
        content = b"".join(chunks)
        if len(content) != meta["file_size"]:
            raise bad_request("the parts do not add up to file_size", "file_size")
        if hashlib.sha256(content).hexdigest() != meta["checksum"]:
            raise bad_request("the file does not match its checksum", "checksum")
        del self._multipart[str(upload_id)]
        return 200, {"file": dict(self._store(meta["file_id"], meta, content))}

    def _route_files_abort(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        body = json_object(recorded)
        upload_id = body.get("upload_id")
        if isinstance(upload_id, str):
            self._multipart.pop(upload_id, None)
            self.aborted.append(upload_id)
        return 200, {}

    # ------------------------------------------------------------------ helpers

    def _file(self, file_id: str) -> JSON:
        record = self.files.get(file_id)
        if record is None:
            raise _not_found(file_id)
        return record

    @staticmethod
    def _meta(fields: dict[str, Any]) -> JSON:
        for key in ("purpose", "file_name", "file_type", "checksum"):
            value = fields.get(key)
            if not isinstance(value, str) or not value:
                raise bad_request(f"{key} is required", key)
        if fields["purpose"] not in _PURPOSES:
            raise bad_request(f"unknown purpose {fields['purpose']!r}", "purpose")
        if fields["file_type"] not in _FILE_TYPES:
            raise bad_request(f"unknown file_type {fields['file_type']!r}", "file_type")
        if not re.fullmatch(r"[0-9a-f]{64}", fields["checksum"]):
            raise bad_request("checksum must be a sha256 hex digest", "checksum")
        return {key: fields[key] for key in ("purpose", "file_name", "file_type", "checksum")}

    def _conflict(self, meta: JSON) -> None:
        for file_id, record in self.files.items():
            same = self._checksums.get(file_id) == meta["checksum"]
            if same and record["purpose"] == meta["purpose"]:
                raise APIError(
                    409,
                    {
                        **error_body(
                            f"File already exists: {file_id}", type="conflict", code="file_exists"
                        ),
                        "file_id": file_id,
                    },
                )

    def _store(self, file_id: str, meta: JSON, content: bytes) -> JSON:
        record: JSON = {
            "id": file_id,
            "object": "file",
            "created_at": int(time.time()),
            "filename": meta["file_name"],
            "bytes": len(content),
            "purpose": meta["purpose"],
            "FileType": meta["file_type"],
            "Processed": False,
            "processing_status": "PENDING",
        }
        self.files[file_id] = record
        self.contents[file_id] = content
        self._checksums[file_id] = meta["checksum"]
        if meta["purpose"] != "fine-tune":
            record.update(Processed=True, processing_status="COMPLETED")
        elif self._ctx.file_processing_seconds <= 0:
            self._validate(file_id)
        else:
            self._due[file_id] = self._ctx.clock() + self._ctx.file_processing_seconds
        return record

    def _validate(self, file_id: str) -> None:
        """Validate a fine-tuning file: ``COMPLETED`` or ``INVALID_FORMAT``, with its report."""
        record = self.files[file_id]
        if record["purpose"] != "fine-tune":
            return
        report = validation_report(file_id, self.contents[file_id], record["FileType"])
        record.update(
            Processed=True,
            processing_status="COMPLETED" if report["valid"] else "INVALID_FORMAT",
            validation_report=report,
        )

    def _dress(self, response: Response) -> None:
        """Add the unknown field to the file objects of a JSON answer, when asked."""
        if not self._ctx.add_unknown_fields:
            return
        body = json.loads(response.get_data())
        for record in body.get("data", [body.get("file", body)]):
            if isinstance(record, dict) and record.get("object") == "file":
                self._ctx.dress(record)
        response.set_data(json.dumps(body))
