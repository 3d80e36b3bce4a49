"""The project's URLs: the jobs app at the root."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("", include("jobs.urls"))]
