"""``gosd sim``: simulated PX4 vehicles on the PX4 SITL port convention."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the simulator (being built: issue 4)."""
    parser = argparse.ArgumentParser(prog="gosd sim", description=__doc__)
    parser.parse_args(argv)
    print("gosd sim: not built yet", file=sys.stderr)
    return 2
