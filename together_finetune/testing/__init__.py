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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Loaded on first use: the pytest plugin imports this package at pytest start-up,
# and werkzeug should only be imported by tests that use the fake.
_EXPORTS = {
    "FakeTogether": "server",
    "ManualClock": "server",
    "RecordedRequest": "server",
    "StorageServer": "server",
    "build_model_archive": "archive",
    "hostile_archive": "archive",
    "model_archive_files": "archive",
    "synthetic_bytes": "archive",
}

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


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value
