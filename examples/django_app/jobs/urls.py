"""The app's URLs."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [path("jobs/", views.job_list, name="job-list")]
