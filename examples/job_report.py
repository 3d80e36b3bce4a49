"""A data-science style report: every job of the account, counted by status, with the
final training loss of each completed job.

Plain standard library, so it runs anywhere. In a notebook, take a job's whole loss
curve as a DataFrame with ``client.fine_tunes.metrics_frame(job_id)`` (extra ``pandas``)
instead. Run it with::

    TOGETHER_API_KEY=... python examples/job_report.py
"""

from __future__ import annotations

import statistics
import sys
from collections import Counter
from typing import Optional

from together_finetune import Client


def report(client: Client) -> dict[str, object]:
    """Summarise the account's jobs: counts per status and final loss per finished job."""
    jobs = client.fine_tunes.list()
    by_status = Counter(job.status.value for job in jobs)
    losses: dict[str, float] = {}
    for job in jobs:
        if job.status != "completed":
            continue
        rows = client.fine_tunes.list_metrics(job.id)
        curve = [row["train/loss"] for row in rows if "train/loss" in row]
        if curve:
            losses[job.id] = curve[-1]
    return {
        "jobs": len(jobs),
        "by_status": dict(by_status),
        "final_loss": losses,
        "median_final_loss": statistics.median(losses.values()) if losses else None,
    }


def main(client: Optional[Client] = None) -> int:
    """Print the report for the account (a client from the environment by default)."""
    summary = report(client or Client())
    print(f"{summary['jobs']} jobs")
    for status, count in sorted(summary["by_status"].items()):  # type: ignore[attr-defined]
        print(f"  {status:<18} {count}")
    for job_id, loss in summary["final_loss"].items():  # type: ignore[attr-defined]
        print(f"  {job_id}  final train/loss {loss:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
