"""Where a download lands, and the small header and file helpers of the download engines."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
from pathlib import Path
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

__all__ = [
    "Target",
    "checksum_header",
    "content_length",
    "finished_meanwhile",
    "fsync_directory",
    "origin",
]


def _extension_for(content_type: str) -> str:
    kind = content_type.lower()
    if "gzip" in kind or "x-tar" in kind:
        return ".tar.gz"
    return ".tar.zst"  # zstd or octet-stream: the API's archive format


class Target:
    """Where the bytes go: the final path (once known) and the ``.part`` file.

    With no ``final``, the file is named ``<stem><suffix>`` in ``directory``, the suffix
    chosen from the answer's ``Content-Type``.
    """

    def __init__(self, directory: Path, stem: Optional[str], final: Optional[Path]) -> None:
        self.directory = directory
        self.stem = stem
        self.final = final

        # Fixed before the final name is known, so a later call finds it again.
        if final is not None:
            self.part = final.with_name(final.name + ".part")
        else:
            self.part = directory / f"{stem}.part"

    @property
    def meta(self) -> Path:
        """The notes kept beside the ``.part``: what it belongs to and the server's validator."""
        return self.part.with_name(self.part.name + ".json")

    def resolve(self, content_type: str) -> Path:
        """The final path, naming it now from ``content_type`` if it had no name yet."""
        if self.final is None:
            self.final = self.directory / f"{self.stem}{_extension_for(content_type)}"
        return self.final


def fsync_directory(directory: Path) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def content_length(headers: Any) -> Optional[int]:
    """The ``Content-Length`` header as a number, if it is one."""
    length = headers.get("Content-Length")
    return int(length) if length and str(length).strip().isdigit() else None


def origin(url: str) -> Tuple[str, str]:
    """The scheme and host:port of ``url`` (credentials stay within one origin)."""
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def checksum_header(headers: Any) -> Optional[str]:
    """A sha256 hex digest the server announced (``x-checksum-sha256`` or ``Digest``)."""
    value = headers.get("x-checksum-sha256")
    if value:
        return str(value).strip().lower()
    digest = headers.get("Digest") or ""
    match = re.search(r"sha-256=([A-Za-z0-9+/=]+)", digest)
    if match:
        return base64.b64decode(match.group(1)).hex()
    return None


def finished_meanwhile(record: Dict[str, Any], target: Target) -> Optional[Tuple[Path, int, str]]:
    """The file another download of ``target`` finished while we waited, if it is intact."""
    final = Path(str(record.get("path")))
    size, digest = record.get("size"), record.get("sha256")
    if target.final is not None and final != target.final:
        return None
    if final.parent != target.directory or not isinstance(digest, str):
        return None
    if not isinstance(size, int):
        return None
    try:
        if final.stat().st_size != size:
            return None
        hasher = hashlib.sha256()
        with open(final, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                hasher.update(block)
    except OSError:
        return None
    if hasher.hexdigest() != digest:
        return None
    target.final = final
    return final, size, digest
