"""Run a standalone fake Together API: ``python -m together_finetune.testing``.

Prints ``TOGETHER_BASE_URL=...`` and ``TOGETHER_API_KEY=...`` (and, with ``--tls``,
``REQUESTS_CA_BUNDLE=...``) and serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from typing import Any

from together_finetune.testing.server import FakeTogether

__all__ = ["serve"]


def serve(argv: list[str] | None = None) -> int:
    """Serve a fake Together fine-tuning API until interrupted; returns the exit status.

    :param argv: command-line arguments (default: ``sys.argv[1:]``): ``--host``, ``--port``
        (0: any free port), ``--step-seconds`` (seconds per job status step, default 1.0)
        ``--api-key`` (default: a random ``fake-...`` key) and ``--tls`` (serve HTTPS with a
        CA made for the run; its certificate's path is printed as ``REQUESTS_CA_BUNDLE``).
    """
    parser = argparse.ArgumentParser(
        prog="python -m together_finetune.testing",
        description="Serve a fake Together AI fine-tuning API for local testing.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=1.0,
        help="seconds between job status steps (default 1.0)",
    )
    parser.add_argument("--api-key", default=None, help="accepted API key (default: random)")
    parser.add_argument(
        "--tls", action="store_true", help="serve HTTPS (prints the CA file to trust)"
    )
    args = parser.parse_args(argv)
    if args.step_seconds <= 0:
        parser.error("--step-seconds must be positive")

    stopped = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopped.set()

    # Outside the main thread this raises ValueError: signals are then the caller's business.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, on_signal)

    fake = FakeTogether(
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        step_seconds=args.step_seconds,
        tls=args.tls,
    )
    fake.start()
    try:
        sys.stdout.write(f"TOGETHER_BASE_URL={fake.base_url}\nTOGETHER_API_KEY={fake.api_key}\n")
        if args.tls:
            sys.stdout.write(f"REQUESTS_CA_BUNDLE={fake.ca_bundle}\n")
        sys.stdout.flush()
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
