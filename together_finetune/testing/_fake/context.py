"""What the sub-apps of one fake share, handed to each instead of the facade."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["FakeContext"]


@dataclass
class FakeContext:
    """The settings and the lock the sub-apps of one :class:`FakeTogether` share."""

    #: the only bearer token the API accepts
    api_key: str
    #: time source of the ``step_seconds`` lifecycle
    clock: Callable[[], float]
    #: ``None``: jobs move only when advanced; otherwise one status step per this many seconds
    step_seconds: float | None
    #: guards the job and download state (one request is handled at a time under it)
    lock: threading.RLock = field(default_factory=threading.RLock)
