#!/usr/bin/env python
"""Django's command-line utility for the example project.

Run it from this directory::

    TOGETHER_API_KEY=... python manage.py runserver
    TOGETHER_API_KEY=... python manage.py finetune_status ft-...
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run a Django management command."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finetune_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
