"""Decode benchmark: ``client.fine_tunes.list()`` of 10,000 jobs vs ``requests.get(url).json()``.

Usage::

    .venv/bin/python bench/bench_decode.py [--jobs 10000] [--rounds 11] [--baseline DIR]

A server process (``serve`` mode of this script) builds the bodies once from the
fake API (``FakeTogether``: ``--jobs`` jobs for ``GET /fine-tunes``, and as many
events, checkpoints and files, copies of the fake's own, for the other list
endpoints), then serves those pre-serialised bytes from a plain ``http.server``
on loopback, so that every round fetches the same bytes and the server's work is
a socket write.

A worker process (``worker`` mode) runs each measurement when the parent asks
for it, one at a time, so the parent interleaves them round by round (the order
rotates each round): the client's list methods, ``requests.get(url).json()`` of
the same URLs, ``json.loads`` of the list body's bytes, and ``retrieve()`` of one
job (per call, against ``requests.Session().get(url).json()``, and its decode
alone). A full collection runs before each measurement, untimed.

``--baseline DIR`` (e.g. ``git archive main | tar -x -C DIR``) adds a second
worker that imports the client from DIR, for before/after numbers from the same
run. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
JOB_ID = "ft-bench-retrieve"
FILE_ID = "file-bench"

# --------------------------------------------------------------------------- server


def _bodies(count: int) -> Dict[str, bytes]:
    """The bodies to serve, by path, shaped by the fake API."""
    import requests

    from together_finetune import Client
    from together_finetune.testing import FakeTogether

    with FakeTogether() as fake:
        headers = {"Authorization": f"Bearer {fake.api_key}"}

        def get(path: str) -> Any:
            response = requests.get(fake.base_url + path, headers=headers, timeout=60)
            response.raise_for_status()
            return response.json()

        one = fake.add_job(status="completed", suffix="bench")["id"]
        for index in range(1, count):
            fake.add_job(status="completed", suffix=f"bench-{index}")
        jobs = get("/fine-tunes")
        job = get(f"/fine-tunes/{one}")
        events = get(f"/fine-tunes/{one}/events")["data"]
        checkpoints = get(f"/fine-tunes/{one}/checkpoints")["data"]
        with (
            tempfile.TemporaryDirectory() as scratch,
            Client(api_key=fake.api_key, base_url=fake.base_url) as client,
        ):
            data = Path(scratch, "train.jsonl")
            data.write_text('{"text": "hello"}\n')
            client.files.upload(data)
        listed = get("/files")["data"]

    def copies(items: List[Dict[str, Any]], key: str) -> List[Dict[str, Any]]:
        return [
            {**items[i % len(items)], **({key: f"{items[i % len(items)][key]}-{i}"} if key else {})}
            for i in range(count)
        ]

    job["id"] = JOB_ID
    serialised = {
        "/v1/fine-tunes": jobs,
        f"/v1/fine-tunes/{JOB_ID}": job,
        f"/v1/fine-tunes/{JOB_ID}/events": {"data": copies(events, "")},
        f"/v1/fine-tunes/{JOB_ID}/checkpoints": {"data": copies(checkpoints, "path")},
        "/v1/files": {"object": "list", "data": copies(listed, "id")},
    }
    return {path: json.dumps(body).encode() for path, body in serialised.items()}


def serve(count: int) -> None:
    """Serve the bodies on loopback until stdin closes; print the base URL once ready."""
    bodies = _bodies(count)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            body = bodies.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            body = body if body is not None else b'{"error": {"message": "not found"}}'
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        server.daemon_threads = True
        host, port = server.server_address[:2]
        sizes = {path: len(body) for path, body in bodies.items()}
        print(json.dumps({"base_url": f"http://{host}:{port}/v1", "sizes": sizes}), flush=True)
        import threading

        threading.Thread(target=server.serve_forever, daemon=True).start()
        sys.stdin.read()
        server.shutdown()


# --------------------------------------------------------------------------- worker


def worker(base_url: str, client_only: bool) -> None:
    """Answer ``TASK`` lines on stdin with ``{"seconds": ...}`` lines on stdout."""
    from typing import List as ListOf

    import requests

    from together_finetune import Client
    from together_finetune.converter import decode
    from together_finetune.models import FineTune

    client = Client(api_key="bench-key", base_url=base_url, max_retries=0)
    headers = {"Authorization": "Bearer bench-key"}
    raw = requests.get(base_url + "/fine-tunes", headers=headers, timeout=60).content
    one_job = requests.get(f"{base_url}/fine-tunes/{JOB_ID}", headers=headers, timeout=60).json()
    job_list = json.loads(raw)["data"]
    fine_tunes, files = client.fine_tunes, client.files

    def fetch(path: str) -> Callable[[], Any]:
        return lambda: requests.get(base_url + path, headers=headers, timeout=60).json()

    session = requests.Session()  # one connection kept open, as the client keeps its own
    session.headers.update(headers)

    def per_call(fn: Callable[[], Any], calls: int) -> Callable[[], Any]:
        def run() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            return (time.perf_counter() - start) / calls

        return run

    tasks: Dict[str, Callable[[], Any]] = {
        "list": fine_tunes.list,
        "list_events": lambda: fine_tunes.list_events(JOB_ID),
        "list_checkpoints": lambda: fine_tunes.list_checkpoints(JOB_ID),
        "files.list": files.list,
        "retrieve": per_call(lambda: fine_tunes.retrieve(JOB_ID), 200),
        "decode one job": per_call(lambda: decode(one_job, FineTune), 2000),
        "decode list per job": lambda: decode(job_list, ListOf[FineTune]),
    }
    if not client_only:
        tasks.update(
            {
                "requests list": fetch("/fine-tunes"),
                "requests events": fetch(f"/fine-tunes/{JOB_ID}/events"),
                "requests checkpoints": fetch(f"/fine-tunes/{JOB_ID}/checkpoints"),
                "requests files": fetch("/files"),
                "session retrieve": per_call(
                    lambda: session.get(f"{base_url}/fine-tunes/{JOB_ID}", timeout=60).json(), 200
                ),
                "json.loads": lambda: json.loads(raw),
            }
        )
    for task in tasks.values():  # warm up: connections, hooks, caches
        task()
    print(json.dumps(sorted(tasks)), flush=True)
    for line in sys.stdin:
        task = tasks[line.strip()]
        gc.collect()
        start = time.perf_counter()
        result = task()
        seconds = time.perf_counter() - start
        if isinstance(result, float):  # a per-call time
            seconds = result
        del result
        print(json.dumps({"seconds": seconds}), flush=True)


# --------------------------------------------------------------------------- parent


def _spawn(args: List[str], pythonpath: Path) -> Tuple[subprocess.Popen[str], Any]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def _ask(process: subprocess.Popen[str], task: str) -> float:
    stdin: IO[str] = process.stdin  # type: ignore[assignment]
    stdout: IO[str] = process.stdout  # type: ignore[assignment]
    stdin.write(task + "\n")
    stdin.flush()
    return float(json.loads(stdout.readline())["seconds"])


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.001 else f"{seconds * 1e6:.1f} us"


#: (what, numerator, denominator) of each ratio printed.
RATIOS = [
    ("list() / requests.get().json()", "list", "requests list"),
    ("list() / json.loads", "list", "json.loads"),
    ("requests.get().json() / json.loads", "requests list", "json.loads"),
    ("list_events() / requests.get().json()", "list_events", "requests events"),
    ("list_checkpoints() / requests.get().json()", "list_checkpoints", "requests checkpoints"),
    ("files.list() / requests.get().json()", "files.list", "requests files"),
    ("retrieve() / Session.get().json()", "retrieve", "session retrieve"),
    ("decode of one job / retrieve()", "decode one job", "retrieve"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve", "worker"])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--baseline", type=Path, help="another checkout's root, measured too")
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--client-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.jobs)
        return 0
    if args.mode == "worker":
        worker(args.base_url, args.client_only)
        return 0

    server, ready = _spawn(["serve", "--jobs", str(args.jobs)], ROOT)
    workers: Dict[str, subprocess.Popen[str]] = {}
    try:
        base_url = ready["base_url"]
        print(f"bodies: {ready['sizes']}")
        process, tasks = _spawn(["worker", "--base-url", base_url], ROOT)
        workers["this checkout"] = process
        plan = [("this checkout", task) for task in tasks]
        if args.baseline:
            process, base_tasks = _spawn(
                ["worker", "--base-url", base_url, "--client-only"], args.baseline.resolve()
            )
            workers["baseline"] = process
            plan += [("baseline", task) for task in base_tasks]
        times: Dict[Tuple[str, str], List[float]] = {key: [] for key in plan}
        for round_number in range(args.rounds):
            shift = round_number % len(plan)
            for name, task in plan[shift:] + plan[:shift]:
                times[(name, task)].append(_ask(workers[name], task))
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for process in [server, *workers.values()]:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=60)

    median = {key: statistics.median(values) for key, values in times.items()}
    per_job = 1 / args.jobs
    print(f"\nmedians of {args.rounds} interleaved rounds, {args.jobs} items per list")
    for (name, task), seconds in median.items():
        scale = per_job if task == "decode list per job" else 1.0
        print(f"  {name:14} {task:24} {_fmt(seconds * scale):>12}")
    print("\nratios (medians)")
    for name in workers:
        for what, top, bottom in RATIOS:
            top_key, bottom_key = (name, top), ("this checkout", bottom)
            if top_key in median and bottom_key in median:
                print(f"  {name:14} {what:44} {median[top_key] / median[bottom_key]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
