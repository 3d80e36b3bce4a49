"""The table of where the live API (and so the fake) departs from the official spec.

Each :class:`Waiver` names a departure and its source; :data:`EXTRA_SCHEMAS` gives the
answers of endpoints the spec lacks a schema of their own. The checker in
``conformance.py`` applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One point where an exchange departs from the spec (what waivers are matched on)."""

    #: "request" or "response"
    where: str
    #: "schema", "undeclared-property", "query", "endpoint", "media-type" or "status"
    kind: str
    #: "METHOD /template", e.g. "GET /fine-tunes/{id}"
    operation: str
    #: dotted JSON path of the offending value (property / parameter name), "" for the root
    path: str = ""
    #: the failing JSON-schema keyword ("enum", "format", "type", "required", "oneOf", ...)
    check: str = ""
    message: str = ""
    #: the request's JSON body, the offending value and the (sub)schema it failed
    body: Any = None
    instance: Any = None
    schema: Any = None


@dataclass(frozen=True)
class Waiver:
    """One documented departure of the live API (and so of the fake) from the spec.

    Every field but ``what`` and ``reason`` is a regex that must match the whole of the
    :class:`Problem`'s attribute of the same name; ``only_with`` and ``only_null_where_nullable``
    narrow it further.
    """

    what: str
    reason: str
    where: str
    kind: str
    operation: str = ".*"
    path: str = ".*"
    check: str = ".*"
    message: str = ".*"
    #: the waiver holds only for requests whose JSON body has this key
    only_with: str = ""
    #: the waiver holds only for a null value where the schema says ``nullable: true``
    only_null_where_nullable: bool = False

    def applies(self, problem: Problem) -> bool:
        """Whether this waiver covers ``problem``."""
        if self.only_with and not (
            isinstance(problem.body, dict) and self.only_with in problem.body
        ):
            return False
        if self.only_null_where_nullable and not (
            problem.instance is None
            and isinstance(problem.schema, dict)
            and problem.schema.get("nullable") is True
        ):
            return False
        return all(
            re.fullmatch(getattr(self, name), getattr(problem, name), re.DOTALL) is not None
            for name in ("where", "kind", "operation", "path", "check", "message")
        )


_JOB_OPS = r"(GET|POST) /fine-tunes(/\{id\}(/cancel)?)?"
_JOB = r"(data\.\d+\.)?"

