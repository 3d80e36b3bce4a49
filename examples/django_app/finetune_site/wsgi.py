"""The WSGI entry point, e.g. ``gunicorn --preload --workers 2 finetune_site.wsgi``.

With ``--preload`` the project (and so the Together client) is loaded once in gunicorn's
master process, before it forks the workers; each worker then opens its own connections.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finetune_site.settings")

application = get_wsgi_application()
