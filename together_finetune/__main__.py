"""``python -m together_finetune``: the ``together-finetune`` command line."""

from __future__ import annotations

import sys

from together_finetune.cli import main

if __name__ == "__main__":
    sys.exit(main())
