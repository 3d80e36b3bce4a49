"""pytest plugin: check the traffic of the test suite against Together's official OpenAPI spec.

Every exchange of every :class:`~together_finetune.testing.FakeTogether` a test starts (the
``server`` fixture's, and the ones tests build themselves) is handed to :class:`SpecChecker`
through :func:`together_finetune.testing.observe_exchanges`; it validates with openapi-core:

* the request: path and method (the operation must exist), query parameters (declared
  ones are validated; undeclared ones are violations too), the security header, and the
  JSON body (schema, plus: no property the spec does not declare, so a misspelt field
  cannot slip through a lenient schema);
* the response: status, content type and the JSON body against the operation's schema.

Only exchanges the fake answered with 2xx are checked. Tests that send deliberately bad
traffic (fault injection, wrong keys, malformed bodies, raw requests) get 4xx/5xx answers
and are thereby exempt; injected faults never reach the observer at all. A client request
that is wrong *and* accepted by the lenient fake is exactly what this check catches.
A test that makes the fake *accept* non-conforming traffic on purpose (e.g. a 200 with a
malformed job body) opts out with ``@pytest.mark.usefixtures("spec_nonconforming")``, or
takes the violations away with :meth:`SpecChecker.take_violations`.

The API's documented departures from its own spec are the :data:`WAIVERS` table, each with
its reason. Nothing else is waived.

The spec is the copy vendored in ``tests/spec/openapi.yaml`` (MIT, its ``LICENSE`` beside
it); the ``TOGETHER_OPENAPI_SPEC`` environment variable may name another. Without openapi-core
(Python 3.9) the check is off and ``test_conformance.py`` skips with the reason -- except
under ``CI=true``, where that fails, unless the interpreter is older than 3.10: there the
skip is expected and carries the fixed reason :data:`NEEDS_PYTHON_310`, which ``.ci/run``
counts (``.ci/skips.py``) so that no other test skips silently.

``tests/conftest.py`` registers this module with ``pytest_plugins = ["support.conformance"]``.
It then provides the autouse fixture ``spec_conformance_check``, which fails every test whose
exchanges broke the spec, and the opt-out fixture ``spec_nonconforming``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from support.waivers import EXTRA_SCHEMAS, WAIVERS, Problem, Waiver

REPO_ROOT = Path(__file__).resolve().parents[2]
#: the official spec, vendored with its license notice (tests/spec/LICENSE)
VENDORED_SPEC = REPO_ROOT / "tests" / "spec" / "openapi.yaml"
SPEC_ENV = "TOGETHER_OPENAPI_SPEC"
#: the spec's ``servers[0].url``; recorded paths ``/v1/...`` are validated against it
SPEC_HOST = "https://api.together.ai"
SPEC_PREFIX = "/v1"


@dataclass
class Exchange:
    """What the checker saw of one exchange."""

    method: str
    #: the spec's path template, e.g. "/fine-tunes/{id}" ("" when the spec has none)
    operation: str
    status: int
    request_checked: bool = False
    response_checked: bool = False
    waived: list[str] = field(default_factory=list)
    #: the request's JSON body (``None`` when it has none)
    body: Any = None


def spec_path() -> Path:
    """The spec: ``$TOGETHER_OPENAPI_SPEC``, else the vendored ``tests/spec/openapi.yaml``."""
    configured = os.environ.get(SPEC_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return VENDORED_SPEC


def in_ci() -> bool:
    """True under the CI runner (``CI=true``), where a missing spec is an error."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


NEEDS_PYTHON_310 = "spec conformance: openapi-core 0.23 needs Python 3.10 or newer"
"""The one skip reason CI accepts, and only on Python 3.9."""


def missing_reason() -> Optional[str]:
    """Why the check cannot run, or ``None`` when the spec and the validator are there."""
    path = spec_path()
    if not path.is_file():
        return f"OpenAPI spec not found at {path} (set {SPEC_ENV} to its path)"
    try:
        from openapi_core import OpenAPI
    except ImportError:
        return "openapi-core is not installed (the dev extra installs it on Python 3.10+)"
    if not hasattr(OpenAPI, "iter_request_errors"):
        # openapi-core 0.23 needs Python 3.10; older releases lack the error iterators.
        return "the installed openapi-core is older than 0.23 (needs Python 3.10 or newer)"
    return None


