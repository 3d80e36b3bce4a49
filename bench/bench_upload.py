"""Benchmark: upload throughput and peak memory, and check_dataset read speed.

Usage::

    .venv/bin/python bench/bench_upload.py [--size-mb 300] [--check-mb 200]

The fake API (with its storage server) runs in a child process so that the peak RSS
measured is the client's alone. Results are printed and written to ``bench/UPLOAD_RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SERVE = """
import sys, time
from together_finetune.testing import FakeTogether
fake = FakeTogether().start()
print(fake.base_url, fake.api_key, flush=True)
sys.stdin.read()
fake.stop()
"""


def _write_jsonl(path: Path, megabytes: int) -> None:
    line = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "Tell me something about the number 42. " * 4},
                {"role": "assistant", "content": "42 is the answer to everything. " * 10},
            ]
        }
    )
    data = ((line + "\n") * 1000).encode()
    with open(path, "wb") as f:
        for _ in range(max(1, megabytes * (1 << 20) // len(data))):
            f.write(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=300, help="upload size in MiB")
    parser.add_argument("--check-mb", type=int, default=200, help="check_dataset size in MiB")
    args = parser.parse_args()

    from together_finetune import Client
    from together_finetune.dataset import check_dataset

    with tempfile.TemporaryDirectory() as tmp:
        upload_path = Path(tmp) / "upload.jsonl"
        _write_jsonl(upload_path, args.size_mb)
        size = upload_path.stat().st_size

        server = subprocess.Popen(
            [sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None
            base_url, api_key = server.stdout.readline().split()
            client = Client(api_key=api_key, base_url=base_url, timeout=(5, 300))
            files = client.files
            warm = Path(tmp) / "warm.jsonl"
            warm.write_text('{"text": "warm up"}\n')
            files.upload(warm)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            started = time.perf_counter()
            uploaded = files.upload(upload_path, check=False)
            elapsed = time.perf_counter() - started
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            assert uploaded.bytes == size
            client.close()
        finally:
            if server.stdin is not None:
                server.stdin.close()
            server.wait(timeout=30)
        lines = [
            f"upload: {size / (1 << 20):.0f} MiB in {elapsed:.2f} s = "
            f"{size / (1 << 20) / elapsed:.0f} MiB/s (sha256 + PUT + preprocess); "
            f"peak RSS {rss_before:.0f} MiB before, {rss_after:.0f} MiB after "
            f"(+{rss_after - rss_before:.1f} MiB)"
        ]
        print(lines[-1])

        check_path = Path(tmp) / "check.jsonl"
        _write_jsonl(check_path, args.check_mb)
        check_size = check_path.stat().st_size
        started = time.perf_counter()
        report = check_dataset(check_path)
        elapsed = time.perf_counter() - started
        assert report.ok, report.summary()
        lines.append(
            f"check_dataset: {check_size / (1 << 20):.0f} MiB, {report.num_examples} examples "
            f"in {elapsed:.2f} s = {check_size / (1 << 20) / elapsed:.0f} MiB/s "
            f"({report.num_examples / elapsed:,.0f} examples/s)"
        )
        print(lines[-1])
        lines.append(
            f"peak RSS overall: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
        print(lines[-1])
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results = Path(__file__).with_name("UPLOAD_RESULTS.md")
    results.write_text(
        "# Upload and dataset-check results\n\n"
        f"Run: `python bench/bench_upload.py --size-mb {args.size_mb} --check-mb {args.check_mb}` "
        f"on {stamp}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; the fake API in a "
        "child process on loopback.\n\n" + "".join(f"- {line}\n" for line in lines)
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
