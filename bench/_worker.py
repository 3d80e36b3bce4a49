"""One measurement, run in a fresh interpreter: ``python _worker.py MODE ARGS-JSON``.

Prints one JSON object. Modes: retrieve-{ours,floor,sdk}, decode-{ours,ours-fast,floor,sdk},
download-ours. The ``sdk`` modes run in bench/.venv-together's interpreter.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from typing import Any, Callable, Dict, List


def _per_call(fn: Callable[[], Any], calls: int, warmup: int = 20) -> Dict[str, float]:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return {"seconds_per_call": (time.perf_counter() - start) / calls}


def _repeat(fn: Callable[[], Any], repeats: int) -> Dict[str, float]:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times)}


def retrieve(kind: str, a: Dict[str, Any]) -> Dict[str, float]:
    base, key, job_id, calls = a["base_url"], a["api_key"], a["job_id"], a["calls"]
    if kind == "ours":
        from together_finetune import Client

        client = Client(api_key=key, base_url=base)
        return _per_call(lambda: client.fine_tunes.retrieve(job_id), calls)
    if kind == "floor":
        import requests

        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        url = f"{base}/fine-tunes/{job_id}"

        def get() -> Any:
            answer = session.get(url, timeout=30)
            answer.raise_for_status()
            return json.loads(answer.content)

        return _per_call(get, calls)
    os.environ["TOGETHER_API_KEY"] = key
    os.environ["TOGETHER_BASE_URL"] = base.removesuffix("/v1")
    from together import Together

    sdk = Together(api_key=key, base_url=base.removesuffix("/v1"))
    return _per_call(lambda: sdk.fine_tuning.retrieve(job_id), calls)


def decode(kind: str, a: Dict[str, Any]) -> Dict[str, float]:
    with open(a["body_path"], "rb") as handle:
        raw = handle.read()
    body = json.loads(raw)
    repeats = a["repeats"]
    if kind == "floor":
        return _repeat(lambda: json.loads(raw), repeats)
    if kind in ("ours", "ours-fast"):
        if kind == "ours-fast":
            # The proposed fast path: the same converter built with detailed_validation=False.
            import functools

            import cattrs

            cattrs.Converter = functools.partial(cattrs.Converter, detailed_validation=False)  # type: ignore[misc]
        from typing import List as L

        from together_finetune.converter import decode as dec
        from together_finetune.models import FineTune

        result = _repeat(lambda: dec(body["data"], L[FineTune]), repeats)
        assert len(dec(body["data"], L[FineTune])) == len(body["data"])
        return result
    from together._models import construct_type, validate_type
    from together.types import FineTuningListResponse

    out = _repeat(lambda: construct_type(type_=FineTuningListResponse, value=body), repeats)
    strict = _repeat(lambda: validate_type(type_=FineTuningListResponse, value=body), repeats)
    out["strict_seconds"] = strict["seconds"]
    return out


def download(kind: str, a: Dict[str, Any]) -> Dict[str, float]:
    from together_finetune import Client

    client = Client(api_key=a["api_key"], base_url=a["base_url"], timeout=(5, 300))
    start = time.perf_counter()
    result = client.fine_tunes.download(a["job_id"], output=a["output"], overwrite=True)
    seconds = time.perf_counter() - start
    assert result.size == a["size"], (result.size, a["size"])
    assert len(result.sha256) == 64
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_rss_mib": peak_kib / 1024, "sha256": result.sha256}  # type: ignore[dict-item]


def main() -> int:
    mode, args = sys.argv[1], json.loads(sys.argv[2])
    what, _, kind = mode.partition("-")
    table: Dict[str, Callable[[str, Dict[str, Any]], Dict[str, float]]] = {
        "retrieve": retrieve,
        "decode": decode,
        "download": download,
    }
    print(json.dumps(table[what](kind, args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__: List[str] = []
