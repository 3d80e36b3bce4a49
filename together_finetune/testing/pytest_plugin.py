"""pytest plugin: the ``fake_together`` fixture.

Registered through the ``pytest11`` entry point ``together_finetune``; or add
``pytest_plugins = ["together_finetune.testing.pytest_plugin"]`` to a root ``conftest.py``.
The fake server (and werkzeug, from the ``testing`` extra) is imported only when a
test asks for the fixture, so installing the library without the extra never breaks
a pytest run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from together_finetune.testing.server import FakeTogether

__all__ = ["fake_together"]


@pytest.fixture
def fake_together() -> Iterator[FakeTogether]:
    """Yield a started :class:`FakeTogether` (fresh per test); it is stopped afterwards."""
    from together_finetune.testing.server import FakeTogether

    with FakeTogether() as fake:
        yield fake
