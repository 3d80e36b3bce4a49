"""Testing support: a faithful fake of Together AI's fine-tuning API, served over real HTTP.

Point any client (this library's, the official SDK, ``curl``) at a :class:`FakeTogether`
and drive it from the test::

    from together_finetune.testing import FakeTogether

    with FakeTogether() as fake:
        # fake.base_url -> "http://127.0.0.1:PORT/v1", fake.api_key -> "fake-..."
        job = fake.add_job(status="running")
        fake.advance(job["id"], steps=3)           # ... -> completed
        fake.fail_next("GET", "/fine-tunes/*", 503)  # inject a fault
        assert fake.requests_to("GET", "/fine-tunes")  # inspect the traffic

The JSON is built from the wire reference (OpenAPI spec plus what the live API sends), not
from this library's models, so the fake referees the client. With pytest, the
``fake_together`` fixture (``together_finetune.testing.pytest_plugin``) yields a started
fake. ``python -m together_finetune.testing`` runs one standalone.
"""

from __future__ import annotations

from together_finetune.testing.archive import (
    build_model_archive,
    hostile_archive,
    model_archive_files,
    synthetic_bytes,
)
from together_finetune.testing.server import (
    FakeTogether,
    ManualClock,
    RecordedRequest,
    StorageServer,
)

__all__ = [
    "FakeTogether",
    "ManualClock",
    "RecordedRequest",
    "StorageServer",
    "build_model_archive",
    "hostile_archive",
    "model_archive_files",
    "synthetic_bytes",
]
