"""Download benchmark: this client vs ``curl -o`` vs the official ``together`` SDK.

Usage::

    .venv/bin/python bench/bench_download.py [--sizes 256M,2G] [--repeat 3] [--dir /tmp]

Each downloader runs as its own subprocess against a fake API served by another
subprocess (``serve`` mode of this script: FakeTogether with one completed job
and ``set_download(size=N)``), so neither shares a GIL with the server. Wall
time and the peak RSS of each downloader (``os.wait4`` rusage of that child)
are recorded. Big files go to ``--dir`` and are deleted after each run.

Modes used internally: ``serve SIZE`` and ``client BASE_URL KEY JOB OUT``.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
TOGETHER_VENV = ROOT / "bench" / ".venv-together"
MiB = 1024 * 1024


# --------------------------------------------------------------------------- child modes


def serve(size: int) -> None:
    """Run the fake API; commands on stdin: ``cut N``, ``sent``, ``reset``, ``quit``."""
    from together_finetune.testing import FakeTogether

    with FakeTogether() as fake:
        job = fake.add_job(status="completed")
        fake.set_download(job["id"], size=size)
        print(
            json.dumps(
                {"url": fake.url, "base_url": fake.base_url, "key": fake.api_key, "job": job["id"]}
            ),
            flush=True,
        )
        base = 0  # the fake's count only grows: "reset" moves the baseline instead
        for line in sys.stdin:
            command, *args = line.split()
            if command == "cut":
                fake.cut_download(int(args[0]))
            elif command == "reset":
                base = fake.download_bytes_sent
            elif command == "sent":
                pass
            elif command == "quit":
                break
            print(json.dumps({"sent": fake.download_bytes_sent - base}), flush=True)


def client(base_url: str, key: str, job: str, out: str) -> None:
    from together_finetune import Client

    with Client(api_key=key, base_url=base_url) as c:
        result = c.fine_tunes.download(job, checkpoint="merged", output=out)
    print(json.dumps({"size": result.size, "sha256": result.sha256}))


SDK_SCRIPT = """
import sys
from together import Together
c = Together(api_key=sys.argv[2], base_url=sys.argv[1])
with c.fine_tuning.with_streaming_response.content(ft_id=sys.argv[3], checkpoint="merged") as r:
    r.stream_to_file(sys.argv[4])
"""


# --------------------------------------------------------------------------- harness


class Server:
    def __init__(self, size: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve", str(size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.info: dict[str, Any] = json.loads(self.proc.stdout.readline())

    def command(self, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


CPU: dict[str, list[float]] = {}


def run_child(argv: list[str]) -> tuple[float, int, str]:
    """Run ``argv``; return (seconds, peak RSS in bytes, stdout); CPU seconds go to CPU."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    CPU.setdefault(argv[0] if "curl" in argv[0] else argv[2][:40], []).append(
        usage.ru_utime + usage.ru_stime
    )
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err[-2000:]}")
    return elapsed, usage.ru_maxrss * 1024, out


def downloaders(server: Server, out: Path) -> dict[str, list[str]]:
    info = server.info
    url = f"{info['base_url']}/finetune/download?ft_id={info['job']}&checkpoint=merged"
    result = {
        "together_finetune": [
            sys.executable,
            __file__,
            "client",
            info["base_url"],
            info["key"],
            info["job"],
            str(out),
        ],
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
    }
    sdk_python = TOGETHER_VENV / "bin" / "python"
    if sdk_python.exists():
        result["together SDK (stream_to_file)"] = [
            str(sdk_python),
            "-c",
            SDK_SCRIPT,
            info["url"],
            info["key"],
            info["job"],
            str(out),
        ]
    return result


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": MiB, "G": 1024 * MiB}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1].isalpha() else int(text)


def human(size: int) -> str:
    return f"{size // (1024 * MiB)} GiB" if size >= 1024 * MiB else f"{size // MiB} MiB"


def bench(sizes: list[int], repeat: int, directory: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for size in sizes:
        server = Server(size)
        try:
            out = directory / f"bench-download-{os.getpid()}.bin"
            tools = {
                name: argv
                for name, argv in downloaders(server, out).items()
                if name == "together_finetune" or size == max(sizes)
            }  # the comparison is made at the largest size
            times: dict[str, list[float]] = {name: [] for name in tools}
            rss: dict[str, list[int]] = {name: [] for name in tools}
            for _ in range(repeat):  # interleaved, so load from elsewhere hits all alike
                for name, argv in tools.items():
                    elapsed, peak, _ = run_child(argv)
                    assert out.stat().st_size == size, (name, out.stat().st_size)
                    out.unlink()
                    times[name].append(elapsed)
                    rss[name].append(peak)
            for name in tools:
                best = min(times[name])
                rows.append(
                    {
                        "tool": name,
                        "size": size,
                        "best_s": best,
                        "median_s": statistics.median(times[name]),
                        "mib_s": size / MiB / best,
                        "peak_rss_mib": max(rss[name]) / MiB,
                    }
                )
                print(
                    f"{name:32s} {human(size):>8s} best {best:6.2f}s "
                    f"median {statistics.median(times[name]):6.2f}s "
                    f"{size / MiB / best:8.1f} MiB/s  peak RSS {max(rss[name]) / MiB:6.1f} MiB",
                    flush=True,
                )
            # Resume: cut at 50 %, the client resumes within the same call.
            server.command("reset")
            server.command(f"cut {size // 2}")
            elapsed, peak, _ = run_child(downloaders(server, out)["together_finetune"])
            sent = server.command("sent")["sent"]
            assert out.stat().st_size == size
            out.unlink()
            rows.append(
                {
                    "tool": "together_finetune, cut at 50 % + resume",
                    "size": size,
                    "best_s": elapsed,
                    "median_s": elapsed,
                    "mib_s": size / MiB / elapsed,
                    "peak_rss_mib": peak / MiB,
                    "bytes_sent": sent,
                }
            )
            print(
                f"resume after cut at 50 %: {sent} bytes sent for {size} ({sent / size:.3f}x)",
                flush=True,
            )
        finally:
            server.close()
            for leftover in directory.glob(f"bench-download-{os.getpid()}.bin*"):
                leftover.unlink()
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        client(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="256M,2G")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        sys.exit("curl is needed for the comparison")
    if not (TOGETHER_VENV / "bin" / "python").exists():
        print(f"note: {TOGETHER_VENV} missing: the official SDK is skipped", file=sys.stderr)
    rows = bench([parse_size(s) for s in args.sizes.split(",")], args.repeat, Path(args.dir))
    for who, seconds in CPU.items():
        print(f"CPU seconds (user+sys) {who}: {', '.join(f'{x:.2f}' for x in seconds)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
