"""Serve a FakeTogether for the benchmarks in its own process.

Prints one JSON line (base_url, api_key, job_id) once ready and serves until stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys

from together_finetune.testing import FakeTogether


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--download-size", type=int, default=1 << 30)
    args = parser.parse_args()
    with FakeTogether() as fake:
        first = fake.add_job(status="completed", suffix="bench")
        for index in range(1, args.jobs):
            fake.add_job(status="completed", suffix=f"bench-{index}")
        fake.set_download(first["id"], size=args.download_size)
        print(
            json.dumps({"base_url": fake.base_url, "api_key": fake.api_key, "job_id": first["id"]}),
            flush=True,
        )
        sys.stdin.read()  # until the parent closes our stdin
    return 0


if __name__ == "__main__":
    sys.exit(main())
