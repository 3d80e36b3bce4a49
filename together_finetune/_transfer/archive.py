"""Safe extraction of a model archive (``.tar.zst`` or ``.tar.gz``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Generator, Optional, Union

from ..errors import DownloadError

__all__ = ["extract_archive", "strip_archive_suffix"]

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ARCHIVE_SUFFIXES = (".tar.zst", ".tar.gz", ".tgz", ".tar")


def strip_archive_suffix(path: Path) -> Path:
    """The directory an archive unpacks into by default: its name without the suffix."""
    for suffix in _ARCHIVE_SUFFIXES:
        if path.name.endswith(suffix):
            return path.with_name(path.name[: -len(suffix)])
    return path.with_name(path.name + ".d")


def extract_archive(
    path: Union[str, os.PathLike[str]],
    dest: Union[str, os.PathLike[str]],
    *,
    replace: bool = False,
) -> Path:
    """Unpack a ``.tar.zst`` or ``.tar.gz`` model archive into the directory ``dest``.

    Members are checked with tarfile's ``data`` filter: nothing may land
    outside ``dest``, no link may point out of it, no device file is made. The
    archive is unpacked into a temporary directory beside ``dest`` and moved
    into place only when complete; with ``replace``, a non-empty ``dest`` is then
    swapped out and removed.

    :raises DownloadError: a hostile or broken member (named in the message),
        or ``dest`` already exists and is not empty (and not ``replace``), or is a file.
    """
    source = Path(os.fspath(path))
    destination = Path(os.fspath(dest))
    if destination.exists() and (
        not destination.is_dir() or (not replace and any(destination.iterdir()))
    ):
        raise DownloadError(
            f"cannot extract into {destination}: it exists and is not an empty directory"
        )
    if not source.is_file():
        raise DownloadError(f"cannot extract {source}: no such file")
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is None:  # pragma: no cover - Python without tarfile filters
        raise DownloadError("safe extraction needs a Python with tarfile filters (3.9.17+)")

    def strict_filter(member: tarfile.TarInfo, where: str) -> Optional[tarfile.TarInfo]:
        if member.name.startswith(("/", "\\")) or os.path.isabs(member.name):
            raise DownloadError(f"refusing to extract {member.name!r}: absolute path")
        try:
            return data_filter(member, where)  # type: ignore[no-any-return]
        except tarfile.FilterError as exc:
            raise DownloadError(f"refusing to extract {member.name!r}: {exc}") from exc

    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        with _open_tar(source) as archive:
            archive.extractall(staging, filter=strict_filter)
        staging.chmod(0o755)  # mkdtemp made it private
        _move_into_place(staging, destination)
    except BaseException as exc:
        # Nothing half-extracted stays behind, whatever stopped us (Ctrl-C included).
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, (DownloadError, KeyboardInterrupt, SystemExit)):
            raise
        # A corrupt archive shows as tarfile, OS or decompressor (zstandard) errors.
        raise DownloadError(f"cannot extract {source}: {exc}") from exc
    return destination


def _move_into_place(staging: Path, destination: Path) -> None:
    """Rename ``staging`` to ``destination``, an old ``destination`` moved aside first."""
    if not destination.exists():
        os.replace(staging, destination)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old.", dir=destination.parent))
    os.replace(destination, old / destination.name)
    try:
        os.replace(staging, destination)
    except BaseException:
        os.replace(old / destination.name, destination)  # put the old one back
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _open_tar(source: Path) -> Generator[tarfile.TarFile, None, None]:
    with contextlib.ExitStack() as stack:
        with open(source, "rb") as probe:  # by content: the caller may have named it freely
            zstd = probe.read(4) == _ZSTD_MAGIC
        if zstd:
            try:
                import zstandard
            except ImportError as exc:
                raise DownloadError(
                    "extracting .tar.zst needs zstandard: pip install 'together-finetune[zstd]'"
                ) from exc
            raw = stack.enter_context(open(source, "rb"))
            reader = stack.enter_context(zstandard.ZstdDecompressor().stream_reader(raw))
            yield stack.enter_context(tarfile.open(fileobj=reader, mode="r|"))
        else:
            yield stack.enter_context(tarfile.open(source, mode="r:*"))
