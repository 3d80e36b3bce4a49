"""A real HTTP server that imitates Together AI's fine-tuning REST API.

The JSON it serves is built from the wire reference (the OpenAPI spec plus what the live API
and the official SDKs actually exchange), never from this library's client models, so the
fake can referee the client. See :class:`FakeTogether`.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import hashlib
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Callable, Union, cast

from werkzeug.exceptions import (
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestedRangeNotSatisfiable,
)
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from together_finetune.testing.archive import build_model_archive, synthetic_bytes

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from typing_extensions import Self

__all__ = ["FakeTogether", "ManualClock", "RecordedRequest", "StorageServer"]

JSON = dict[str, Any]
ExchangeHook = Callable[["RecordedRequest", int, dict[str, str], bytes], None]
FaultBody = Union[bytes, str, dict[str, Any], None]

LIFECYCLE = ("pending", "queued", "running", "compressing", "uploading", "completed")
TERMINAL = frozenset({"completed", "cancelled", "error", "user_error"})
TOTAL_STEPS = 20
INTERMEDIATE_STEP = 10
_CHUNK = 64 * 1024
_LAST_MODIFIED = _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)

SUPPORTED_MODELS: dict[str, JSON] = {
    "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference": {"full": True, "max_batch": 96},
    "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference": {
        "full": False,
        "max_batch": 32,
    },
    "meta-llama/Llama-3.2-3B-Instruct": {"full": True, "max_batch": 128},
    "Qwen/Qwen2.5-7B-Instruct": {"full": True, "max_batch": 96},
    "Qwen/Qwen2.5-72B-Instruct": {"full": False, "max_batch": 16},
    "mistralai/Mistral-7B-Instruct-v0.2": {"full": True, "max_batch": 96},
}
_DEFAULT_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


class ManualClock:
    """An injectable clock for tests: time moves only when told to.

    Pass it as ``FakeTogether(clock=...)`` (and as the client's clock/sleep) so that
    polling loops and ``step_seconds`` lifecycles run instantly and deterministically.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        """Create a clock reading ``start`` seconds."""
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current time in seconds (monotonic-like)."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` instantly, like a ``time.sleep`` that never waits."""
        self.advance(max(0.0, seconds))


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake server received it."""

    method: str
    #: the path as received, without the query string, e.g. ``"/v1/fine-tunes/ft-1/cancel"``
    path: str
    #: query parameters, flat (the last value of a repeated parameter wins)
    query: dict[str, str]
    #: request headers as received
    headers: dict[str, str]
    body: bytes
    #: the server ("api" or "storage") that received it
    server: str = "api"

    def header(self, name: str) -> str | None:
        """Return the value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        """Return the body parsed as JSON, or ``None`` if it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


# --------------------------------------------------------------------------- helpers


def _now_iso() -> str:
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _parse_iso(value: str) -> _dt.datetime | None:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed


def error_body(
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> JSON:
    """Return an ``ErrorData`` wire object."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class _APIError(Exception):
    """Raised by a route to answer with a JSON error."""

    def __init__(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _bad_request(message: str, param: str | None = None) -> _APIError:
    return _APIError(400, error_body(message, param=param))


def _not_found(job_id: str) -> _APIError:
    return _APIError(
        404,
        error_body(f"Fine-tune job not found: {job_id}", param="id", code="not_found"),
    )


class _DroppedConnection(Exception):
    """Raised after the connection socket was shut down on purpose: send nothing more."""


def _drop_connection(environ: WSGIEnvironment) -> None:
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    raise _DroppedConnection()


def _path_pattern(path: str) -> re.Pattern[str]:
    """Compile a fault path ("/fine-tunes/*") to a regex; ``*`` matches within one segment."""
    full = "/v1" + path if not path.startswith("/v1/") else path
    return re.compile(
        "".join("[^/]*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", full))
        + r"\Z"
    )


@dataclass
class _Fault:
    kind: str  # "fail" | "drop" | "delay"
    method: str
    pattern: re.Pattern[str]
    times: int
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: FaultBody = None
    after_handling: bool = False
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method == method and bool(self.pattern.match(path))


# --------------------------------------------------------------------------- download bodies


class _Body:
    """A download body: exact bytes or a synthetic body generated on the fly."""

    def __init__(self, data: bytes | None = None, size: int | None = None) -> None:
        if (data is None) == (size is None):
            raise ValueError("give exactly one of data= or size=")
        self.data = data
        self.size = len(data) if data is not None else int(size or 0)
        self._sha256: str | None = None

    def read(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if self.data is not None:
            return self.data[offset : offset + length]
        return synthetic_bytes(offset, length)

    def content_id(self) -> str:
        if self.data is not None:
            return self.sha256()
        return hashlib.sha256(f"synthetic:{self.size}".encode()).hexdigest()

    def sha256(self) -> str:
        if self._sha256 is None:
            digest = hashlib.sha256()
            for offset in range(0, self.size, 1024 * 1024):
                digest.update(self.read(offset, 1024 * 1024))
            self._sha256 = digest.hexdigest()
        return self._sha256


class _BodyStream:
    """A seekable iterable over a :class:`_Body` (werkzeug's range wrapper seeks it)."""

    def __init__(self, body: _Body) -> None:
        self._body = body
        self._position = 0

    def __iter__(self) -> _BodyStream:
        return self

    def __next__(self) -> bytes:
        chunk = self._body.read(self._position, _CHUNK)
        if not chunk:
            raise StopIteration
        self._position += len(chunk)
        return chunk

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = offset if whence == 0 else self._position + offset
        return self._position

    def tell(self) -> int:
        return self._position


@dataclass
class _DownloadSpec:
    body: _Body
    content_type: str
    etag: str | None
    checkpoint: str | None
    step: int | None


# --------------------------------------------------------------------------- HTTP plumbing


class _QuietHandler(WSGIRequestHandler):
    """Keep-alive HTTP/1.1 handler that logs nothing and survives dropped connections.

    werkzeug 3.1's ``run_wsgi`` always sends ``Connection: close``; this one keeps the
    connection open whenever the response has a ``Content-Length``.
    """

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every keep-alive exchange.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connections = getattr(self.server, "fake_connections", None)
        if connections is not None:
            with self.server.fake_lock:  # type: ignore[attr-defined]
                connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        connections = getattr(self.server, "fake_connections", None)
        if connections is not None:
            with self.server.fake_lock:  # type: ignore[attr-defined]
                connections.discard(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except Exception:  # a fake never prints tracebacks for broken clients
            self.close_connection = True

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        pending: list[Any] = []
        sent = False

        def write(data: bytes) -> None:
            nonlocal sent
            if not sent:
                sent = True
                status, headers = pending
                code_text, _, reason = status.partition(" ")
                code = int(code_text)
                self.send_response_only(code, reason)
                names = {key.lower() for key, _ in headers}
                if "date" not in names:
                    self.send_header("Date", self.date_time_string())
                self.send_header("Server", "fake-together")
                for key, value in headers:
                    self.send_header(key, value)
                has_length = "content-length" in names
                bodiless = code in (204, 304) or environ["REQUEST_METHOD"] == "HEAD"
                if not has_length and not bodiless:
                    self.close_connection = True
                if environ.get("fake.close_after"):
                    self.close_connection = True
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
            if data:
                self.wfile.write(data)

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            pending[:] = [status, headers]
            return write

        try:
            app_iter = self.server.app(environ, start_response)
            try:
                for chunk in app_iter:
                    write(chunk)
                if not sent:
                    write(b"")
            finally:
                close = getattr(app_iter, "close", None)
                if close is not None:
                    close()
            self.wfile.flush()
        except Exception:
            # _DroppedConnection, a client that went away, or a bug: never a traceback.
            self.close_connection = True
            if not sent:
                with contextlib.suppress(OSError):
                    self.send_response(500, "Internal Server Error")
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing."""

    def log_error(self, format: str, *args: Any) -> None:
        """Log nothing."""

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Log nothing."""


class _HTTPServerThread:
    """A werkzeug server running in a daemon thread."""

    def __init__(self, host: str, port: int, app: Any, name: str) -> None:
        self.server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        self.server.fake_connections = set()  # type: ignore[attr-defined]
        self.server.fake_lock = threading.Lock()  # type: ignore[attr-defined]
        self.host = host
        self.port = int(self.server.socket.getsockname()[1])
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, name=name
        )
        self._thread.daemon = True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(timeout=5)
        with self.server.fake_lock:  # type: ignore[attr-defined]
            connections = list(self.server.fake_connections)  # type: ignore[attr-defined]
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def _record(request: Request, body: bytes, server: str) -> RecordedRequest:
    return RecordedRequest(
        method=request.method,
        path=request.path,
        query={key: values[-1] for key, values in request.args.lists()},
        headers=dict(request.headers.items()),
        body=body,
        server=server,
    )


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body).encode()
    response = Response(data, status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


# --------------------------------------------------------------------------- storage server


class StorageServer:
    """A second fake server playing object storage (presigned URLs).

    It serves redirected model downloads (with ``Range`` support), accepts ``PUT`` of raw
    bytes at any path (stored in :attr:`objects`), checks no credentials and records every
    request in :attr:`requests`.
    """

    def __init__(self, owner: FakeTogether) -> None:
        """Create a storage server whose downloads are governed by ``owner``'s knobs."""
        self._owner = owner
        #: every request received, in order
        self.requests: list[RecordedRequest] = []
        #: bodies uploaded with PUT, by path
        self.objects: dict[str, bytes] = {}
        self._downloads: dict[str, _DownloadSpec] = {}
        self._faults: list[list[Any]] = []  # [method, status or None for a drop, times left]
        self._lock = threading.Lock()
        self._thread: _HTTPServerThread | None = None

    def fail_next(self, method: str, status: int, *, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``method`` with ``status`` (body read first)."""
        with self._lock:
            self._faults.append([method, status, times])

    def drop_next(self, method: str, *, times: int = 1) -> None:
        """Close the connection of the next ``times`` requests with ``method`` unanswered."""
        with self._lock:
            self._faults.append([method, None, times])

    def _take_fault(self, method: str) -> tuple[bool, int | None]:
        with self._lock:
            for fault in self._faults:
                if fault[0] == method and fault[2] > 0:
                    fault[2] -= 1
                    return True, fault[1]
        return False, None

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``"http://127.0.0.2:PORT"``."""
        if self._thread is None:
            raise RuntimeError("the storage server is not started")
        return f"http://{self._thread.host}:{self._thread.port}"

    def start(self) -> None:
        """Start serving on 127.0.0.2 (127.0.0.1 if that address cannot be bound)."""
        try:
            self._thread = _HTTPServerThread("127.0.0.2", 0, self._wsgi, "fake-together-storage")
        except OSError:
            self._thread = _HTTPServerThread("127.0.0.1", 0, self._wsgi, "fake-together-storage")
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        if self._thread is not None:
            self._thread.stop()

    def _register(self, path: str, spec: _DownloadSpec) -> None:
        with self._lock:
            self._downloads[path] = spec

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data()
        with self._lock:
            self.requests.append(_record(request, body, "storage"))
            spec = self._downloads.get(request.path)
            stored = self.objects.get(request.path)
        faulty, status = self._take_fault(request.method)
        if faulty and status is None:
            _drop_connection(environ)
        if faulty:
            response = Response(b"<Error><Code>InternalError</Code></Error>", status=status)
            response.mimetype = "application/xml"
        elif request.method == "PUT":
            with self._lock:
                self.objects[request.path] = body
            response = Response(b"", status=200)
            response.headers["ETag"] = (
                '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
            )
        elif request.method in ("GET", "HEAD") and (spec is not None or stored is not None):
            if spec is None:
                assert stored is not None
                spec = _DownloadSpec(
                    _Body(data=stored), "application/octet-stream", "auto", None, None
                )
            response = self._owner._serve_body(request, spec)
        else:
            response = Response(b"<Error><Code>NoSuchKey</Code></Error>", status=404)
            response.mimetype = "application/xml"
        response.headers["x-request-id"] = "req-" + secrets.token_hex(12)
        return response(environ, start_response)


# --------------------------------------------------------------------------- the fake API


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
    :param on_exchange: called as ``on_exchange(request, status, headers, body)`` for every
        answer the fake produces itself (not for injected faults); download archive bodies
        are passed as ``b""`` (their JSON error bodies are passed as they are). Exceptions
        it raises are collected in :attr:`exchange_errors`.
    """

    #: when True, downloads answer 200 with the whole body even to Range requests
    download_ignores_range: bool
    #: when set, downloads announce this Content-Length while sending the real bytes
    download_wrong_length: int | None
    #: when True, full-body 200 downloads also carry ``x-checksum-sha256``
    download_checksum_header: bool
    #: when True, GET /finetune/download answers 302 to :attr:`storage`
    download_redirect: bool

    def __init__(
        self,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        step_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_exchange: ExchangeHook | None = None,
    ) -> None:
        """Create the fake (not started yet: call :meth:`start` or use ``with``)."""
        if step_seconds is not None and step_seconds <= 0:
            raise ValueError("step_seconds must be positive")
        self.api_key = api_key if api_key is not None else "fake-" + secrets.token_hex(16)
        self.host = host
        self.port = port
        self.step_seconds = step_seconds
        self.clock = clock
        self.on_exchange = on_exchange
        #: every request received by the API server, in order
        self.requests: list[RecordedRequest] = []
        #: exceptions raised by ``on_exchange`` (the server answers normally regardless)
        self.exchange_errors: list[BaseException] = []
        self.download_ignores_range = False
        self.download_wrong_length = None
        self.download_checksum_header = False
        self.download_redirect = False
        self.download_bytes_sent = 0
        #: the object-storage server (started and stopped with this one)
        self.storage = StorageServer(self)
        self._jobs: dict[str, JSON] = {}
        self._checkpoints: dict[str, list[JSON]] = {}
        self._metrics: dict[str, list[tuple[_dt.datetime, JSON]]] = {}
        self._last_step_at: dict[str, float] = {}
        self._downloads: dict[str, list[_DownloadSpec]] = {}
        self._archives: dict[str, bytes] = {}
        self._faults: list[_Fault] = []
        self._cuts: list[list[int]] = []
        self._etag_generation = 0
        self._lock = threading.RLock()
        self._thread: _HTTPServerThread | None = None
        self._url_map = Map(
            [
                Rule("/v1/fine-tunes", methods=["GET"], endpoint="list"),
                Rule("/v1/fine-tunes", methods=["POST"], endpoint="create"),
                Rule(
                    "/v1/fine-tunes/estimate-price",
                    methods=["POST"],
                    endpoint="estimate",
                ),
                Rule(
                    "/v1/fine-tunes/models/supported",
                    methods=["GET"],
                    endpoint="supported",
                ),
                Rule("/v1/fine-tunes/models/limits", methods=["GET"], endpoint="limits"),
                Rule("/v1/fine-tunes/<job_id>", methods=["GET"], endpoint="retrieve"),
                Rule("/v1/fine-tunes/<job_id>", methods=["DELETE"], endpoint="delete"),
                Rule("/v1/fine-tunes/<job_id>/events", methods=["GET"], endpoint="events"),
                Rule(
                    "/v1/fine-tunes/<job_id>/checkpoints",
                    methods=["GET"],
                    endpoint="checkpoints",
                ),
                Rule(
                    "/v1/fine-tunes/<job_id>/cancel",
                    methods=["POST"],
                    endpoint="cancel",
                ),
                Rule(
                    "/v1/fine-tunes/<job_id>/metrics",
                    methods=["GET"],
                    endpoint="metrics",
                ),
                Rule("/v1/finetune/download", methods=["GET"], endpoint="download"),
            ],
            strict_slashes=False,
            merge_slashes=False,
        )
        from together_finetune.testing.files_api import FilesAPI, register_files_api

        #: the files endpoints (uploads to :attr:`storage`, list, retrieve, delete, content)
        self.files: FilesAPI = register_files_api(self)

    # ------------------------------------------------------------------ lifecycle of the server

    def start(self) -> Self:
        """Start the API server and the storage server; returns ``self``."""
        if self._thread is None:
            self.storage.start()
            self._thread = _HTTPServerThread(self.host, self.port, self._wsgi, "fake-together")
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop both servers and close their open connections."""
        if self._thread is not None:
            self._thread.stop()
            self.storage.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The server root, e.g. ``"http://127.0.0.1:PORT"``."""
        if self._thread is None:
            raise RuntimeError("FakeTogether is not started")
        return f"http://{self._thread.host}:{self._thread.port}"

    @property
    def base_url(self) -> str:
        """The API base URL to give a client: :attr:`url` + ``"/v1"``."""
        return self.url + "/v1"

    # ------------------------------------------------------------------ inspection

    def requests_to(self, method: str, path_suffix: str) -> list[RecordedRequest]:
        """Return the recorded requests with this method and path ``"/v1" + path_suffix``."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == method.upper() and r.path == "/v1" + path_suffix
            ]

    @property
    def jobs(self) -> dict[str, JSON]:
        """The stored jobs as full wire JSON (``FinetuneResponse``), by id (live, mutable)."""
        with self._lock:
            self._tick()
            return self._jobs

    @property
    def checkpoints(self) -> dict[str, list[JSON]]:
        """The stored checkpoints (``FineTuneCheckpoint`` wire JSON) by job id (live)."""
        with self._lock:
            self._tick()
            return self._checkpoints

    # ------------------------------------------------------------------ state manipulation

    def add_job(self, **fields: Any) -> JSON:
        """Insert a job; ``fields`` (any raw wire keys) override the generated ones.

        If ``status`` is a later lifecycle state, the checkpoints and metrics a job in that
        state would have are generated too. Returns the stored job dict (live).
        """
        with self._lock:
            body: JSON = {"training_file": "file-" + str(uuid.uuid4()), "model": _DEFAULT_MODEL}
            body.update({k: v for k, v in fields.items() if k not in ("status", "events", "id")})
            job = self._new_job(body, job_id=fields.get("id"))
            status = fields.get("status", "pending")
            if status in LIFECYCLE:
                for step in LIFECYCLE[1 : LIFECYCLE.index(status) + 1]:
                    self._enter(job, step, with_events=False)
            if "events" not in fields:
                job["events"].insert(
                    0, self._event(job, "JOB_PENDING", "Fine tune request created")
                )
            job.update(copy.deepcopy(fields))
            self._store(job)
            return job

    def add_event(self, job_id: str, **fields: Any) -> JSON:
        """Append a raw event to a job (``fields`` override the generated event); returns it."""
        with self._lock:
            job = self._jobs[job_id]
            event = self._event(job, fields.pop("type", "WARNING"), fields.pop("message", ""))
            event.update(fields)
            job.setdefault("events", []).append(event)
            return event

    def advance(self, job_id: str | None = None, steps: int = 1) -> None:
        """Move one job (or every non-terminal job) ``steps`` lifecycle steps forward."""
        with self._lock:
            ids = [job_id] if job_id is not None else list(self._jobs)
            for _ in range(steps):
                for one in ids:
                    job = self._jobs.get(one)
                    if job is None:
                        raise KeyError(one)
                    self._step(job)

    def fail_job(self, job_id: str, message: str = "Job failed", status: str = "error") -> None:
        """End a job as ``status`` (``error`` or ``user_error``) with a ``JOB_ERROR`` event."""
        with self._lock:
            job = self._jobs[job_id]
            job["status"] = status
            self._touch(job, started=True)
            job["progress"] = {"estimate_available": False, "seconds_remaining": 0}
            job["events"].append(self._event(job, "JOB_ERROR", message, level="error"))

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
        With ``after_handling=True`` the request is processed first (e.g. the job is
        created and stored), then the fault answer replaces the response.
        """
        self._add_fault(
            _Fault(
                "fail",
                method.upper(),
                _path_pattern(path),
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
        self._add_fault(
            _Fault(
                "drop",
                method.upper(),
                _path_pattern(path),
                times,
                after_handling=after_handling,
            )
        )

    def delay_next(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """Really sleep ``seconds`` before handling the next ``times`` matching requests."""
        self._add_fault(
            _Fault("delay", method.upper(), _path_pattern(path), times, seconds=seconds)
        )

    def cut_download(self, after_bytes: int, *, times: int = 1) -> None:
        """Cut the next ``times`` download bodies after ``after_bytes`` bytes.

        The headers still announce the full length; then the connection is dropped.
        """
        with self._lock:
            self._cuts.append([after_bytes, times])

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, kinds: tuple[str, ...], method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

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
        spec = _DownloadSpec(_Body(data=data, size=size), content_type, etag, checkpoint, step)
        with self._lock:
            self._downloads.setdefault(job_id, []).append(spec)

    def change_download_etag(self) -> None:
        """Make the next download responses carry a different ETag (the file "changed")."""
        with self._lock:
            self._etag_generation += 1

    # ------------------------------------------------------------------ job model (wire JSON)

    def _new_job(self, body: JSON, job_id: str | None = None) -> JSON:
        now = _now_iso()
        job_id = job_id or "ft-" + str(uuid.uuid4())
        model = body.get("model")
        if not isinstance(model, str) or not model:
            parent = self._jobs.get(str(body.get("from_checkpoint", "")).split(":")[0], {})
            model = str(parent.get("model") or _DEFAULT_MODEL)
        suffix = body.get("suffix") or secrets.token_hex(4)
        training_type = body.get("training_type") or {
            "type": "Lora",
            "lora_r": 8,
            "lora_alpha": 16,
            "lora_dropout": 0.0,
            "lora_trainable_modules": "all-linear",
        }
        training_method = body.get("training_method")
        if not isinstance(training_method, dict) or not training_method:
            training_method = {
                "method": "sft",
                "train_on_inputs": body.get("train_on_inputs", "auto"),
            }
        elif training_method.get("method") == "sft":
            training_method = {"train_on_inputs": "auto", **training_method}
        job: JSON = {
            "id": job_id,
            "job_id": job_id,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
            "started_at": now,
            "user_id": "user_fake0123456789",
            "owner_address": "fake-user@example.com",
            "training_file": body.get("training_file"),
            "model": model,
            "model_output_name": f"fake-user/{model.split('/')[-1]}-{suffix}",
            "n_epochs": 1,
            "n_checkpoints": 1,
            "n_evals": 0,
            "batch_size": "max",
            "learning_rate": 0.00001,
            "lr_scheduler": {
                "lr_scheduler_type": "cosine",
                "lr_scheduler_args": {"min_lr_ratio": 0.0, "num_cycles": 0.5},
            },
            "warmup_ratio": 0.0,
            "max_grad_norm": 1.0,
            "weight_decay": 0.0,
            "eval_steps": 0,
            "packing": True,
            "random_seed": None,
            "training_type": training_type,
            "training_method": training_method,
            "train_on_inputs": training_method.get("train_on_inputs", "auto"),
            "trainingfile_numlines": 1000,
            "trainingfile_size": 524288,
            "token_count": 250000,
            "param_count": 8030261248,
            "total_price": 0,
            "epochs_completed": 0,
            "queue_depth": 0,
            "total_steps": TOTAL_STEPS,
            "steps_completed": 0,
            "evals_completed": 0,
            "events": [],
            "progress": {"estimate_available": False, "seconds_remaining": 0},
        }
        for key, value in body.items():
            if key in ("wandb_key", "wandb_api_key", "hf_api_token", "train_on_inputs"):
                continue
            if key in ("training_type", "training_method") or value is None:
                continue
            job[key] = value
        if body.get("wandb_key") or body.get("wandb_api_key"):
            job["wandb_url"] = f"https://wandb.ai/fake/{body.get('wandb_project_name', 'together')}"
            job.setdefault("wandb_project_name", "together")
        return job

    def _store(self, job: JSON) -> None:
        self._jobs[job["id"]] = job
        self._checkpoints.setdefault(job["id"], [])
        self._metrics.setdefault(job["id"], [])
        self._last_step_at[job["id"]] = self.clock()

    def _event(
        self, job: JSON, type: str, message: str, *, level: str = "info", **extra: Any
    ) -> JSON:
        event: JSON = {
            "object": "fine-tune-event",
            "created_at": _now_iso(),
            "level": level,
            "message": message,
            "type": type,
            "param_count": job.get("param_count", 0),
            "token_count": job.get("token_count", 0),
            "total_steps": job.get("total_steps", TOTAL_STEPS),
            "wandb_url": job.get("wandb_url", ""),
            "step": 0,
            "checkpoint_path": "",
            "model_path": "",
            "training_offset": 0,
            "hash": "",
        }
        event.update(extra)
        return event

    def _touch(self, job: JSON, *, started: bool = False) -> None:
        now = _now_iso()
        job["updated_at"] = now
        if started:
            job["started_at"] = now

    def _is_full(self, job: JSON) -> bool:
        training_type = job.get("training_type")
        return not isinstance(training_type, dict) or training_type.get("type") != "Lora"

    def _checkpoint_path(self, job: JSON, step: int | None) -> str:
        base = f"s3://together-fake-finetune/{job['id']}"
        return f"{base}/checkpoint-{step}" if step is not None else f"{base}/final"

    def _add_metrics(self, job: JSON, first: int, last: int) -> None:
        now = _dt.datetime.now(_dt.timezone.utc)
        rows = self._metrics.setdefault(job["id"], [])
        base_lr = float(job.get("learning_rate") or 0.00001)
        for step in range(first, last + 1):
            logged_at = now + _dt.timedelta(milliseconds=step - last)
            rows.append(
                (
                    logged_at,
                    {
                        "train/loss": round(2.0 * 0.9**step, 6),
                        "train/learning_rate": base_lr * (1 - step / (TOTAL_STEPS + 1)),
                        "train/global_step": step,
                        "train/epoch": step / TOTAL_STEPS,
                    },
                )
            )

    def _enter(self, job: JSON, status: str, *, with_events: bool = True) -> None:
        """Move ``job`` into lifecycle ``status``, with that state's side effects."""
        job["status"] = status
        self._touch(job, started=True)
        events: list[JSON] = []
        job_id = job["id"]
        if status == "queued":
            job["queue_depth"] = 0
            job["progress"] = {"estimate_available": True, "seconds_remaining": 60}
            events.append(self._event(job, "JOB_PENDING", "Job queued (position 1)"))
        elif status == "running":
            job["steps_completed"] = INTERMEDIATE_STEP
            job["progress"] = {"estimate_available": True, "seconds_remaining": 300}
            path = self._checkpoint_path(job, INTERMEDIATE_STEP)
            self._checkpoints.setdefault(job_id, []).append(
                {
                    "step": INTERMEDIATE_STEP,
                    "path": path,
                    "created_at": _now_iso(),
                    "checkpoint_type": "Intermediate",
                }
            )
            self._add_metrics(job, 1, INTERMEDIATE_STEP)
            events.append(self._event(job, "JOB_START", "Job started"))
            events.append(self._event(job, "TRAINING_START", "Training started"))
            events.append(
                self._event(
                    job,
                    "CHECKPOINT_SAVE",
                    f"Checkpoint saved at step {INTERMEDIATE_STEP}",
                    step=INTERMEDIATE_STEP,
                    checkpoint_path=path,
                )
            )
        elif status == "compressing":
            job["steps_completed"] = TOTAL_STEPS
            job["epochs_completed"] = job.get("n_epochs", 1)
            job["progress"] = {"estimate_available": True, "seconds_remaining": 120}
            self._add_metrics(job, INTERMEDIATE_STEP + 1, TOTAL_STEPS)
            events.append(self._event(job, "EPOCH_COMPLETE", "Epoch completed", step=TOTAL_STEPS))
            events.append(self._event(job, "TRAINING_COMPLETE", "Training completed"))
            events.append(self._event(job, "COMPRESSING_MODEL", "Compressing output model"))
        elif status == "uploading":
            job["progress"] = {"estimate_available": True, "seconds_remaining": 60}
            events.append(self._event(job, "MODEL_UPLOADING", "Uploading output model"))
        elif status == "completed":
            job["progress"] = {"estimate_available": True, "seconds_remaining": 0}
            job["model_output_path"] = self._checkpoint_path(job, None)
            job["total_price"] = 1500
            self._checkpoints.setdefault(job_id, []).append(
                {
                    "step": TOTAL_STEPS,
                    "path": job["model_output_path"],
                    "created_at": _now_iso(),
                    "checkpoint_type": "Final" if self._is_full(job) else "Final Merged",
                }
            )
            events.append(
                self._event(
                    job,
                    "MODEL_UPLOAD_COMPLETE",
                    "Model upload complete",
                    model_path=job["model_output_path"],
                )
            )
            events.append(self._event(job, "JOB_COMPLETE", "Fine tuning job completed"))
        if with_events:
            job.setdefault("events", []).extend(events)

    def _step(self, job: JSON) -> None:
        status = job.get("status")
        if status in TERMINAL:
            return
        if status == "cancel_requested":
            job["status"] = "cancelled"
            self._touch(job, started=True)
            job["progress"] = {"estimate_available": False, "seconds_remaining": 0}
            job.setdefault("events", []).append(self._event(job, "JOB_STOPPED", "Job stopped"))
            return
        if status in LIFECYCLE:
            self._enter(job, LIFECYCLE[LIFECYCLE.index(status) + 1])

    def _tick(self) -> None:
        """Apply the steps due on the clock (``step_seconds`` mode)."""
        if self.step_seconds is None:
            return
        now = self.clock()
        for job_id, job in self._jobs.items():
            last = self._last_step_at.get(job_id, now)
            while now - last >= self.step_seconds and job.get("status") not in TERMINAL:
                self._step(job)
                last += self.step_seconds
            self._last_step_at[job_id] = last if job.get("status") not in TERMINAL else now

    def _job(self, job_id: str) -> JSON:
        job = self._jobs.get(job_id)
        if job is None:
            raise _not_found(job_id)
        return job

    def _truncated(self, job: JSON) -> JSON:
        out = copy.deepcopy(job)
        out["events"] = []
        if not isinstance(out.get("batch_size"), int):
            limits = SUPPORTED_MODELS.get(str(out.get("model")), {"max_batch": 8})
            out["batch_size"] = limits["max_batch"]
        return out

    # ------------------------------------------------------------------ request handling

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data()
        recorded = _record(request, body, "api")
        with self._lock:
            self.requests.append(recorded)
        method, path = request.method, request.path
        delay = self._take_fault(("delay",), method, path)
        if delay is not None:
            time.sleep(delay.seconds)
        fault = self._take_fault(("fail", "drop"), method, path)
        if fault is not None and not fault.after_handling:
            return self._fault_answer(fault, environ, start_response)
        response, exchange_body = self._handle(request, recorded)
        if fault is not None:
            close = getattr(response, "close", None)
            if close is not None:
                close()
            return self._fault_answer(fault, environ, start_response)
        response.headers["x-request-id"] = "req-" + secrets.token_hex(12)
        if self.on_exchange is not None:
            try:
                self.on_exchange(
                    recorded,
                    response.status_code,
                    dict(response.headers.items()),
                    exchange_body,
                )
            except Exception as error:  # reported through exchange_errors
                with self._lock:
                    self.exchange_errors.append(error)
        return response(environ, start_response)

    def _fault_answer(
        self, fault: _Fault, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if fault.kind == "drop":
            _drop_connection(environ)
        body = fault.body
        if body is None:
            response = _json_response(
                fault.status,
                error_body(
                    f"Injected fault: HTTP {fault.status}",
                    type="server_error" if fault.status >= 500 else "invalid_request_error",
                ),
            )
        elif isinstance(body, dict):
            response = _json_response(fault.status, body)
        else:
            data = body.encode() if isinstance(body, str) else body
            response = Response(data, status=fault.status, mimetype="text/html")
        response.headers["x-request-id"] = "req-" + secrets.token_hex(12)
        for key, value in fault.headers.items():  # may replace the id, or remove it with ""
            if value:
                response.headers[key] = value
            else:
                response.headers.pop(key, None)
        return response(environ, start_response)

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            token.strip().encode(), self.api_key.encode()
        )

    def _handle(self, request: Request, recorded: RecordedRequest) -> tuple[Response, bytes]:
        """Answer a request normally; returns the response and the body for ``on_exchange``."""
        try:
            if not request.path.startswith("/v1/"):
                raise _APIError(404, error_body(f"Unknown path: {request.path}", code="not_found"))
            if not self._authorized(request):
                raise _APIError(
                    401,
                    error_body("Invalid API key provided", code="invalid_api_key"),
                )
            adapter = self._url_map.bind_to_environ(request.environ)
            try:
                endpoint, args = adapter.match()
            except MethodNotAllowed as error:
                allowed = ", ".join(error.valid_methods or [])
                raise _APIError(
                    405,
                    error_body(f"Method {request.method} not allowed for {request.path}"),
                    {"Allow": allowed},
                ) from None
            except (NotFound, HTTPException):
                raise _APIError(
                    404, error_body(f"Unknown path: {request.path}", code="not_found")
                ) from None
            with self._lock:
                self._tick()
                if endpoint == "download":
                    answer = self._download(request)
                    # Archive bytes are not handed to on_exchange; JSON error bodies are.
                    is_json = answer.mimetype == "application/json"
                    return answer, answer.get_data() if is_json else b""
                if str(endpoint).startswith("files_"):
                    files_response = self.files.dispatch(str(endpoint), request, recorded, args)
                    return files_response, files_response.get_data()
                handler = getattr(self, "_route_" + str(endpoint))
                status, payload = handler(request, recorded, **args)
            response = _json_response(status, payload)
            return response, response.get_data()
        except _APIError as error:
            response = _json_response(error.status, error.body, error.headers)
            return response, response.get_data()

    # ------------------------------------------------------------------ routes

    def _json_body(self, recorded: RecordedRequest, *, required: bool) -> JSON:
        if not recorded.body.strip():
            if required:
                raise _bad_request("Request body must be a JSON object")
            return {}
        try:
            body = json.loads(recorded.body)
        except ValueError:
            raise _bad_request("Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _bad_request("Request body must be a JSON object")
        return body

    def _route_list(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        # Newest first; for equal created_at the later insertion is newer.
        order = {job_id: index for index, job_id in enumerate(self._jobs)}
        jobs = list(self._jobs.values())
        jobs.sort(key=lambda j: (str(j.get("created_at", "")), order[j["id"]]), reverse=True)
        return 200, {"data": [self._truncated(job) for job in jobs]}

    def _route_create(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        body = self._json_body(recorded, required=True)
        _validate_create(body)
        self.files.check_training_file(body)
        job = self._new_job(body)
        job["events"].append(self._event(job, "JOB_PENDING", "Fine tune request created"))
        job["progress"] = {"estimate_available": False, "seconds_remaining": 0}
        self._store(job)
        return 200, self._truncated(job)

    def _route_retrieve(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._job(job_id))

    def _route_delete(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        self._job(job_id)
        del self._jobs[job_id]
        self._checkpoints.pop(job_id, None)
        self._metrics.pop(job_id, None)
        return 200, {"message": f"Fine-tune job {job_id} deleted"}

    def _route_events(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        return 200, {"data": copy.deepcopy(self._job(job_id).get("events", []))}

    def _route_checkpoints(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        self._job(job_id)
        return 200, {"data": copy.deepcopy(self._checkpoints.get(job_id, []))}

    def _route_cancel(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        job = self._job(job_id)
        status = job.get("status")
        if status in TERMINAL:
            raise _bad_request(
                f"Fine-tune job {job_id} is already {status} and cannot be cancelled",
                "id",
            )
        if status != "cancel_requested":
            job["status"] = "cancel_requested"
            self._touch(job)
            job.setdefault("events", []).append(
                self._event(job, "CANCEL_REQUESTED", "Cancel requested by user")
            )
        return 200, self._truncated(job)

    def _route_metrics(
        self, request: Request, recorded: RecordedRequest, job_id: str
    ) -> tuple[int, Any]:
        self._job(job_id)
        filters: JSON = self._json_body(recorded, required=False)
        filters.update(request.args.to_dict())
        step_from = _int_filter(filters, "global_step_from")
        step_to = _int_filter(filters, "global_step_to")
        at_from = _time_filter(filters, "logged_at_from")
        at_to = _time_filter(filters, "logged_at_to")
        rows = []
        for logged_at, row in self._metrics.get(job_id, []):
            step = row.get("train/global_step", 0)
            if step_from is not None and step < step_from:
                continue
            if step_to is not None and step > step_to:
                continue
            if at_from is not None and logged_at < at_from:
                continue
            if at_to is not None and logged_at > at_to:
                continue
            rows.append(dict(row))
        return 200, {"metrics": rows}

    def _route_supported(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        return 200, {"models": list(SUPPORTED_MODELS)}

    def _route_limits(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        name = request.args.get("model_name")
        if not name:
            raise _bad_request("model_name is required", "model_name")
        info = SUPPORTED_MODELS.get(name)
        if info is None:
            return 404, {"message": f"Model not found or not supported for fine-tuning: {name}"}
        max_batch = int(info["max_batch"])
        dpo_batch = max(8, max_batch // 2 // 8 * 8)
        limits: JSON = {
            "model_name": name,
            "lora_training": {
                "max_batch_size": max_batch,
                "max_batch_size_dpo": dpo_batch,
                "min_batch_size": 8,
                "max_rank": 64,
                "default_rank": 16,  # read by the official SDK (wire reference §3.8)
                "target_modules": [
                    "q_proj",
                    "k_proj",
                    "v_proj",
                    "o_proj",
                    "up_proj",
                    "down_proj",
                    "gate_proj",
                ],
            },
            "max_num_epochs": 20,
            "max_num_evals": 100,
            "max_num_checkpoints": 20,
            "max_seq_length_sft": 8192,
            "max_seq_length_dpo": 4096,
            "min_max_seq_length": 512,
            "default_gradient_accumulation_steps": 1,
            "supports_full_training": bool(info["full"]),
            "max_learning_rate": 1.0,
            "min_learning_rate": 1e-8,
            "supports_vision": False,
            "supports_tools": True,
            "supports_reasoning": False,
            "merge_output_lora": True,
        }
        if info["full"]:
            limits["full_training"] = {
                "max_batch_size": max_batch,
                "max_batch_size_dpo": dpo_batch,
                "min_batch_size": 8,
            }
        return 200, limits

    def _route_estimate(self, request: Request, recorded: RecordedRequest) -> tuple[int, Any]:
        body = self._json_body(recorded, required=True)
        training_file = body.get("training_file")
        if not isinstance(training_file, str) or not training_file:
            raise _bad_request("training_file is required", "training_file")
        for name in ("n_epochs", "n_evals"):
            if name in body and not _is_int(body[name]):
                raise _bad_request(f"{name} must be an integer", name)
        if training_file.startswith("file-unvalidated"):
            return 200, {
                "estimation_available": False,
                "unavailable_reason": "train_file_not_validated",
            }
        validation_file = body.get("validation_file")
        if isinstance(validation_file, str) and validation_file.startswith("file-unvalidated"):
            return 200, {
                "estimation_available": False,
                "unavailable_reason": "eval_file_not_validated",
            }
        n_epochs = body.get("n_epochs") or 1
        n_evals = body.get("n_evals") or 0
        train_tokens = 250000 * n_epochs
        eval_tokens = 25000 * n_evals if validation_file else 0
        return 200, {
            "estimation_available": True,
            "estimated_total_price": round((train_tokens + eval_tokens) * 0.000004, 6),
            "allowed_to_proceed": True,
            "user_limit": 1000.0,
            "estimated_train_token_count": train_tokens,
            "estimated_eval_token_count": eval_tokens,
        }

    # ------------------------------------------------------------------ downloads

    def _download(self, request: Request) -> Response:
        job_id = request.args.get("ft_id")
        if not job_id:
            raise _bad_request("ft_id is required", "ft_id")
        checkpoint = request.args.get("checkpoint")
        step_text = request.args.get("checkpoint_step")
        step: int | None = None
        if step_text not in (None, ""):
            try:
                step = int(str(step_text))
            except ValueError:
                raise _bad_request(
                    "checkpoint_step must be an integer", "checkpoint_step"
                ) from None
        if checkpoint not in (None, "", "merged", "adapter", "model_output_path"):
            raise _bad_request(f"Invalid checkpoint: {checkpoint}", "checkpoint")
        job = self._job(job_id)
        spec = self._find_download(job_id, checkpoint or None, step)
        if spec is None:
            if step not in (None, 0):
                steps = [c.get("step") for c in self._checkpoints.get(job_id, [])]
                if step not in steps:
                    raise _APIError(
                        404,
                        error_body(
                            f"Checkpoint at step {step} not found for {job_id}",
                            param="checkpoint_step",
                            code="not_found",
                        ),
                    )
            elif job.get("status") != "completed":
                raise _bad_request(
                    f"Fine-tune job {job_id} is {job.get('status')}; "
                    "only completed jobs can be downloaded",
                    "ft_id",
                )
            key = (
                f"{job_id}:{step}"
                if step not in (None, 0)
                else f"{job_id}:{checkpoint or 'merged'}"
            )
            if key not in self._archives:
                self._archives[key] = build_model_archive(key)
            spec = _DownloadSpec(
                _Body(data=self._archives[key]),
                "application/octet-stream",
                "auto",
                None,
                None,
            )
        if self.download_redirect:
            name = f"{job.get('model_output_name', job_id)}".replace("/", "_")
            path = f"/downloads/{secrets.token_hex(8)}/{name}.tar.zst"
            self.storage._register(path, spec)
            response = Response(b"", status=302)
            response.headers["Location"] = (
                self.storage.url + path + "?X-Fake-Signature=" + secrets.token_hex(8)
            )
            return response
        return self._serve_body(request, spec)

    def _find_download(
        self, job_id: str, checkpoint: str | None, step: int | None
    ) -> _DownloadSpec | None:
        best: _DownloadSpec | None = None
        best_score = -1
        for spec in self._downloads.get(job_id, []):
            if spec.checkpoint is not None and spec.checkpoint != checkpoint:
                continue
            if spec.step is not None and spec.step != step:
                continue
            score = (spec.checkpoint is not None) + (spec.step is not None)
            if score >= best_score:
                best, best_score = spec, score
        return best

    def _serve_body(self, request: Request, spec: _DownloadSpec) -> Response:
        """Serve a download body with Range/If-Range/ETag support and the download knobs."""
        with self._lock:
            generation = self._etag_generation
            ignores_range = self.download_ignores_range
            wrong_length = self.download_wrong_length
            checksum = self.download_checksum_header
        body = spec.body
        response = Response(_BodyStream(body), status=200, direct_passthrough=True)
        response.headers["Content-Type"] = spec.content_type
        response.headers["Content-Length"] = str(body.size)
        if spec.etag == "auto":
            tag = body.content_id()[:32] + (f"-g{generation}" if generation else "")
            response.set_etag(tag)
        elif spec.etag is not None:
            response.headers["ETag"] = (
                spec.etag if spec.etag.startswith(('"', "W/")) else f'"{spec.etag}"'
            )
        response.headers["Last-Modified"] = format_datetime(
            _LAST_MODIFIED + _dt.timedelta(seconds=generation), usegmt=True
        )
        try:
            response.make_conditional(
                request, accept_ranges=not ignores_range, complete_length=body.size
            )
        except RequestedRangeNotSatisfiable:
            return _json_response(
                416,
                error_body("Requested range not satisfiable", param="Range"),
                {"Content-Range": f"bytes */{body.size}"},
            )
        if ignores_range:
            response.headers["Accept-Ranges"] = "none"
        if checksum and response.status_code == 200:
            response.headers["x-checksum-sha256"] = body.sha256()
        if wrong_length is not None:
            response.headers["Content-Length"] = str(wrong_length)
            request.environ["fake.close_after"] = True
        if request.method != "HEAD" and response.status_code in (200, 206):
            cut: int | None = None
            with self._lock:
                for entry in self._cuts:
                    if entry[1] > 0:
                        entry[1] -= 1
                        cut = entry[0]
                        break
            chunks = cast("Iterable[bytes]", response.response)
            response.response = self._counted(chunks, cut, request.environ)
        return response

    def _counted(
        self, chunks: Iterable[bytes], cut: int | None, environ: WSGIEnvironment
    ) -> Iterator[bytes]:
        # Counted before each write, so a client that has read every byte never sees a
        # count that lags behind it.
        sent = 0
        for chunk in chunks:
            if cut is not None and sent + len(chunk) >= cut:
                chunk = chunk[: cut - sent]
                if chunk:
                    self._count(len(chunk))
                    yield chunk
                _drop_connection(environ)
            self._count(len(chunk))
            yield chunk
            sent += len(chunk)

    def _count(self, size: int) -> None:
        with self._lock:
            self.download_bytes_sent += size


# --------------------------------------------------------------------------- validation


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_CREATE_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "validation_file": ("a string", lambda v: isinstance(v, str)),
    "suffix": ("a string", lambda v: isinstance(v, str)),
    "from_checkpoint": ("a string", lambda v: isinstance(v, str)),
    "from_hf_model": ("a string", lambda v: isinstance(v, str)),
    "hf_model_revision": ("a string", lambda v: isinstance(v, str)),
    "hf_output_repo_name": ("a string", lambda v: isinstance(v, str)),
    "wandb_key": ("a string", lambda v: isinstance(v, str)),
    "wandb_api_key": ("a string", lambda v: isinstance(v, str)),
    "wandb_base_url": ("a string", lambda v: isinstance(v, str)),
    "wandb_project_name": ("a string", lambda v: isinstance(v, str)),
    "wandb_name": ("a string", lambda v: isinstance(v, str)),
    "wandb_entity": ("a string", lambda v: isinstance(v, str)),
    "n_epochs": ("an integer", _is_int),
    "n_checkpoints": ("an integer", _is_int),
    "n_evals": ("an integer", _is_int),
    "max_seq_length": ("an integer", _is_int),
    "random_seed": ("an integer or null", lambda v: v is None or _is_int(v)),
    "batch_size": ('an integer or "max"', lambda v: _is_int(v) or v == "max"),
    "learning_rate": ("a number", _is_number),
    "warmup_ratio": ("a number", _is_number),
    "max_grad_norm": ("a number", _is_number),
    "weight_decay": ("a number", _is_number),
    "packing": ("a boolean", lambda v: isinstance(v, bool)),
    "train_on_inputs": (
        'a boolean or "auto"',
        lambda v: isinstance(v, bool) or v == "auto",
    ),
    "lr_scheduler": ("an object", lambda v: isinstance(v, dict)),
    "multimodal_params": ("an object", lambda v: isinstance(v, dict)),
    "training_type": (
        'null or an object with type "Full" or "Lora"',
        lambda v: v is None or (isinstance(v, dict) and v.get("type") in ("Full", "Lora")),
    ),
    "training_method": (
        'an object with method "sft" or "dpo"',
        lambda v: isinstance(v, dict) and v.get("method") in ("sft", "dpo"),
    ),
}


def _validate_create(body: JSON) -> None:
    training_file = body.get("training_file")
    if not isinstance(training_file, str) or not training_file.startswith("file-"):
        raise _bad_request(
            "training_file is required and must be a file ID (file-...)",
            "training_file",
        )
    model = body.get("model")
    if model is None and not body.get("from_checkpoint"):
        raise _bad_request("model is required unless from_checkpoint is given", "model")
    if model is not None and (not isinstance(model, str) or not model):
        raise _bad_request("model must be a non-empty string", "model")
    for name, (expected, check) in _CREATE_TYPES.items():
        if name in body and not check(body[name]):
            raise _bad_request(f"{name} must be {expected}", name)


def _int_filter(filters: JSON, name: str) -> int | None:
    value = filters.get(name)
    if value is None or value == "":
        return None
    if _is_int(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise _bad_request(f"{name} must be an integer", name)


def _time_filter(filters: JSON, name: str) -> _dt.datetime | None:
    value = filters.get(name)
    if value is None or value == "":
        return None
    parsed = _parse_iso(value) if isinstance(value, str) else None
    if parsed is None:
        raise _bad_request(f"{name} must be an ISO-8601 date-time", name)
    return parsed