#: The single table of what the checker accepts although the spec disagrees.
WAIVERS: tuple[Waiver, ...] = (
    Waiver(
        "event types early_stopped and tokenized_dataset_upload_complete",
        "newer than the spec: the TypeScript SDK (bc77789, 69e0336) and the official SDK "
        "together 3.1.1 know these event types (either casing); the spec's enum lacks them",
        where="response",
        kind="schema",
        operation=r"GET /fine-tunes/\{id\}(/events)?",
        path=r"(events|data)\.\d+\.type",
        check="enum",
        message=r"'(?i:early_stopped|tokenized_dataset_upload_complete)' is not one of .*",
    ),
    Waiver(
        "FineTuneEvent type/level casing, null and empty level",
        "the API sends event types and levels in either casing (JOB_PENDING and "
        "job_pending, Info and info) and 'level' may be null or ''; the spec lists one casing",
        where="response",
        kind="schema",
        operation=r"GET /fine-tunes/\{id\}(/events)?",
        path=r"(events|data)\.\d+\.(type|level)",
        check="enum|oneOf|anyOf|type",
    ),
    Waiver(
        "legacy empty lr_scheduler",
        "legacy jobs send {'lr_scheduler_type': '', 'lr_scheduler_args': null}",
        where="response",
        kind="schema",
        operation=_JOB_OPS,
        path=_JOB + r"lr_scheduler\.lr_scheduler_(type|args)",
        check="enum|oneOf|anyOf|type",
        message=r"('' is not one of|None is not) .*",
    ),
    Waiver(
        "null training_type on a job",
        "training_type is nullable on jobs (null/absent means LoRA; "
        "from_checkpoint jobs inherit the parent's); the response schema has no null branch",
        where="response",
        kind="schema",
        operation=_JOB_OPS,
        path=_JOB + "training_type",
        check="type|oneOf|anyOf",
        message="None is .*",
    ),
    Waiver(
        "job status user_error",
        "'user_error' is a terminal status the SDKs know and the API sends; the spec's "
        "status enum lacks it",
        where="response",
        kind="schema",
        operation=_JOB_OPS,
        path=_JOB + "status",
        check="enum",
    ),
    Waiver(
        "job id format",
        "FinetuneResponse.id is declared format: uuid, but every id is 'ft-...'",
        where="response",
        kind="schema",
        operation=_JOB_OPS,
        path=_JOB + "id",
        check="format",
    ),
    Waiver(
        "wandb_key instead of wandb_api_key",
        "both official Python SDKs send the W&B key as 'wandb_key' (the spec says "
        "'wandb_api_key'); the live API accepts it",
        where="request",
        kind="undeclared-property",
        operation=r"POST /fine-tunes",
        path="wandb_key",
    ),
    Waiver(
        "train_on_inputs 'auto'",
        "spec authoring bug: 'type: boolean' next to 'oneOf: [boolean, enum [auto]]' "
        "rejects the documented default 'auto'",
        where="request|response",
        kind="schema",
        operation=r"POST /fine-tunes(/estimate-price)?|" + _JOB_OPS,
        path=_JOB + r"(training_method\.)?train_on_inputs",
        check="type",
        message="'auto' is not of type 'boolean'",
    ),
    Waiver(
        "download redirect to object storage",
        "the download endpoint may answer with "
        "a redirect to a presigned object-storage URL; the spec declares only 200, 400, 404",
        where="response",
        kind="status",
        operation=r"GET /finetune/download",
        message=r"30[1278]",
    ),
    Waiver(
        "error answers the spec does not declare",
        "ErrorData is the API-wide error shape but the spec declares it on a few "
        "operations only; an undeclared 4xx/5xx is checked against ErrorData instead",
        where="response",
        kind="status",
        message=r"[45]\d\d",
    ),
    Waiver(
        "nullable: true in an OpenAPI 3.1 document",
        "the spec marks fields such as random_seed and training_type "
        "'nullable: true', an OpenAPI 3.0 keyword 3.1 ignores; the API sends null there",
        where="request|response",
        kind="schema",
        check="type|oneOf|anyOf",
        only_null_where_nullable=True,
    ),
    Waiver(
        "lr_scheduler_args oneOf is ambiguous",
        "spec authoring bug: cosine arguments {min_lr_ratio, num_cycles} also match "
        "LinearLRSchedulerArgs (no additionalProperties: false), so 'oneOf' fails for every "
        "cosine scheduler; lr_scheduler_type is the discriminator",
        where="request|response",
        kind="schema",
        operation=r"POST /fine-tunes|" + _JOB_OPS,
        path=_JOB + r"lr_scheduler\.lr_scheduler_args",
        check="oneOf",
        message=".* is valid under each of .*",
    ),
    Waiver(
        "model optional when continuing from a checkpoint",
        "the spec requires 'model' on POST /fine-tunes, but a job continuing "
        "'from_checkpoint' takes its model from the checkpoint (the SDKs omit it)",
        where="request",
        kind="schema",
        operation=r"POST /fine-tunes",
        path="model",
        check="required",
        only_with="from_checkpoint",
    ),
    Waiver(
        "metrics filters as query parameters",
        "the spec puts the metrics filters in a GET body; the API and the TypeScript "
        "SDK send them as query parameters (global_step_from/to, logged_at_from/to)",
        where="request",
        kind="query",
        operation=r"GET /fine-tunes/\{id\}/metrics",
        path=r"global_step_from|global_step_to|logged_at_from|logged_at_to",
    ),
    Waiver(
        "download content type",
        "the spec declares application/octet-stream; the API serves "
        "the archive as application/zstd or (legacy .tar.gz) application/x-tar / gzip, and "
        "the SDKs branch on it",
        where="response",
        kind="media-type",
        operation=r"GET /finetune/download",
        message=r"application/(x-tar|zstd|x-zstd|gzip|x-gzip)",
    ),
    Waiver(
        "download resumes with 206 Partial Content",
        "the API (and the storage it redirects to) honour Range requests -- "
        "both Python SDKs probe with 'Range: bytes=0-1' -- but the spec declares only 200; "
        "file contents are served the same way",
        where="response",
        kind="status",
        operation=r"GET /finetune/download|GET /files/\{id\}/content",
        message="206",
    ),
    Waiver(
        "create fields newer than the spec: early stopping, gradient accumulation",
        "the TypeScript SDK (bc77789, 2026-06-19) and the official SDK together 3.1.1 send "
        "early_stopping_enabled/_patience/_min_delta/_warmup_evals and "
        "gradient_accumulation_steps on POST /fine-tunes; the April 2026 spec lacks them",
        where="request",
        kind="undeclared-property",
        operation=r"POST /fine-tunes",
        path=r"gradient_accumulation_steps|early_stopping_(enabled|patience|min_delta|warmup_evals)",
    ),
    Waiver(
        "download checkpoint selector 'model'",
        "newer than the spec: a checkpoint's 'checkpoint' field ('model' or 'adapter', "
        "TypeScript SDK 6d40fa4, together 3.1.1) is the selector to pass to the download "
        "endpoint; the spec's enum for 'checkpoint' lacks 'model'",
        where="request",
        kind="schema",
        operation=r"GET /finetune/download",
        path="(checkpoint)?",
        check="enum",
        message="'model' is not one of .*",
    ),
    Waiver(
        "metrics resolution query parameter",
        "newer than the spec: the TypeScript SDK (08c66e8, 2026-05-12) and together 3.1.1 "
        "send 'resolution' (the number of uniformly sampled train points) as a query parameter",
        where="request",
        kind="query",
        operation=r"GET /fine-tunes/\{id\}/metrics",
        path="resolution",
    ),
    Waiver(
        "endpoints the spec lacks: tokenization preview and tokenized dataset",
        "newer than the spec: POST /fine-tunes/preview (TypeScript SDK 052cc2b, 2026-07-22) "
        "and GET /fine-tunes/{id}/download-tokenized-dataset (69e0336, 2026-08-03), both "
        "called by together 3.1.1; their answers are checked against EXTRA_SCHEMAS instead",
        where="request",
        kind="endpoint",
        operation=r"POST /fine-tunes/preview|GET /fine-tunes/[^/{}]+/download-tokenized-dataset",
    ),
    Waiver(
        "endpoints the spec lacks: file upload flow",
        "the official SDK uploads with POST /files (form fields, 302 to storage), "
        "POST /files/{id}/preprocess and POST /files/multipart/{initiate,complete,abort}; "
        "the spec documents only POST /files/upload",
        where="request",
        kind="endpoint",
        operation=r"POST /files(/[^/]+/preprocess|/multipart/(initiate|complete|abort))?",
    ),
    Waiver(
        "endpoints the spec lacks: who the caller is",
        "GET /v3/whoami (outside /v1) is called by together 3.1.1's CLI before every command "
        "to find the key's project; its answer is checked against EXTRA_SCHEMAS instead",
        where="request",
        kind="endpoint",
        operation=r"GET /v3/whoami",
    ),
)