def _before_310() -> bool:
    return sys.version_info < (3, 10)


def require_spec() -> None:
    """Skip the calling test when the spec is absent (fail instead under CI=true)."""
    reason = missing_reason()
    if reason is None:
        return
    if _before_310() and spec_path().is_file():
        pytest.skip(NEEDS_PYTHON_310)  # expected, and counted by .ci/skips.py
    if in_ci():
        pytest.fail(f"{reason}; CI=true requires the spec conformance checks to run")
    pytest.skip(reason)


_LOAD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load(path: str) -> tuple[Any, dict[str, Any]]:
    import yaml
    from openapi_core import OpenAPI
    from openapi_core.app import Config

    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    # The spec does not pass openapi-spec-validator itself (train_on_inputs declares
    # 'type: boolean' with the default 'auto'), so the spec check is off; the traffic
    # checks below are unaffected.
    api = OpenAPI.from_dict(raw, config=Config(spec_validator_cls=None))
    return api, raw


def load_spec() -> tuple[Any, dict[str, Any]]:
    """The openapi-core app and the raw spec dict, loaded once per process."""
    with _LOAD_LOCK:
        return _load(str(spec_path()))


# ----------------------------------------------------------------------------- adapters


class _Request:
    """openapi-core's Request protocol over a recorded request."""

    def __init__(self, method: str, path: str, query: Mapping[str, str], headers: Any, body: bytes):
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = SPEC_HOST
        self.path = path
        self.method = method.lower()
        self.body = body or None
        self.content_type = (
            Headers(headers).get("Content-Type") or "application/octet-stream"
        ).lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(query.items())),
            header=Headers(headers),
            cookie=ImmutableMultiDict(),
        )


