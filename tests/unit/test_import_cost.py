"""`import together_finetune` and `Client` load none of the heavy modules.

The HTTP stack (requests, ssl, urllib.request, http.client) and the decoding stack
(cattrs, tenacity) load with the first client or request, so a CLI's ``--help`` or a
web app's import stays fast.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("requests", "urllib3", "ssl", "urllib.request", "http.client", "cattrs", "tenacity")


def test_importing_the_package_and_its_client_class_loads_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import together_finetune\n"
        "together_finetune.Client, together_finetune.RetryPolicy\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
