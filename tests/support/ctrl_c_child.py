"""The child process of the Ctrl-C tests (``tests/client/test_ctrl_c.py``).

Usage::

    python ctrl_c_child.py wait JOB
    python ctrl_c_child.py download JOB TARGET CONNECTIONS

It reads ``TOGETHER_API_KEY`` / ``TOGETHER_BASE_URL``, starts the call and prints ``busy``
once the call is under way (the first poll seen, or the first bytes on disk): the parent
then sends a real SIGINT. When the ``KeyboardInterrupt`` arrives it prints ``interrupted
DONE`` (the bytes the last progress report counted); if the call ended by itself it prints
``finished`` and exits 1. Then it waits for a line on stdin and makes the same call again
with the same client, printing ``again RESULT`` (the job's status, or the file's sha256).
"""

from __future__ import annotations

import sys
from typing import Callable, Optional

from together_finetune import Client, FineTune


def say(*words: object) -> None:
    """One line to the parent, at once."""
    print(*words, flush=True)


def main(argv: list[str]) -> int:
    """Run the call named by ``argv``; the exit status."""
    mode, job_id = argv[0], argv[1]
    client = Client(timeout=(2.0, 10.0))
    done = [0]

    def call(first: bool) -> str:
        if mode == "wait":

            def on_update(job: FineTune) -> None:
                if first:
                    say("busy")

            # The first call sleeps long between polls: only the interrupt can end it.
            interval = 60.0 if first else 0.05
            return client.fine_tunes.wait(
                job_id, poll_interval=interval, on_update=on_update
            ).status.value

        def progress(so_far: int, total: Optional[int]) -> None:
            if first and done[0] == 0 and so_far > 0:
                say("busy")
            done[0] = so_far

        report: Callable[[int, Optional[int]], None] = progress
        result = client.fine_tunes.download(
            job_id,
            checkpoint="merged",
            output=argv[2],
            connections=int(argv[3]),
            progress=report,
        )
        return result.sha256

    try:
        call(True)
    except KeyboardInterrupt:
        say("interrupted", done[0])
    else:
        say("finished")
        return 1
    sys.stdin.readline()  # the parent lets the call go on
    say("again", call(False))
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
