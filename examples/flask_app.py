"""A Flask app that starts fine-tuning jobs and shows their status.

One :class:`Client` is shared by every request and thread of the app: it is
thread-safe, pools its connections, and opens new ones after a ``fork``
(gunicorn ``--preload``). Run it with::

    TOGETHER_API_KEY=... flask --app examples.flask_app run
"""

from __future__ import annotations

from typing import Any, Optional

from flask import Flask, jsonify, request

from together_finetune import Client, NotFoundError, TogetherError


def create_app(client: Optional[Client] = None) -> Flask:
    """Build the app around one shared client (by default configured from the environment)."""
    app = Flask(__name__)
    shared = client or Client()

    @app.post("/jobs")
    def start_job() -> Any:
        payload = request.get_json(force=True) or {}
        try:
            job = shared.fine_tunes.create(
                training_file=payload.get("training_file", ""),
                model=payload.get("model"),
                n_epochs=payload.get("n_epochs"),
            )
        except ValueError as exc:  # rejected before anything was sent
            return jsonify(error=str(exc)), 400
        except TogetherError as exc:
            return jsonify(error=str(exc)), 502
        return jsonify(id=job.id, status=job.status.value), 201

    @app.get("/jobs/<job_id>")
    def job_status(job_id: str) -> Any:
        try:
            job = shared.fine_tunes.retrieve(job_id)
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        except NotFoundError:
            return jsonify(error=f"no job {job_id}"), 404
        return jsonify(
            id=job.id,
            status=job.status.value,
            done=job.is_terminal,
            model_output_name=job.model_output_name,
        )

    return app


if __name__ == "__main__":  # pragma: no cover
    create_app().run()