def _object(required: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": sorted(required), "properties": required}


_INTS = {"type": "array", "items": {"type": "integer"}}

#: Schemas of the answers of waived endpoints (from the TypeScript SDK's
#: FineTunePreviewResponse and its tokenized-dataset answer), by
#: (method, path regex). Every field listed is required, as there.
EXTRA_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/fine-tunes/preview"): _object(
        {
            "dataset_format": {"enum": ["general", "conversation", "instruction"]},
            "max_seq_length": {"type": "integer"},
            "model": {"type": "string"},
            "train_on_inputs": {"type": "boolean"},
            "rows": {
                "type": "array",
                "items": _object(
                    {
                        "input_ids": _INTS,
                        "labels": _INTS,
                        "num_tokens": {"type": "integer"},
                        "num_trained_tokens": {"type": "integer"},
                        "tokens": {"type": "array", "items": {"type": "string"}},
                        "trained_spans": {
                            "type": "array",
                            "items": {**_INTS, "minItems": 2, "maxItems": 2},
                        },
                        "truncated": {"type": "boolean"},
                    }
                ),
            },
        }
    ),
    # The official SDK's WhoamiProjectAPIKey (together 3.1.1, types/whoami_*.py).
    ("GET", "/v3/whoami"): _object(
        {
            "type": {"enum": ["project_api_key"]},
            "api_key": _object({"id": {"type": "string"}}),
            "organization": _object({"id": {"type": "string"}, "name": {"type": "string"}}),
            "project": _object(
                {"id": {"type": "string"}, "name": {"type": "string"}, "slug": {"type": "string"}}
            ),
        }
    ),
    ("GET", "/fine-tunes/[^/]+/download-tokenized-dataset"): _object(
        {
            "content_type": {"type": "string"},
            "expires_at": {"type": "string", "format": "date-time"},
            "filename": {"type": "string"},
            "size": {"type": "integer"},
            "url": {"type": "string"},
        }
    ),
}
