"""Fail when a test run skipped anything but the named skips (openapi-core on 3.9, the SDK).

Usage: python .ci/skips.py JUNIT_XML PYTHON_VERSION (e.g. 3.9). Reads the JUnit report
pytest wrote, prints how many tests skipped and why, and exits 1 if any skip has another
reason, or if that reason shows up on Python 3.10 or newer (where openapi-core runs).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter

# The accepted reasons. tests/support/conformance.py raises the first (NEEDS_PYTHON_310),
# on Python 3.9 only; tests/unit/test_sdk_fields.py the second (SDK_ABSENT), on any Python:
# the official SDK is never installed with this project, and its field table stands in.
ALLOWED = "spec conformance: openapi-core 0.23 needs Python 3.10 or newer"
ALLOWED_ANYWHERE = "official SDK not installed: the static table stands in for it"


def main(report: str, version: str) -> int:
    skipped = []
    # The report pytest just wrote, in this run: trusted input.
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314
        for skip in case.findall("skipped"):
            name = f"{case.get('classname')}::{case.get('name')}"
            skipped.append((name, skip.get("message", "")))
    before_310 = tuple(int(part) for part in version.split(".")[:2]) < (3, 10)
    reasons = Counter(message for _, message in skipped)
    print(f"Python {version}: {len(skipped)} tests skipped")
    for message, count in reasons.items():
        print(f"  {count} x {message}")
    unexpected = [
        (name, message)
        for name, message in skipped
        if not ((before_310 and ALLOWED in message) or ALLOWED_ANYWHERE in message)
    ]
    for name, message in unexpected:
        print(f"  unexpected skip: {name}: {message}", file=sys.stderr)
    for name, message in skipped:
        if (name, message) not in unexpected:
            print(f"  named skip: {name}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