class _Response:
    """openapi-core's Response protocol over a recorded response."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes):
        from werkzeug.datastructures import Headers

        self.status_code = status
        self.headers = Headers(list(headers.items()))
        self.data = body
        self.content_type = (self.headers.get("Content-Type") or "").lower()


# ----------------------------------------------------------------------------- checker


def _dotted(parts: Any) -> str:
    return ".".join(str(part) for part in parts)


def _error_path(error: Any) -> str:
    """The dotted path of a jsonschema error; a missing property is named itself."""
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return _dotted([*error.absolute_path, *missing])
    return _dotted(error.absolute_path)


class SpecChecker:
    """Validates exchanges against the spec; collects violations instead of raising."""

    def __init__(self, waivers: tuple[Waiver, ...] = WAIVERS) -> None:
        """Create a checker that honours ``waivers``."""
        self.waivers = waivers
        self._lock = threading.Lock()
        self._violations: list[str] = []
        #: every exchange checked so far (for the tests that prove the check runs)
        self.exchanges: list[Exchange] = []
        self.waivers_used: set[str] = set()

    # -- results ----------------------------------------------------------------------

    def take_violations(self) -> list[str]:
        """Return the violations collected so far and forget them."""
        with self._lock:
            found, self._violations = self._violations, []
            return found

    def _report(self, text: str) -> None:
        with self._lock:
            self._violations.append(text)

    def _waived(self, exchange: Exchange, where: str, kind: str, **details: Any) -> bool:
        problem = Problem(
            where,
            kind,
            f"{exchange.method} {exchange.operation}",
            body=exchange.body,
            **details,
        )
        for waiver in self.waivers:
            if waiver.applies(problem):
                with self._lock:
                    self.waivers_used.add(waiver.what)
                exchange.waived.append(waiver.what)
                return True
        return False

    # -- the observer -----------------------------------------------------------------

    def __call__(self, request: Any, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """The ``on_exchange`` observer: check one exchange (never raises).

        Every answer the fake produces is checked (error answers against the status the
        spec declares, or else against the API-wide ErrorData). Requests are checked
        when they got a 2xx, and always when this library sent them (its User-Agent
        says so): other failed requests are a test's deliberate mistakes.
        """
        if missing_reason() is not None:
            return
        ok = 200 <= status < 300
        ours = (request.header("User-Agent") or "").startswith("together-finetune/")
        try:
            self.check(request, status, headers, body, request_too=ok or ours)
        except Exception as error:  # a checker bug must not pass silently
            self._report(f"{request.method} {request.path}: checker error {error!r}")

    def check(
        self,
        request: Any,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        request_too: bool = True,
    ) -> None:
        """Validate one exchange; violations are collected (see :meth:`take_violations`)."""
        api, raw = load_spec()
        path = request.path
        local = path[len(SPEC_PREFIX) :] if path.startswith(SPEC_PREFIX + "/") else path
        template, operation = _find_operation(raw, request.method, local)
        # With no operation, waivers match the literal path (a template could hide a typo).
        named = template if operation is not None else local
        exchange = Exchange(request.method, named, status, body=request.json())
        with self._lock:
            self.exchanges.append(exchange)
        label = f"{request.method} {path} -> {status}"
        if operation is None:
            if status >= 400 and not request_too:  # a deliberately wrong path or method
                problems = self._check_error_body(raw, status, body, exchange)
            elif self._waived(exchange, "request", "endpoint"):
                problems = self._check_extra(raw, request.method, local, status, body, exchange)
            else:
                problems = ["no such operation in the spec"]
            for problem in problems:
                self._report(f"{label}: {problem}")
            return
        problems = (
            self._check_request(api, raw, request, operation, exchange) if request_too else []
        )
        responses = operation.get("responses", {})
        if 300 <= status < 400:
            # A redirect carries no body to check; only a documented one is accepted.
            if not self._waived(exchange, "response", "status", message=str(status)):
                problems.append(f"response status {status} is not declared by the spec")
        elif status >= 400 and str(status) not in responses and "default" not in responses:
            if self._waived(exchange, "response", "status", message=str(status)):
                problems += self._check_error_body(raw, status, body, exchange)
            else:
                problems.append(f"response status {status} is not declared by the spec")
        else:
            problems += self._check_response(
                api, raw, operation, request, status, headers, body, exchange
            )
        for problem in problems:
            self._report(f"{label}: {problem}")

    def _check_extra(
        self, raw: dict[str, Any], method: str, path: str, status: int, body: bytes, ex: Exchange
    ) -> list[str]:
        """Check an answer of a waived endpoint against :data:`EXTRA_SCHEMAS` (or ErrorData)."""
        from openapi_schema_validator import OAS31Validator

        if status >= 400:
            return self._check_error_body(raw, status, body, ex)
        schema = next(
            (s for (m, p), s in EXTRA_SCHEMAS.items() if m == method and re.fullmatch(p, path)),
            None,
        )
        if schema is None:
            return []
        ex.response_checked = True
        try:
            decoded = json.loads(body)
        except ValueError:
            return [f"response {status} is not JSON"]
        return [
            f"response {_error_path(error) or '$'}: {error.message}"
            for error in OAS31Validator(schema).iter_errors(decoded)
        ]

    def _check_request(
        self, api: Any, raw: dict[str, Any], request: Any, operation: dict[str, Any], ex: Exchange
    ) -> list[str]:
        problems: list[str] = []
        declared = {
            p["name"]
            for p in (_resolve(raw, p) for p in operation.get("parameters", []))
            if p.get("in") == "query"
        }
        for name in request.query:
            if name not in declared and not self._waived(ex, "request", "query", path=name):
                problems.append(f"query parameter {name!r} is not declared by the spec")
        query = {k: v for k, v in request.query.items() if k in declared}
        errors = api.iter_request_errors(
            _Request(request.method, request.path, query, request.headers, request.body)
        )
        problems += self._explain(list(errors), "request", ex)
        data = request.json()
        schema = _request_schema(raw, operation)
        if schema is not None and data is not None:
            for name in _undeclared(raw, data, schema, ()):
                if not self._waived(ex, "request", "undeclared-property", path=name):
                    problems.append(f"request body property {name!r} is not in the spec")
        ex.request_checked = True
        return problems

    def _check_response(
        self,
        api: Any,
        raw: dict[str, Any],
        operation: dict[str, Any],
        request: Any,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        ex: Exchange,
    ) -> list[str]:
        content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        if not body and "json" not in content_type:
            # Binary download bodies reach the observer as b"": check status and media type.
            return self._check_binary_response(raw, operation, status, content_type, ex)
        errors = api.iter_response_errors(
            _Request(request.method, request.path, request.query, request.headers, request.body),
            _Response(status, headers, body),
        )
        ex.response_checked = True
        return self._explain(list(errors), "response", ex)

    def _check_error_body(
        self, raw: dict[str, Any], status: int, body: bytes, ex: Exchange
    ) -> list[str]:
        """Check an error answer against the spec's ErrorData schema."""
        from openapi_schema_validator import OAS31Validator

        ex.response_checked = True
        try:
            decoded = json.loads(body)
        except ValueError:
            return [f"error response {status} is not JSON"]
        schema = raw["components"]["schemas"]["ErrorData"]
        return [
            f"response {_error_path(error) or '$'}: {error.message}"
            for error in OAS31Validator(schema).iter_errors(decoded)
            if not self._schema_error_waived(error, "response", ex)
        ]

    def _check_binary_response(
        self,
        raw: dict[str, Any],
        operation: dict[str, Any],
        status: int,
        content_type: str,
        ex: Exchange,
    ) -> list[str]:
        ex.response_checked = True
        responses = operation.get("responses", {})
        declared = _resolve(raw, responses.get(str(status), responses.get("default")))
        if not isinstance(declared, dict):
            if self._waived(ex, "response", "status", message=str(status)):
                declared = responses.get("200", {})
            else:
                return [f"response status {status} is not declared by the spec"]
        media = content_type.split(";")[0].strip().lower()
        types = set(declared.get("content", {}))
        if media in types or self._waived(ex, "response", "media-type", message=media):
            return []
        return [f"response content type {media!r} is not one of {sorted(types)}"]

    def _explain(self, errors: list[Exception], where: str, ex: Exchange) -> list[str]:
        from openapi_core.templating.media_types.exceptions import MediaTypeNotFound

        problems: list[str] = []
        for error in errors:
            cause = error.__cause__
            schema_errors = getattr(cause, "schema_errors", None)
            if schema_errors:
                for schema_error in schema_errors:
                    if not self._schema_error_waived(schema_error, where, ex):
                        problems.append(
                            f"{where} {_error_path(schema_error) or '$'}: {schema_error.message}"
                        )
                continue
            if isinstance(error, MediaTypeNotFound) or isinstance(cause, MediaTypeNotFound):
                found = getattr(error, "mimetype", None) or getattr(cause, "mimetype", "")
                if self._waived(ex, where, "media-type", message=str(found)):
                    continue
            problems.append(f"{where}: {type(error).__name__}: {error} {cause or ''}".strip())
        return problems

    def _schema_error_waived(self, error: Any, where: str, ex: Exchange) -> bool:
        """Waived itself, or a oneOf/anyOf of which some branch fails only on waived points."""
        path = _error_path(error)
        if self._waived(
            ex,
            where,
            "schema",
            path=path,
            check=str(error.validator),
            message=str(error.message),
            instance=error.instance,
            schema=error.schema,
        ):
            return True
        if error.validator in ("oneOf", "anyOf") and error.context:
            branches: dict[Any, list[Any]] = {}
            for sub in error.context:
                branches.setdefault(sub.schema_path[0], []).append(sub)
            return any(
                all(self._schema_error_waived(sub, where, ex) for sub in subs)
                for subs in branches.values()
            )
        return False


