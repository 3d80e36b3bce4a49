"""The ``jobs`` app."""

from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Fine-tuning jobs from Together's API."""

    name = "jobs"
