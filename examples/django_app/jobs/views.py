"""The jobs as JSON."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from together_finetune import FineTune, TogetherError

from .together import client


def job_json(job: FineTune) -> dict[str, Any]:
    """The fields of a job this app shows."""
    return {
        "id": job.id,
        "status": job.status.value,
        "model": job.model,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "done": job.is_terminal,
        "model_output_name": job.model_output_name,
    }


@require_GET
def job_list(request: HttpRequest) -> JsonResponse:
    """``GET /jobs/``: every fine-tuning job of the account; 502 when the API fails."""
    try:
        jobs = client.fine_tunes.list()
    except TogetherError as exc:
        return JsonResponse({"error": str(exc)}, status=502)
    return JsonResponse({"jobs": [job_json(job) for job in jobs]})
