"""The ``together-finetune`` command-line tool (also ``python -m together_finetune``).

Configuration comes from ``TOGETHER_API_KEY`` and ``TOGETHER_BASE_URL``, overridable
with ``--api-key`` / ``--base-url`` before the subcommand. Exit codes: 0 success,
1 an API or network error (or ``wait`` on a job that failed or was cancelled, or
``files check`` on a bad dataset), 2 a usage error or a rejected argument, such as a
file refused by the dataset check before upload (nothing was sent), 130 interrupted.

Only the standard library is imported at start-up; each command imports the parts
of the library it needs, so ``together-finetune --help`` stays fast.

The rooms: :mod:`.app` is the entry point (the parser, dispatch and exit codes);
:mod:`.arguments` holds the argument types, :mod:`.output` the tables, blocks, JSON
and masking, :mod:`.base` what every command shares (the client, registration, the
ID checks); each command group has its flags next to its handlers in :mod:`.jobs`,
:mod:`.create`, :mod:`.files` and :mod:`.misc`.
"""

from __future__ import annotations

from .app import main
from .base import PROG, UsageError

__all__ = ["PROG", "UsageError", "main"]
