"""The model download sub-app: ``GET /finetune/download``, optionally redirected to storage."""

from __future__ import annotations

import secrets
import threading
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from together_finetune.testing._fake.bodies import Body, BodyServer, DownloadSpec
from together_finetune.testing._fake.errors import APIError, bad_request, error_body
from together_finetune.testing._fake.exchanges import RecordedRequest
from together_finetune.testing._fake.jobs import JobStore
from together_finetune.testing._fake.routes import Routes
from together_finetune.testing._fake.storage import StorageServer
from together_finetune.testing.archive import build_model_archive

__all__ = ["Downloads"]

# "model" is the selector a checkpoint's ``checkpoint`` field names (with "adapter").
_CHECKPOINTS = (None, "", "merged", "adapter", "model", "model_output_path")


class Downloads(Routes):
    """Serves a completed job's model (a real archive) or what a test set for it."""

    def __init__(self, store: JobStore, bodies: BodyServer, storage: StorageServer) -> None:
        """Serve ``store``'s jobs through ``bodies``; redirects go to ``storage``."""
        self._store = store
        self._bodies = bodies
        self._storage = storage
        #: answer 302 to :attr:`storage` instead of serving the body
        self.redirect = False
        self._set: dict[str, list[DownloadSpec]] = {}
        self._archives: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def rules(self) -> list[Rule]:
        """The download rule."""
        return [Rule("/v1/finetune/download", methods=["GET"], endpoint="download")]

    def set(self, job_id: str, spec: DownloadSpec) -> None:
        """Serve ``spec`` for ``job_id`` (most specific match wins; later ones on ties)."""
        with self._lock:
            self._set.setdefault(job_id, []).append(spec)

    def _find(self, job_id: str, checkpoint: str | None, step: int | None) -> DownloadSpec | None:
        best: DownloadSpec | None = None
        best_score = -1
        with self._lock:
            specs = list(self._set.get(job_id, []))
        for spec in specs:
            if spec.checkpoint is not None and spec.checkpoint != checkpoint:
                continue
            if spec.step is not None and spec.step != step:
                continue
            score = (spec.checkpoint is not None) + (spec.step is not None)
            if score >= best_score:
                best, best_score = spec, score
        return best

    def _route_download(self, request: Request, recorded: RecordedRequest) -> Response:
        job_id = request.args.get("ft_id")
        if not job_id:
            raise bad_request("ft_id is required", "ft_id")
        checkpoint = request.args.get("checkpoint")
        step = _step(request.args.get("checkpoint_step"))
        if checkpoint not in _CHECKPOINTS:
            raise bad_request(f"Invalid checkpoint: {checkpoint}", "checkpoint")
        job = self._store.get(job_id)
        spec = self._find(job_id, checkpoint or None, step)
        if spec is None:
            spec = self._archive(job, checkpoint, step)
        if self.redirect:
            name = f"{job.get('model_output_name', job_id)}".replace("/", "_")
            path = f"/downloads/{secrets.token_hex(8)}/{name}.tar.zst"
            self._storage.register(path, spec)
            response = Response(b"", status=302)
            signature = secrets.token_hex(8)
            response.headers["Location"] = f"{self._storage.url}{path}?X-Fake-Signature={signature}"
            return response
        return self._bodies.serve(request, spec)

    def _archive(
        self, job: dict[str, Any], checkpoint: str | None, step: int | None
    ) -> DownloadSpec:
        """The generated archive of a completed job, or of one of its checkpoints."""
        job_id = job["id"]
        if step not in (None, 0):
            steps = [c.get("step") for c in self._store.checkpoints.get(job_id, [])]
            if step not in steps:
                raise APIError(
                    404,
                    error_body(
                        f"Checkpoint at step {step} not found for {job_id}",
                        param="checkpoint_step",
                        code="not_found",
                    ),
                )
            key = f"{job_id}:{step}"
        elif job.get("status") != "completed":
            raise bad_request(
                f"Fine-tune job {job_id} is {job.get('status')}; "
                "only completed jobs can be downloaded",
                "ft_id",
            )
        else:
            key = f"{job_id}:{checkpoint or 'merged'}"
        with self._lock:
            if key not in self._archives:
                self._archives[key] = build_model_archive(key)
            return DownloadSpec(Body(data=self._archives[key]))


def _step(text: str | None) -> int | None:
    if text in (None, ""):
        return None
    try:
        return int(str(text))
    except ValueError:
        raise bad_request("checkpoint_step must be an integer", "checkpoint_step") from None
