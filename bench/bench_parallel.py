"""Parallel download benchmark: ``connections=4`` vs one stream, ``curl -o`` and the SDK.

Usage::

    .venv/bin/python bench/bench_parallel.py [--size 1G] [--cap-mib 50] [--repeat 3]
        [--rss-sizes 256M,2G] [--dir /tmp] [--sdk-python /tmp/sdkvenv/bin/python]

Three parts, printed as ratios in one run (results recorded in bench/PARALLEL_RESULTS.md):

1. Capped: the fake caps each connection at ``--cap-mib`` MiB/s (``FakeTogether(throttle=)``,
   as object storage does); a ``--size`` download by this client with ``connections=4`` and
   with ``connections=1``, by ``curl -o`` (one stream) and by the official SDK: wall time
   and CPU per GiB.
2. Uncapped: CPU seconds (user+sys, ``os.wait4``) per GiB of this client (sha256 included)
   vs ``curl -o`` plus ``openssl dgst -sha256`` of the same file. ``ours c=4`` is the
   default (the way of hashing chosen per run); ``hash after`` (one pass over the finished
   file) and ``hash prefix`` (the calling thread hashing the contiguous prefix while the
   pieces arrive) force one way.
3. Peak RSS (``ru_maxrss`` of the child) for 1 and 4 connections at ``--rss-sizes``.

The fake runs in its own process (``serve`` mode), every downloader in another; runs are
interleaved and the median of ``--repeat`` is reported. ``--baseline DIR`` runs the same
script of another checkout as well (``base c=4``, ``base c=1``), for an A/B in one run.
The official SDK is taken from ``--sdk-python`` (an interpreter with ``together``
installed, e.g. a throwaway venv made as bench/run.py does); it is skipped with a note
when there is none.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
MiB = 1024 * 1024
GiB = 1024 * MiB

SDK_SCRIPT = """
import sys
from together import Together
c = Together(api_key=sys.argv[2], base_url=sys.argv[1])
with c.fine_tuning.with_streaming_response.content(ft_id=sys.argv[3], checkpoint="merged") as r:
    r.stream_to_file(sys.argv[4])
