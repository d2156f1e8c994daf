"""``gosd agent``: run the edge agent of one node."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    print("gosd agent: not built yet", file=sys.stderr)
    return 2
