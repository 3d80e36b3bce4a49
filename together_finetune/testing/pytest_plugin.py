"""pytest plugin: the ``fake_together`` fixture.

Registered through the ``pytest11`` entry point ``together_finetune``; or add
``pytest_plugins = ["together_finetune.testing.pytest_plugin"]`` to a root ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from together_finetune.testing.server import FakeTogether

__all__ = ["fake_together"]


@pytest.fixture
def fake_together() -> Iterator[FakeTogether]:
    """Yield a started :class:`FakeTogether` (fresh per test); it is stopped afterwards."""
    with FakeTogether() as fake:
        yield fake
