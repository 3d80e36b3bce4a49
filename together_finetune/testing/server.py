"""A real HTTP server that imitates Together AI's fine-tuning REST API: :class:`FakeTogether`.

The JSON it serves follows the OpenAPI spec vendored in ``tests/spec/openapi.yaml`` plus the
live API's known departures from it (listed in ``tests/support/waivers.py``), never this
library's client models, so the fake can referee the client. :class:`FakeTogether` is a
facade: the rooms behind it live in ``together_finetune/testing/_fake/``.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any, Callable

from together_finetune.testing._fake.api import APIApp
from together_finetune.testing._fake.bodies import Body, BodyServer, DownloadSpec
from together_finetune.testing._fake.catalog import SUPPORTED_MODELS as SUPPORTED_MODELS
from together_finetune.testing._fake.catalog import Catalog
from together_finetune.testing._fake.clock import ManualClock
from together_finetune.testing._fake.context import FakeContext
from together_finetune.testing._fake.downloads import Downloads
from together_finetune.testing._fake.errors import JSON
from together_finetune.testing._fake.errors import error_body as error_body
from together_finetune.testing._fake.exchanges import (
    ExchangeHook,
    ExchangeLog,
    RecordedRequest,
    registered_observers,
)
from together_finetune.testing._fake.faults import Fault, FaultBody, Faults, path_pattern
from together_finetune.testing._fake.files import FilesAPI
from together_finetune.testing._fake.http import ServerThread
from together_finetune.testing._fake.jobs import LIFECYCLE as LIFECYCLE
from together_finetune.testing._fake.jobs import TERMINAL as TERMINAL
from together_finetune.testing._fake.jobs import TOTAL_STEPS as TOTAL_STEPS
from together_finetune.testing._fake.jobs import JobStore
from together_finetune.testing._fake.jobs_api import JobsAPI
from together_finetune.testing._fake.outputs import EARLY_STOP_STEP as EARLY_STOP_STEP
from together_finetune.testing._fake.preview import Tokenization
from together_finetune.testing._fake.storage import StorageServer
from together_finetune.testing._fake.tls import FakeCA

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["FakeTogether", "ManualClock", "RecordedRequest", "StorageServer"]


class FakeTogether:
    """A faithful fake of Together AI's fine-tuning API, served over real HTTP.

    Usage::

        with FakeTogether() as fake:
            client = Client(api_key=fake.api_key, base_url=fake.base_url)
            job = client.fine_tunes.create(training_file="file-1", model="m")
            fake.advance(job.id, steps=5)          # pending -> ... -> completed
            fake.fail_next("GET", "/fine-tunes/*", 503)

    State (jobs, events, checkpoints) lives in memory behind one lock. Jobs move through
    ``pending -> queued -> running -> compressing -> uploading -> completed`` one step per
    :meth:`advance`, or one step every ``step_seconds`` of ``clock`` (computed lazily when a
    request arrives or :attr:`jobs` is read).

    :param api_key: the only bearer token accepted (default: a random ``fake-...`` key).
    :param host: address to bind (default ``127.0.0.1``).
    :param port: port to bind (default 0: an ephemeral port).
    :param step_seconds: ``None``: jobs move only via :meth:`advance`; otherwise one status
        step per ``step_seconds`` of ``clock``.
    :param clock: time source for ``step_seconds`` (e.g. a :class:`ManualClock`).
    :param throttle: a bandwidth cap per connection, in bytes per second, for download
        bodies (model downloads, file contents, tokenized datasets, from both servers) and
        for storage ``PUT`` uploads (whose answer is held until the body could have
        arrived at the cap); ``None`` (default): no cap. Settable later as :attr:`throttle`.
        Object storage caps each connection this way, so parallel ranged downloads can be
        measured on one machine.
    :param on_exchange: called as ``on_exchange(request, status, headers, body)`` for every
        answer the fake produces itself (not for injected faults); download archive bodies
        are passed as ``b""`` (their JSON error bodies are passed as they are). Exceptions
        it raises are collected in :attr:`exchange_errors`. The callbacks registered with
        :func:`~together_finetune.testing.observe_exchanges` when the fake is built are
        called after it.
    :param tls: serve the API and :attr:`storage` over HTTPS, with certificates from a
        certificate authority made for this fake (needs ``trustme``, in the ``testing``
        extra). Its CA certificate is in the file :attr:`ca_bundle`: pass
        ``verify=fake.ca_bundle`` to a client, or set ``REQUESTS_CA_BUNDLE`` to it.

    Newer-than-spec behaviour (the live API as the official SDK 3.1.1 sees it):

    * Files: a ``fine-tune`` upload is ``processing_status: "PENDING"`` (``Processed``
      false) until :attr:`file_processing_seconds` (default 1.0) of ``clock`` have passed
      since preprocess; then ``COMPLETED``, or ``INVALID_FORMAT`` for a file the server
      refuses, with a ``validation_report``. ``files.add_file`` stores a validated file.
    * ``POST /fine-tunes/preview`` tokenizes the uploaded file with a deterministic toy
      tokenizer; :attr:`preview_max_seq_length` caps its rows (default: the model's 8192).
    * Jobs record their tokenized dataset when they start running (fields
      ``tokenized_dataset_path``/``_uploaded_at``, a ``TOKENIZED_DATASET_UPLOAD_COMPLETE``
      event); ``GET /fine-tunes/{id}/download-tokenized-dataset`` answers a presigned
      :attr:`storage` URL of its archive (see :meth:`set_tokenized_dataset`).
    * A job created with ``early_stopping_enabled: true`` halts at step
      :data:`EARLY_STOP_STEP` (15 of 20) when training ends, unless :meth:`early_stop_at`
      says otherwise: ``early_stopped``, ``early_stopping_best_step``/``_metric`` and an
      ``EARLY_STOPPED`` event. Completed jobs carry registry names and ids (``model_object_*``,
      and ``adapter_object_*`` for LoRA; their final checkpoints ``checkpoint``/``object_*``)
      and ``total_price`` in nanodollars.
    * :attr:`legacy_levels` and :attr:`add_unknown_fields` change what is served.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        step_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_exchange: ExchangeHook | None = None,
        throttle: int | None = None,
        tls: bool = False,
    ) -> None:
        """Create the fake (not started yet: call :meth:`start` or use ``with``)."""
        if step_seconds is not None and step_seconds <= 0:
            raise ValueError("step_seconds must be positive")
        key = api_key if api_key is not None else "fake-" + secrets.token_hex(16)
        self._ctx = FakeContext(api_key=key, clock=clock, step_seconds=step_seconds)
        self.host = host
        self.port = port
        self._log = ExchangeLog(on_exchange, registered_observers())
        self._bodies = BodyServer()
        self.throttle = throttle
        self._faults = Faults()
        self._store = JobStore(self._ctx)
        #: the object-storage server (started and stopped with this one)
        self.storage = StorageServer(self._bodies)
        #: the files endpoints (uploads to :attr:`storage`, list, retrieve, delete, content)
        self.files = FilesAPI(self.storage, self._ctx, self._bodies)
        self._downloads = Downloads(self._store, self._bodies, self.storage)
        self._tokenization = Tokenization(self._store, self.files, self.storage)
        routes = [
            JobsAPI(self._store, self.files.check_training_file),
            Catalog(),
            self._downloads,
            self.files,
            self._tokenization,
        ]
        self._app = APIApp(self._ctx, self._store, routes, self._faults, self._log)
        self._thread: ServerThread | None = None
        self.tls = tls
        self._ca: FakeCA | None = None

    # ------------------------------------------------------------------ settings

    @property
    def api_key(self) -> str:
        """The only bearer token the API accepts."""
        return self._ctx.api_key

    @property
    def step_seconds(self) -> float | None:
        """Seconds per lifecycle step on :attr:`clock` (``None``: only :meth:`advance`)."""
        return self._ctx.step_seconds

    @property
    def clock(self) -> Callable[[], float]:
        """The time source of the ``step_seconds`` lifecycle."""
        return self._ctx.clock

    @property
    def on_exchange(self) -> ExchangeHook | None:
        """The fake's own exchange observer (settable)."""
        return self._log.on_exchange

    @on_exchange.setter
    def on_exchange(self, hook: ExchangeHook | None) -> None:
        self._log.on_exchange = hook

    @property
    def legacy_levels(self) -> bool:
        """When True, new events use the levels ``legacy_info``/``_iwarning``/``_ierror``."""
        return self._ctx.legacy_levels

    @legacy_levels.setter
    def legacy_levels(self, value: bool) -> None:
        self._ctx.legacy_levels = value

    @property
    def add_unknown_fields(self) -> bool:
        """When True, every job, event, checkpoint and file served has ``"future_field"``.

        Its value is a nested object (``{"since": "2027-01", "values": [1, 2.5, None],
        "ok": True}``): a field no client knows yet, which a client must keep.
        """
        return self._ctx.add_unknown_fields

    @add_unknown_fields.setter
    def add_unknown_fields(self, value: bool) -> None:
        self._ctx.add_unknown_fields = value

    @property
    def file_processing_seconds(self) -> float:
        """Seconds of :attr:`clock` a fine-tuning file stays ``PENDING`` (0: none)."""
        return self._ctx.file_processing_seconds

    @file_processing_seconds.setter
    def file_processing_seconds(self, value: float) -> None:
        self._ctx.file_processing_seconds = value

    @property
    def preview_max_seq_length(self) -> int | None:
        """The preview's ``max_seq_length`` (``None``: 8192; small values truncate rows)."""
        return self._ctx.preview_max_seq_length

    @preview_max_seq_length.setter
    def preview_max_seq_length(self, value: int | None) -> None:
        self._ctx.preview_max_seq_length = value

    # ------------------------------------------------------------------ lifecycle of the server

    def start(self) -> Self:
        """Start the API server and the storage server; returns ``self``."""
        if self._thread is None:
            context = None
            if self.tls:
                self._ca = FakeCA([self.host, "127.0.0.1", "127.0.0.2", "localhost", "::1"])
                context = self._ca.server_context
            self.storage.start(context)
            self._thread = ServerThread(
                self.host, self.port, self._app, "fake-together", ssl_context=context
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop both servers and close their open connections."""
        if self._thread is not None:
            self._thread.stop()
            self.storage.stop()
        if self._ca is not None:
            self._ca.remove()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server root, e.g. ``"http://127.0.0.1:PORT"`` (``https://`` with ``tls``)."""
        if self._thread is None:
            raise RuntimeError("FakeTogether is not started")
        return self._thread.url

    @property
    def ca_bundle(self) -> str:
        """The path of the CA certificate (PEM) that signed the fake's certificates.

        Only with ``tls=True``, while the fake runs; trust it with ``Client(verify=...)``
        or ``REQUESTS_CA_BUNDLE``.
        """
        if self._ca is None:
            raise RuntimeError("ca_bundle exists only for a started FakeTogether(tls=True)")
        return str(self._ca.bundle)

    @property
    def base_url(self) -> str:
        """The API base URL to give a client: :attr:`url` + ``"/v1"``."""
        return self.url + "/v1"

    # ------------------------------------------------------------------ inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received by the API server, in order (live)."""
        return self._log.requests

    @property
    def exchange_errors(self) -> list[BaseException]:
        """Exceptions raised by the exchange observers (the server answers normally)."""
        return self._log.errors

    def requests_to(self, method: str, path_suffix: str) -> list[RecordedRequest]:
        """Return the recorded requests with this method and path ``"/v1" + path_suffix``."""
        return self._log.matching(method, "/v1" + path_suffix)

    @property
    def jobs(self) -> dict[str, JSON]:
        """The stored jobs as full wire JSON (``FinetuneResponse``), by id (live, mutable)."""
        with self._ctx.lock:
            self._store.tick()
            return self._store.jobs

    @property
    def checkpoints(self) -> dict[str, list[JSON]]:
        """The stored checkpoints (``FineTuneCheckpoint`` wire JSON) by job id (live)."""
        with self._ctx.lock:
            self._store.tick()
            return self._store.checkpoints

    # ------------------------------------------------------------------ jobs

    def add_job(self, **fields: Any) -> JSON:
        """Insert a job; ``fields`` (any raw wire keys) override the generated ones.

        If ``status`` is a later lifecycle state, the checkpoints and metrics a job in that
        state would have are generated too. Returns the stored job dict (live).
        """
        return self._store.add_job(**fields)

    def add_event(self, job_id: str, **fields: Any) -> JSON:
        """Append a raw event to a job (``fields`` override the generated event); returns it."""
        return self._store.add_event(job_id, **fields)

    def advance(self, job_id: str | None = None, steps: int = 1) -> None:
        """Move one job (or every non-terminal job) ``steps`` lifecycle steps forward."""
        self._store.advance(job_id, steps)

    def fail_job(self, job_id: str, message: str = "Job failed", status: str = "error") -> None:
        """End a job as ``status`` (``error`` or ``user_error``) with a ``JOB_ERROR`` event."""
        self._store.fail_job(job_id, message, status)

    def early_stop_at(self, job_id: str, step: int | None) -> None:
        """Make the early-stopping job ``job_id`` halt at ``step`` (``None``: never).

        Takes effect when training ends (the step into ``compressing``); only for a job
        created with ``early_stopping_enabled: true``. ``step`` counts up to
        :data:`TOTAL_STEPS`; the best step is ``patience`` evaluations before the halt.
        """
        if step is not None and not 1 <= step <= TOTAL_STEPS:
            raise ValueError(f"step must be from 1 to {TOTAL_STEPS}")
        with self._ctx.lock:
            self._store.early_stops[job_id] = step

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: FaultBody = None,
        after_handling: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of normally.

        ``path`` is relative to ``/v1`` and may contain ``*`` (matches within one path
        segment, e.g. ``"/fine-tunes/*"``). The default body is ``ErrorData`` JSON; a
        ``str``/``bytes`` body is sent as-is as ``text/html``; a dict as JSON.
        ``headers`` are added (an empty value removes that header, e.g. the request id).
        With ``after_handling=True`` the request is processed first (e.g. the job is
        created and stored), then the fault answer replaces the response.
        """
        self._faults.add(
            Fault(
                "fail",
                method.upper(),
                path_pattern(path),
                times,
                status=status,
                headers=dict(headers or {}),
                body=body,
                after_handling=after_handling,
            )
        )

    def drop_next(
        self, method: str, path: str, *, times: int = 1, after_handling: bool = False
    ) -> None:
        """Close the connection without any response for the next ``times`` matching requests.

        The request body is read first; with ``after_handling=True`` the request is also
        processed (e.g. the job is stored) before the connection is dropped.
        """
        pattern = path_pattern(path)
        self._faults.add(
            Fault("drop", method.upper(), pattern, times, after_handling=after_handling)
        )

    def delay_next(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """Really sleep ``seconds`` before handling the next ``times`` matching requests."""
        self._faults.add(Fault("delay", method.upper(), path_pattern(path), times, seconds=seconds))

    def cut_download(self, after_bytes: int, *, times: int = 1) -> None:
        """Cut the next ``times`` download bodies after ``after_bytes`` bytes.

        The headers still announce the full length; then the connection is dropped.
        """
        self._bodies.cut(after_bytes, times)

    # ------------------------------------------------------------------ downloads

    def set_download(
        self,
        job_id: str,
        *,
        data: bytes | None = None,
        size: int | None = None,
        content_type: str = "application/octet-stream",
        etag: str | None = "auto",
        checkpoint: str | None = None,
        step: int | None = None,
    ) -> None:
        """Set what ``GET /finetune/download`` serves for ``job_id``.

        :param data: the exact bytes to serve.
        :param size: instead of ``data``: a deterministic synthetic body of ``size`` bytes
            generated on the fly (see :func:`~together_finetune.testing.archive.synthetic_bytes`;
            large sizes never sit in memory).
        :param content_type: the ``Content-Type`` to answer with.
        :param etag: ``"auto"``: a strong ETag derived from the content; ``None``: no ETag;
            anything else: that ETag.
        :param checkpoint: only for requests with this ``checkpoint`` value.
        :param step: only for requests with this ``checkpoint_step``.

        A download set this way is served even if the job is not completed.
        """
        body = Body(data=data, size=size)
        self._downloads.set(job_id, DownloadSpec(body, content_type, etag, checkpoint, step))

    def set_tokenized_dataset(
        self,
        job_id: str,
        *,
        data: bytes | None = None,
        size: int | None = None,
        filename: str | None = None,
        content_type: str = "application/zstd",
    ) -> None:
        """Set the tokenized dataset of ``job_id`` (served even before the job runs).

        :param data: the exact bytes; or ``size``: a synthetic body of that many bytes.
        :param filename: the ``filename`` the API answers (default ``<id>-tokenized.tar.zst``;
            anything, e.g. ``"../x"``, to test that a client makes it safe).
        :param content_type: the ``content_type`` the API answers and storage serves.

        Otherwise a job that has run serves a real archive
        (:func:`~together_finetune.testing.archive.build_tokenized_archive`).
        """
        spec = DownloadSpec(Body(data=data, size=size), content_type=content_type)
        self._tokenization.set(job_id, spec, filename)

    def change_download_etag(self) -> None:
        """Make the next download responses carry a different ETag (the file "changed")."""
        self._bodies.change_etag()

    @property
    def download_ignores_range(self) -> bool:
        """When True, downloads answer 200 with the whole body even to Range requests."""
        return self._bodies.ignores_range

    @download_ignores_range.setter
    def download_ignores_range(self, value: bool) -> None:
        self._bodies.ignores_range = value

    @property
    def download_wrong_length(self) -> int | None:
        """When set, downloads announce this Content-Length while sending the real bytes."""
        return self._bodies.wrong_length

    @download_wrong_length.setter
    def download_wrong_length(self, value: int | None) -> None:
        self._bodies.wrong_length = value

    @property
    def download_checksum_header(self) -> bool:
        """When True, downloads carry ``x-checksum-sha256`` (the whole body's, even in a 206)."""
        return self._bodies.checksum_header

    @download_checksum_header.setter
    def download_checksum_header(self, value: bool) -> None:
        self._bodies.checksum_header = value

    @property
    def download_redirect(self) -> bool:
        """When True, ``GET /finetune/download`` answers 302 to :attr:`storage`."""
        return self._downloads.redirect

    @download_redirect.setter
    def download_redirect(self, value: bool) -> None:
        self._downloads.redirect = value

    @property
    def throttle(self) -> int | None:
        """Bytes per second each connection may carry (downloads and storage; ``None``: no cap)."""
        return self._bodies.throttle

    @throttle.setter
    def throttle(self, value: int | None) -> None:
        if value is not None and not (isinstance(value, int) and value > 0):
            raise ValueError(
                f"throttle must be a positive number of bytes per second, got {value!r}"
            )
        self._bodies.throttle = value

    @property
    def download_bytes_sent(self) -> int:
        """Download body bytes sent so far, by both servers."""
        return self._bodies.bytes_sent