# ----------------------------------------------------------------------------- spec walking


def _resolve(raw: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref}")
        target: Any = raw
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@functools.lru_cache(maxsize=256)
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _find_operation(
    raw: dict[str, Any], method: str, path: str
) -> tuple[str, Optional[dict[str, Any]]]:
    """The spec's template and operation for ``method path`` (literal templates win)."""
    candidates = [t for t in raw.get("paths", {}) if _template_regex(t).fullmatch(path)]
    candidates.sort(key=lambda t: (t.count("{"), -len(t)))
    for template in candidates:
        operation = raw["paths"][template].get(method.lower())
        if operation is not None:
            params = list(raw["paths"][template].get("parameters", []))
            return template, {**operation, "parameters": params + operation.get("parameters", [])}
    return (candidates[0] if candidates else ""), None


def _request_schema(raw: dict[str, Any], operation: dict[str, Any]) -> Optional[dict[str, Any]]:
    body = _resolve(raw, operation.get("requestBody"))
    if not isinstance(body, dict):
        return None
    media = body.get("content", {}).get("application/json")
    return None if media is None else _resolve(raw, media.get("schema"))


def _undeclared(raw: dict[str, Any], value: Any, schema: Any, at: tuple[str, ...]) -> list[str]:
    """Dotted paths of object properties in ``value`` that ``schema`` nowhere declares."""
    schema = _resolve(raw, schema)
    if not isinstance(schema, dict):
        return []
    if isinstance(value, list):
        items = schema.get("items")
        return [p for i, v in enumerate(value) for p in _undeclared(raw, v, items, (*at, str(i)))]
    if not isinstance(value, dict):
        return []
    branches = [schema] + [
        _resolve(raw, s) for key in ("oneOf", "anyOf", "allOf") for s in schema.get(key, [])
    ]
    properties: dict[str, Any] = {}
    open_ended = False
    for branch in branches:
        if isinstance(branch, dict):
            properties.update(branch.get("properties", {}))
            open_ended = open_ended or branch.get("additionalProperties") not in (None, False)
    open_ended = open_ended or not properties  # a free-form object
    found: list[str] = []
    for key, item in value.items():
        if key in properties:
            found += _undeclared(raw, item, properties[key], (*at, key))
        elif not open_ended:
            found.append(".".join((*at, key)))
    return found


