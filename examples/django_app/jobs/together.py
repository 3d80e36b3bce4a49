"""The process's one Together client, created when this module is first imported.

A :class:`~together_finetune.Client` is safe to share between the threads of a process
and survives a ``fork``: under gunicorn ``--preload`` it is created in the master and
each worker opens its own connections. Import ``client`` from here; never build one per
request (each would open new connections).
"""

from __future__ import annotations

from django.conf import settings

from together_finetune import Client

client = Client(api_key=settings.TOGETHER_API_KEY, base_url=settings.TOGETHER_BASE_URL)
