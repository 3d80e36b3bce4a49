"""``python manage.py finetune_status JOB``: one job's status, from Together's API."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from together_finetune import NotFoundError, TogetherError

from ...together import client


class Command(BaseCommand):
    """Print a fine-tuning job's status (exit status 1 when it cannot be read)."""

    help = "Show the status of a fine-tuning job."

    def add_arguments(self, parser: CommandParser) -> None:
        """One argument: the job id."""
        parser.add_argument("job", help="the job id, ft-...")

    def handle(self, *args: Any, **options: Any) -> None:
        """Retrieve the job and print its status and progress."""
        job_id = options["job"]
        try:
            job = client.fine_tunes.retrieve(job_id)
        except NotFoundError:
            raise CommandError(f"no job {job_id}") from None
        except (ValueError, TogetherError) as exc:
            raise CommandError(str(exc)) from None
        steps = ""
        if job.total_steps:
            steps = f"  step {job.steps_completed or 0}/{job.total_steps}"
        self.stdout.write(f"{job.id}  {job.status.value}{steps}")
        if job.is_terminal and job.model_output_name:
            self.stdout.write(f"model: {job.model_output_name}")