# ----------------------------------------------------------------------------- pytest glue

_CHECKER: Optional[SpecChecker] = None
_UNREGISTER = pytest.StashKey[Callable[[], None]]()


def checker() -> SpecChecker:
    """The process-wide checker the observer feeds."""
    global _CHECKER
    if _CHECKER is None:
        _CHECKER = SpecChecker()
    return _CHECKER


def pytest_configure(config: pytest.Config) -> None:
    """Hand every exchange of every fake built from now on to the checker."""
    from together_finetune.testing import observe_exchanges

    config.stash[_UNREGISTER] = observe_exchanges(checker())


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop observing (fakes built later, e.g. by an outer pytest run, are not checked)."""
    unregister = config.stash.get(_UNREGISTER, None)
    if unregister is not None:
        unregister()


@pytest.fixture(autouse=True)
def spec_conformance_check(request: pytest.FixtureRequest) -> Iterator[SpecChecker]:
    """Fail the test if any exchange of any fake during it broke the spec (all listed)."""
    instance = checker()
    instance.take_violations()  # anything left over belongs to no test
    yield instance
    violations = instance.take_violations()
    if violations and "spec_nonconforming" not in request.fixturenames:
        pytest.fail(
            "requests or responses that break the OpenAPI spec "
            f"({spec_path()}; waivers in tests/support/waivers.py):\n  " + "\n  ".join(violations),
            pytrace=False,
        )


@pytest.fixture
def spec_nonconforming() -> None:
    """Opt a test out of the spec check (it serves malformed 2xx bodies on purpose)."""


def exchanges_since(mark: int) -> list[Exchange]:
    """The exchanges checked after ``len(checker().exchanges) == mark``."""
    return checker().exchanges[mark:]


def dump(value: Any) -> bytes:
    """JSON-encode ``value`` (for hand-made exchanges in tests)."""
    return json.dumps(value).encode()
