"""Small builders of test data and views of what the fake server saw."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from together_finetune.testing import FakeTogether, RecordedRequest


def sha(data: bytes) -> str:
    """The sha256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def write_jsonl(path: Path, n: int = 3) -> Path:
    """Write ``n`` instruction examples to ``path`` and return it."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"prompt": f"question {i}", "completion": f"answer {i}"}) + "\n")
    return path


def storage_puts(server: FakeTogether) -> list[RecordedRequest]:
    """The PUTs the fake's storage server received, in order."""
    return [r for r in server.storage.requests if r.method == "PUT"]
