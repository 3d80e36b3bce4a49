"""The fake's files endpoints (kept importable here; they live in ``_fake/files.py``)."""

from __future__ import annotations

from typing import Any

from together_finetune.testing._fake.files import FAKE_FILE_ID, FilesAPI

__all__ = ["FAKE_FILE_ID", "FilesAPI", "register_files_api"]


def register_files_api(fake: Any) -> FilesAPI:
    """Return the :class:`FilesAPI` of ``fake`` (a ``FakeTogether`` composes one when built)."""
    api = getattr(fake, "files", None)
    if not isinstance(api, FilesAPI):
        raise TypeError(f"{type(fake).__name__} has no files API")
    return api
