"""Settings of the example project: everything the Together client needs comes from the
environment, as in a twelve-factor deployment.

The app needs no database: it only reads the API.
"""

from __future__ import annotations

import os
from typing import Optional

# The Together client's configuration. None means: use the library's default.
TOGETHER_API_KEY: Optional[str] = os.environ.get("TOGETHER_API_KEY")
TOGETHER_BASE_URL: Optional[str] = os.environ.get("TOGETHER_BASE_URL")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = ["jobs"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "finetune_site.urls"
WSGI_APPLICATION = "finetune_site.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
