"""What the sub-apps of one fake share, handed to each instead of the facade."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["FUTURE_FIELD", "FUTURE_VALUE", "FakeContext"]

#: the key :attr:`FakeContext.add_unknown_fields` adds to every object the API serves
FUTURE_FIELD = "future_field"
#: its value: nested, so a client must keep any JSON, not only scalars
FUTURE_VALUE: dict[str, Any] = {"since": "2027-01", "values": [1, 2.5, None], "ok": True}


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
    #: events carry the ``legacy_info`` / ``legacy_iwarning`` / ``legacy_ierror`` levels
    legacy_levels: bool = False
    #: every job, event, checkpoint and file served carries :data:`FUTURE_FIELD`
    add_unknown_fields: bool = False
    #: seconds of ``clock`` from preprocess until a fine-tuning file is validated
    file_processing_seconds: float = 1.0
    #: the preview's ``max_seq_length`` (``None``: the model's ``max_seq_length_sft``)
    preview_max_seq_length: int | None = None

    def dress(self, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` as served: with :data:`FUTURE_FIELD` when :attr:`add_unknown_fields`."""
        if self.add_unknown_fields:
            obj[FUTURE_FIELD] = copy.deepcopy(FUTURE_VALUE)
        return obj
