"""Prints, last in CI's output, why each failed test failed (from pytest's JUnit XML):
the test and the end of its traceback, where the assertion is. CI's own log may be cut
in the middle; these lines come after everything else.

    python scripts/failures.py DIR/*.xml
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

TAIL_LINES = 25


def main(paths: list[str]) -> int:
    failed = 0
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            print(f"failures: cannot read {path}: {exc}")
            continue
        for case in root.iter("testcase"):
            for problem in [*case.findall("failure"), *case.findall("error")]:
                failed += 1
                print(f"\n=== {problem.tag}: {case.get('classname')}::{case.get('name')}")
                text = (problem.text or problem.get("message") or "").rstrip().splitlines()
                print("\n".join(text[-TAIL_LINES:]))
    print(f"\nfailures: {failed} failed test(s) in {len(paths)} report(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