"""


# --------------------------------------------------------------------------- child modes


def serve(size: int, throttle: int) -> None:
    """Run the fake with one completed job serving ``size`` synthetic bytes; until stdin ends."""
    from together_finetune.testing import FakeTogether

    with FakeTogether(throttle=throttle or None) as fake:
        job = fake.add_job(status="completed")
        fake.set_download(job["id"], size=size)
        info = {"url": fake.url, "base_url": fake.base_url, "key": fake.api_key, "job": job["id"]}
        print(json.dumps(info), flush=True)
        sys.stdin.read()


def client(base_url: str, key: str, job: str, out: str, connections: str, hashing: str) -> None:
    """One download by this client (``hashing``: ``auto``, ``prefix`` or ``after``)."""
    from together_finetune import Client
    from together_finetune._transfer import segments

    segments.HASH_WHILE_DOWNLOADING = {"prefix": True, "after": False}.get(hashing)
    with Client(api_key=key, base_url=base_url, timeout=(5, 300)) as c:
        result = c.fine_tunes.download(
            job, checkpoint="merged", output=out, overwrite=True, connections=int(connections)
        )
    print(json.dumps({"size": result.size, "sha256": result.sha256}))


# --------------------------------------------------------------------------- harness


class Server:
    """The fake in a process of its own."""

    def __init__(self, size: int, throttle: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve", str(size), str(throttle)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.info: Dict[str, Any] = json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run_child(argv: List[str]) -> Dict[str, float]:
    """Run ``argv``; its wall seconds, CPU seconds (user+sys) and peak RSS (MiB)."""
    os.sync()  # earlier runs' dirty pages are not this run's work
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{argv[:3]} failed: {err[-2000:]}")
    return {
        "s": elapsed,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": usage.ru_maxrss / 1024,
    }


def tools(
    server: Server, out: Path, sdk_python: Optional[str], baseline: Optional[str]
) -> Dict[str, List[str]]:
    info = server.info
    url = f"{info['base_url']}/finetune/download?ft_id={info['job']}&checkpoint=merged"
    ours = [sys.executable, __file__, "client", info["base_url"], info["key"], info["job"]]
    result = {
        "ours c=4": [*ours, str(out), "4", "auto"],
        "ours c=4 hash after": [*ours, str(out), "4", "after"],
        "ours c=4 hash prefix": [*ours, str(out), "4", "prefix"],
        "ours c=1": [*ours, str(out), "1", "auto"],
        "curl -o": [
            "curl",
            "-sS",
            "--fail",
            "-o",
            str(out),
            "-H",
            f"Authorization: Bearer {info['key']}",
            url,
        ],
        "openssl dgst": ["openssl", "dgst", "-sha256", str(out)],
    }
    if baseline:  # the same bench script of another checkout (e.g. `git archive` of main)
        base = [sys.executable, str(Path(baseline) / "bench" / "bench_parallel.py"), "client"]
        base += [info["base_url"], info["key"], info["job"], str(out)]
        result["base c=4"] = [*base, "4", "auto"]
        result["base c=4 hash after"] = [*base, "4", "after"]
        result["base c=1"] = [*base, "1", "auto"]
    if sdk_python:
        result["SDK 3.1.1"] = [sdk_python, "-c", SDK_SCRIPT, info["url"], info["key"]]
        result["SDK 3.1.1"] += [info["job"], str(out)]
    return result


def measure(
    size: int,
    throttle: int,
    names: List[str],
    repeat: int,
    directory: Path,
    sdk: Optional[str],
    baseline: Optional[str] = None,
) -> Dict[str, List[Dict[str, float]]]:
    """Interleaved runs of ``names`` (``openssl dgst`` runs right after each ``curl -o``)."""
    server = Server(size, throttle)
    out = directory / f"bench-parallel-{os.getpid()}.bin"
    runs: Dict[str, List[Dict[str, float]]] = {name: [] for name in names}
    try:
        argvs = tools(server, out, sdk, baseline)
        for turn in range(repeat):
            # Rotated: the first download after curl's unflushed file ran slower, whoever it was.
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                if name == "openssl dgst":
                    continue
                runs[name].append(run_child(argvs[name]))
                assert out.stat().st_size == size, (name, out.stat().st_size)
                if name == "curl -o" and "openssl dgst" in runs:
                    runs["openssl dgst"].append(run_child(argvs["openssl dgst"]))
                out.unlink()
                print(f"  {name:22s} {runs[name][-1]}", flush=True)
    finally:
        server.close()
        for leftover in directory.glob(f"bench-parallel-{os.getpid()}.bin*"):
            leftover.unlink()
    return runs


def med(runs: List[Dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def spread(runs: List[Dict[str, float]], key: str, scale: float = 1.0) -> str:
    values = sorted(r[key] / scale for r in runs)
    return f"[{values[0]:.2f}-{values[-1]:.2f}]"


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": MiB, "G": GiB}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1].isalpha() else int(text)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), int(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        client(*sys.argv[2:8])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size", default="1G")
    parser.add_argument("--cap-mib", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rss-sizes", default="256M,2G")
    parser.add_argument("--dir", default="/tmp")
    default_sdk = "/tmp/sdkvenv/bin/python"
    if not Path(default_sdk).exists():
        default_sdk = str(ROOT / "bench" / ".venv-together" / "bin" / "python")
    parser.add_argument("--sdk-python", default=default_sdk)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: cap,cpu,rss")
    parser.add_argument(
        "--baseline",
        help="another checkout (e.g. `git archive` of main) whose client also runs, as "
        "'base c=4' (its default), 'base c=4 hash after' and 'base c=1'",
    )
    parser.add_argument("--drop", default="", help="comma-separated downloaders to leave out")
    args = parser.parse_args()
    for tool in ("curl", "openssl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed for the comparison")
    sdk: Optional[str] = args.sdk_python if Path(args.sdk_python).exists() else None
    if sdk is None:
        print(f"note: no SDK interpreter at {args.sdk_python}: the SDK is skipped")
    size, directory, skip = parse_size(args.size), Path(args.dir), args.skip.split(",")
    extra = ["base c=4", "base c=4 hash after", "base c=1"] if args.baseline else []
    drop = set(args.drop.split(","))
    gib = size / GiB
    lines: List[str] = []

    if "cap" not in skip:
        cap = args.cap_mib * MiB
        print(f"== capped at {args.cap_mib} MiB/s per connection, {gib:g} GiB", flush=True)
        names = ["ours c=4", "ours c=4 hash after", "ours c=4 hash prefix", *extra]
        names += ["ours c=1", "curl -o"] + (["SDK 3.1.1"] if sdk else [])
        names = [n for n in names if n not in drop]
        sdk = sdk if "SDK 3.1.1" in names else None
        runs = measure(size, cap, names, args.repeat, directory, sdk, args.baseline)
        curl = med(runs["curl -o"], "s")
        for name in names:
            s = med(runs[name], "s")
            lines.append(
                f"capped {name:22s} {s:7.2f} s {size / MiB / s:8.1f} MiB/s "
                f"{curl / s:5.2f}x curl {spread(runs[name], 's')} s"
                + (f" {med(runs['SDK 3.1.1'], 's') / s:5.2f}x SDK" if sdk else "")
                + f" CPU {med(runs[name], 'cpu') / gib:5.2f} s/GiB {spread(runs[name], 'cpu', gib)}"
            )
            print(lines[-1], flush=True)

    if "cpu" not in skip:
        print(f"== uncapped, {gib:g} GiB: CPU seconds per GiB", flush=True)
        names = ["ours c=4", "ours c=4 hash after", "ours c=4 hash prefix", *extra]
        names += ["ours c=1", "curl -o", "openssl dgst"]
        names = [n for n in names if n not in drop]
        runs = measure(size, 0, names, args.repeat, directory, sdk, args.baseline)
        floor = (med(runs["curl -o"], "cpu") + med(runs["openssl dgst"], "cpu")) / gib
        for name in names:
            cpu = med(runs[name], "cpu") / gib
            s = med(runs[name], "s")
            lines.append(
                f"uncapped {name:22s} {cpu:6.2f} CPU s/GiB ({cpu / floor:4.2f}x curl+openssl "
                f"{floor:.2f}) {spread(runs[name], 'cpu', gib)} wall {s:6.2f} s {size / MiB / s:7.1f} MiB/s "
                f"RSS {max(r['rss'] for r in runs[name]):5.1f} MiB"
            )
            print(lines[-1], flush=True)

    if "rss" not in skip:
        for rss_size in [parse_size(x) for x in args.rss_sizes.split(",")]:
            print(f"== peak RSS, {rss_size / MiB:g} MiB", flush=True)
            runs = measure(rss_size, 0, ["ours c=1", "ours c=4"], 1, directory, sdk)
            for name, rows in runs.items():
                lines.append(
                    f"rss {rss_size / MiB:6.0f} MiB {name:10s} peak {rows[0]['rss']:5.1f} MiB "
                    f"wall {rows[0]['s']:6.2f} s cpu {rows[0]['cpu']:5.2f} s"
                )
                print(lines[-1], flush=True)

    print("\n== summary")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
