"""Benchmarks: this client vs. the official ``together`` SDK vs. plain ``requests`` + ``json``.

    python bench/run.py [--quick]

Starts the fake API in its own process (bench/_server.py), runs every measurement in a fresh
interpreter (bench/_worker.py), prints a table of medians and ratios and writes it, with the
machine and the versions, to bench/RESULTS.md. The official SDK is installed into
bench/.venv-together on first use (skipped with a note when that fails).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
SDK_VENV = HERE / ".venv-together"
PY = sys.executable


def sdk_python(notes: List[str]) -> Optional[str]:
    """The interpreter of bench/.venv-together (created and filled on first use), or None."""
    python = SDK_VENV / "bin" / "python"
    if not python.exists():
        print("installing the official SDK into bench/.venv-together ...", file=sys.stderr)
        try:
            subprocess.run([PY, "-m", "venv", str(SDK_VENV)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "together"], check=True, timeout=900
            )
        except (subprocess.SubprocessError, OSError) as error:
            notes.append(f"official SDK not measured: could not install it ({error})")
            shutil.rmtree(SDK_VENV, ignore_errors=True)
            return None
    check = subprocess.run([str(python), "-c", "import together"], capture_output=True)
    if check.returncode != 0:
        notes.append("official SDK not measured: `import together` fails in bench/.venv-together")
        return None
    return str(python)


def version_of(python: str, module: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({module!r}))"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def worker(python: str, mode: str, args: Dict[str, Any]) -> Dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [python, str(HERE / "_worker.py"), mode, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def import_time(python: str, statement: str, repeats: int) -> float:
    """Median import time of ``statement`` in a fresh interpreter (``-X importtime``).

    Sums the top-level entries (so lazily imported submodules count too) and subtracts
    what an empty interpreter imports at startup.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def total(code: str) -> float:
        out = subprocess.run(
            [python, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        seconds = 0.0
        for line in out.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[1].strip().isdigit():
                name = parts[2]
                if name.startswith(" ") and not name.startswith("  "):
                    seconds += int(parts[1]) / 1e6
        return seconds

    total(statement)  # warm the .pyc and file cache
    empty = statistics.median(total("pass") for _ in range(repeats))
    return statistics.median(total(statement) for _ in range(repeats)) - empty


def start_server(jobs: int, size: int) -> tuple[subprocess.Popen[str], Dict[str, Any]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [PY, str(HERE / "_server.py"), "--jobs", str(jobs), "--download-size", str(size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    return proc, info


def curl_download(info: Dict[str, Any], target: Path, durable: bool = False) -> float:
    url = f"{info['base_url']}/finetune/download?ft_id={info['job_id']}&checkpoint=merged"
    start = time.perf_counter()
    subprocess.run(
        [
            "curl",
            "-sS",
            "-f",
            "-o",
            str(target),
            "-H",
            f"Authorization: Bearer {info['api_key']}",
            url,
        ],
        check=True,
    )
    if durable:  # what our download does before its rename: the bytes are on disk
        os.sync()
    return time.perf_counter() - start


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def fmt_time(seconds: Optional[float]) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def ratio(a: Optional[float], b: Optional[float]) -> str:
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    opts = parser.parse_args()
    quick = opts.quick
    calls = 200 if quick else 1000
    jobs = 1000 if quick else 10_000
    size = (64 << 20) if quick else (1 << 30)
    import_repeats = 5 if quick else 11
    decode_repeats = 3 if quick else 7

    WORK.mkdir(exist_ok=True)
    notes: List[str] = []
    sdk = sdk_python(notes)
    rows: List[List[str]] = []

    print("import time ...", file=sys.stderr)
    ours_imp = import_time(PY, "from together_finetune import Client", import_repeats)
    floor_imp = import_time(PY, "import requests", import_repeats)
    sdk_imp = import_time(sdk, "from together import Together", import_repeats) if sdk else None
    rows.append(
        [
            "import (`from X import Client`)",
            fmt_time(ours_imp),
            fmt_time(floor_imp) + " (requests)",
            fmt_time(sdk_imp),
            ratio(ours_imp, floor_imp),
            ratio(ours_imp, sdk_imp),
            "<= 0.4x SDK",
            _met(ours_imp, sdk_imp, 0.4),
        ]
    )

    print("starting the fake server ...", file=sys.stderr)
    proc, info = start_server(jobs, size)
    try:
        args = dict(info, calls=calls)
        print("retrieve ...", file=sys.stderr)
        ours = worker(PY, "retrieve-ours", args)["seconds_per_call"]
        floor = worker(PY, "retrieve-floor", args)["seconds_per_call"]
        sdk_r = worker(sdk, "retrieve-sdk", args)["seconds_per_call"] if sdk else None
        rows.append(
            [
                f"retrieve x{calls} (per call)",
                fmt_time(ours),
                fmt_time(floor),
                fmt_time(sdk_r),
                ratio(ours, floor),
                ratio(ours, sdk_r),
                "<= 1.1x floor, <= 0.7x SDK",
                _met(ours, floor, 1.1) + " / " + _met(ours, sdk_r, 0.7),
            ]
        )

        print("list body ...", file=sys.stderr)
        import requests

        answer = requests.get(
            info["base_url"] + "/fine-tunes",
            headers={"Authorization": f"Bearer {info['api_key']}"},
            timeout=120,
        )
        answer.raise_for_status()
        body_path = WORK / "list.json"
        body_path.write_bytes(answer.content)
        dargs = {"body_path": str(body_path), "repeats": decode_repeats}
        print("decode ...", file=sys.stderr)
        ours_d = worker(PY, "decode-ours", dargs)["seconds"]
        fast_d = worker(PY, "decode-ours-fast", dargs)["seconds"]
        floor_d = worker(PY, "decode-floor", dargs)["seconds"]
        sdk_out = worker(sdk, "decode-sdk", dargs) if sdk else {}
        sdk_d = sdk_out.get("seconds")
        rows.append(
            [
                f"decode list of {jobs} jobs",
                fmt_time(ours_d),
                fmt_time(floor_d) + " (json.loads)",
                fmt_time(sdk_d) + " (construct)",
                ratio(ours_d, floor_d),
                ratio(ours_d, sdk_d),
                "<= 0.15x SDK, < 2x json.loads",
                _met(ours_d, sdk_d, 0.15) + " / " + _met(ours_d, floor_d, 2.0),
            ]
        )
        rows.append(
            [
                "  same, with detailed_validation=False (tried, not adopted)",
                fmt_time(fast_d),
                "",
                fmt_time(sdk_out.get("strict_seconds")) + " (strict)",
                ratio(fast_d, floor_d),
                ratio(fast_d, sdk_d),
                "",
                "",
            ]
        )
        print(f"download {size >> 20} MiB ...", file=sys.stderr)
        # Alternate curl and ours, each starting with no dirty pages left by the previous
        # run (os.sync), so neither pays for the other's writeback.
        curl_times: List[float] = []
        synced_times: List[float] = []
        downs: List[Dict[str, Any]] = []
        for _ in range(3):
            target = WORK / "curl.bin"
            os.sync()
            curl_times.append(curl_download(info, target))
            target.unlink(missing_ok=True)
            os.sync()
            synced_times.append(curl_download(info, target, durable=True))
            target.unlink(missing_ok=True)
            os.sync()
            downs.append(
                worker(
                    PY, "download-ours", dict(info, output=str(WORK / "ours.tar.zst"), size=size)
                )
            )
            (WORK / "ours.tar.zst").unlink(missing_ok=True)
        curl_s = statistics.median(curl_times)
        down = {
            "seconds": statistics.median(d["seconds"] for d in downs),
            "peak_rss_mib": max(d["peak_rss_mib"] for d in downs),
        }
        ours_tp = size / down["seconds"] / (1 << 20)
        curl_tp = size / curl_s / (1 << 20)
        synced_tp = size / statistics.median(synced_times) / (1 << 20)
        rows.append(
            [
                f"download {size >> 20} MiB (+sha256, fsync), median of 3",
                f"{ours_tp:.0f} MiB/s",
                f"{curl_tp:.0f} MiB/s (curl -o)",
                "not measured",
                f"{ours_tp / curl_tp:.2f}x",
                "",
                ">= 0.9x curl",
                "yes" if ours_tp >= 0.9 * curl_tp else "NO",
            ]
        )
        rows.append(
            [
                "  same durability: curl -o, then sync (our download fsyncs before its rename)",
                f"{ours_tp:.0f} MiB/s",
                f"{synced_tp:.0f} MiB/s (curl -o; sync)",
                "",
                f"{ours_tp / synced_tp:.2f}x",
                "",
                "",
                "",
            ]
        )
        rows.append(
            [
                "  peak RSS of the downloading process (max of 3)",
                f"{down['peak_rss_mib']:.0f} MiB",
                "",
                "",
                "",
                "",
                "< 64 MiB",
                "yes" if down["peak_rss_mib"] < 64 else "NO",
            ]
        )
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=30)

    header = [
        "benchmark",
        "together_finetune",
        "floor",
        "official SDK",
        "vs floor",
        "vs SDK",
        "target",
        "met",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    table = "\n".join(lines)
    versions = (
        f"together_finetune {version_of(PY, 'together_finetune')}, "
        f"requests {version_of(PY, 'requests')}, cattrs {version_of(PY, 'cattrs')}, "
        f"together {version_of(sdk, 'together') if sdk else 'not installed'}, "
        f"curl {subprocess.run(['curl', '--version'], capture_output=True, text=True).stdout.split()[1]}"
    )
    report = [
        "# Benchmark results",
        "",
        f"Run: `python bench/run.py{' --quick' if quick else ''}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"- Machine: {machine()}",
        f"- Versions: {versions}",
        "- Server: the fake API (together_finetune.testing.FakeTogether) in its own process on loopback.",
        "- Medians; every measurement in a fresh interpreter.",
        "",
        table,
        "",
    ]
    report += [f"- {note}" for note in notes]
    print("\n".join(report))
    results = HERE / ("RESULTS.quick.md" if quick else "RESULTS.md")
    analysis = HERE / "ANALYSIS.md"
    text = "\n".join(report)
    if analysis.exists():
        text += "\n" + analysis.read_text()
    results.write_text(text)
    print(f"written to {results.relative_to(ROOT)}", file=sys.stderr)
    return 0


def _met(value: Optional[float], reference: Optional[float], factor: float) -> str:
    if value is None or reference is None:
        return "n/a"
    return "yes" if value <= factor * reference else "NO"


if __name__ == "__main__":
    sys.exit(main())
