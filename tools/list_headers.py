#!/usr/bin/env python3
"""Prints every header under src/ and mocks/ (relative to the source root),
one per line, for the header self-containment check in tests/meson.build."""
import pathlib
import sys

root = pathlib.Path(sys.argv[1]).resolve()
for h in sorted((root / "src").rglob("*.h")):
    print(h.relative_to(root / "src"))
