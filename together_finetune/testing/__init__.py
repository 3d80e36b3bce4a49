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

The JSON follows the OpenAPI spec (vendored in ``tests/spec/``) plus what the live API is
known to send, not this library's models, so the fake referees the client. With pytest,
the ``fake_together`` fixture (``together_finetune.testing.pytest_plugin``) yields a started
fake. ``python -m together_finetune.testing`` runs one standalone.
``FakeTogether(tls=True)`` serves HTTPS, with a CA made for the fake whose certificate is
in ``fake.ca_bundle`` (``Client(verify=fake.ca_bundle)``).

To check the traffic of every fake a test suite starts (not only the ones it builds
itself), register an observer once, e.g. from a pytest plugin::

    from together_finetune.testing import observe_exchanges

    unregister = observe_exchanges(lambda request, status, headers, body: ...)

Every :class:`FakeTogether` built afterwards hands it each answer it produces.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from together_finetune.testing._fake.clock import ManualClock
    from together_finetune.testing._fake.exchanges import RecordedRequest, observe_exchanges
    from together_finetune.testing._fake.storage import StorageServer
    from together_finetune.testing.archive import (
        build_model_archive,
        build_tokenized_archive,
        hostile_archive,
        model_archive_files,
        synthetic_bytes,
    )
    from together_finetune.testing.server import FakeTogether

# Loaded on first use: the pytest plugin imports this package at pytest start-up,
# and werkzeug should only be imported by tests that use the fake (``_fake.exchanges``
# and ``_fake.clock`` import no werkzeug).
_EXPORTS = {
    "FakeTogether": "server",
    "ManualClock": "_fake.clock",
    "RecordedRequest": "_fake.exchanges",
    "StorageServer": "_fake.storage",
    "observe_exchanges": "_fake.exchanges",
    "build_model_archive": "archive",
    "build_tokenized_archive": "archive",
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
    "build_tokenized_archive",
    "hostile_archive",
    "model_archive_files",
    "observe_exchanges",
    "synthetic_bytes",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value
