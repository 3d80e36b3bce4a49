"""Deterministic model archives and synthetic download bodies for the fake API.

The live API serves fine-tuned models as zstd-compressed tar files (``.tar.zst``;
legacy jobs: ``.tar.gz``). Everything here is deterministic: the same arguments
always give the same bytes, so tests can compare downloads byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
import tarfile

import zstandard

__all__ = [
    "SYNTHETIC_BLOCK_SIZE",
    "build_model_archive",
    "build_tokenized_archive",
    "hostile_archive",
    "synthetic_bytes",
]

#: Size of the repeating block :func:`synthetic_bytes` is made of.
SYNTHETIC_BLOCK_SIZE = 1024 * 1024

_MTIME = 1_767_225_600  # 2026-01-01T00:00:00Z: fixed so archives are byte-stable
_COMPRESSIONS = ("zstd", "gzip")
_HOSTILE_KINDS = ("dotdot", "absolute", "symlink", "device")


def _pseudo_random(seed: str, size: int) -> bytes:
    """Return ``size`` deterministic pseudo-random bytes derived from ``seed``."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


_BASE_BLOCK = _pseudo_random("together-fake-synthetic-block", SYNTHETIC_BLOCK_SIZE)


def synthetic_bytes(offset: int, length: int) -> bytes:
    """Return bytes ``[offset, offset + length)`` of the endless synthetic download body.

    The body is a repeating pseudo-random 1 MiB block whose first 8 bytes are replaced by
    the block's index, so every block differs and any slice can be produced without the
    bytes before it (this is what ``FakeTogether.set_download(size=...)`` serves).
    """
    if offset < 0 or length < 0:
        raise ValueError("offset and length must be non-negative")
    parts: list[bytes] = []
    position = offset
    end = offset + length
    while position < end:
        index, start = divmod(position, SYNTHETIC_BLOCK_SIZE)
        stop = min(SYNTHETIC_BLOCK_SIZE, start + (end - position))
        block_head = struct.pack(">Q", index)
        if start < 8:
            head = block_head[start : min(8, stop)]
            parts.append(head)
            if stop > 8:
                parts.append(_BASE_BLOCK[8:stop])
        else:
            parts.append(_BASE_BLOCK[start:stop])
        position += stop - start
    return b"".join(parts)


def _compress(tar_bytes: bytes, compression: str) -> bytes:
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(tar_bytes)
    if compression == "gzip":
        return gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    raise ValueError(f"unknown compression {compression!r}; expected one of {_COMPRESSIONS}")


def _tar_info(name: str, *, size: int = 0, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mtime = _MTIME
    info.mode = 0o644 if kind == tarfile.REGTYPE else 0o755
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return _tar_info(name, size=len(data)), data


def model_archive_files(job_id: str) -> dict[str, bytes]:
    """Return the files (name -> content) :func:`build_model_archive` packs for ``job_id``."""
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "torch_dtype": "bfloat16",
        "_fake_job_id": job_id,
    }
    adapter_config = {
        "peft_type": "LORA",
        "r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
    }
    return {
        "config.json": json.dumps(config, indent=2, sort_keys=True).encode(),
        "adapter_config.json": json.dumps(adapter_config, indent=2, sort_keys=True).encode(),
        "model.safetensors": _pseudo_random(f"weights:{job_id}", 6 * 1024),
    }


def build_model_archive(job_id: str, *, compression: str = "zstd") -> bytes:
    """Build the deterministic model archive the fake serves for ``job_id``.

    :param job_id: seeds the content (different jobs give different weights).
    :param compression: ``"zstd"`` (``.tar.zst``, what the live API serves) or ``"gzip"``.
    :returns: the compressed tar, containing ``config.json``, ``adapter_config.json`` and
        ``model.safetensors`` (a few KiB of deterministic bytes).
    """
    members = [_file(name, data) for name, data in model_archive_files(job_id).items()]
    return _compress(_tar(members), compression)


def build_tokenized_archive(job_id: str, rows: list[dict[str, list[int]]] | None = None) -> bytes:
    """Build the deterministic tokenized-dataset archive (``.tar.zst``) of ``job_id``.

    :param rows: the tokenized samples (``input_ids`` and ``labels`` each); default: eight
        pseudo-random rows seeded by ``job_id``.
    :returns: a zstd tar holding ``manifest.json`` and ``train.jsonl`` (one row a line).
    """
    if rows is None:
        seed = _pseudo_random(f"tokens:{job_id}", 8 * 16 * 2)
        ids = [int.from_bytes(seed[i : i + 2], "big") for i in range(0, len(seed), 2)]
        rows = [
            {"input_ids": ids[n * 16 : n * 16 + 16], "labels": ids[n * 16 : n * 16 + 16]}
            for n in range(8)
        ]
    data = b"".join(json.dumps(row, sort_keys=True).encode() + b"\n" for row in rows)
    manifest = {"job_id": job_id, "num_rows": len(rows), "format": "jsonl"}
    members = [
        _file("manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode()),
        _file("train.jsonl", data),
    ]
    return _compress(_tar(members), "zstd")


def hostile_archive(kind: str, *, compression: str = "zstd") -> bytes:
    """Build an archive a safe extractor must refuse.

    :param kind: ``"dotdot"`` (member ``../evil.txt``), ``"absolute"`` (``/tmp/evil.txt``),
        ``"symlink"`` (a symlink ``link -> /etc`` then a file ``link/passwd`` through it) or
        ``"device"`` (a character device member ``dev/null``). Each also holds a harmless
        ``config.json`` first.
    :param compression: ``"zstd"`` or ``"gzip"``.
    """
    members = [_file("config.json", b'{"model_type": "llama"}\n')]
    evil = b"owned\n"
    if kind == "dotdot":
        members.append(_file("../evil.txt", evil))
    elif kind == "absolute":
        members.append(_file("/tmp/evil.txt", evil))  # noqa: S108 - the point of the archive
    elif kind == "symlink":
        link = _tar_info("link", kind=tarfile.SYMTYPE)
        link.linkname = "/etc"
        members.append((link, b""))
        members.append(_file("link/passwd", evil))
    elif kind == "device":
        device = _tar_info("dev/null", kind=tarfile.CHRTYPE)
        device.devmajor, device.devminor = 1, 3
        members.append((device, b""))
    else:
        raise ValueError(f"unknown hostile archive kind {kind!r}; expected one of {_HOSTILE_KINDS}")
    return _compress(_tar(members), compression)
