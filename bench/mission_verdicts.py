"""Which mission files fly: ``python -m bench.mission_verdicts`` prints, for every file in
``../shared/missions`` (files written outside the project, when that folder is there) and
``tests/missions`` (the project's own, one per dialect rule), whether a plan made of it is
accepted or refused, and why, as the control plane decides at plan write: parsed
(``shared.mission``), then checked as PX4 would take it (``feasibility``, default limits,
the file's own home and fence). A table of figures, not a test: the tests assert each
file's verdict where its rule is tested.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from shared.mission import MissionFileError, parse_mission_file
from shared.mission.feasibility import check_feasible

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "../shared/missions": ROOT.parent / "shared" / "missions",
    "tests/missions": ROOT / "tests" / "missions",
}
MISSION_SUFFIXES = frozenset({".plan", ".waypoints", ".txt", ".mission"})


def verdict(path: Path) -> tuple[str, str]:
    """``("accepted", summary)`` or ``("refused", where and why)``."""
    try:
        parsed = parse_mission_file(path.read_bytes(), filename=path.name)
        check_feasible(parsed)
    except MissionFileError as exc:
        return "refused", str(exc)
    return "accepted", parsed.summary()


def run(width: int = 110) -> None:
    counts: Counter[tuple[str, str]] = Counter()
    for name, folder in FOLDERS.items():
        if not folder.is_dir():
            print(f"{name}: not there, skipped")
            continue
        print(f"\n{name}\n")
        print("| file | verdict | why |\n|---|---|---|")
        for path in sorted(folder.iterdir()):
            if path.suffix not in MISSION_SUFFIXES:
                continue
            outcome, why = verdict(path)
            counts[(name, outcome)] += 1
            text = why if len(why) <= width else why[: width - 1] + "…"
            print(f"| {path.name} | {outcome} | {text.replace('|', '/')} |")
    print()
    for name in FOLDERS:
        print(f"{name}: {counts[(name, 'accepted')]} accepted, {counts[(name, 'refused')]} refused")


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.mission_verdicts", description=__doc__)
    parser.add_argument("--width", type=int, default=110, help="longest reason shown")
    run(parser.parse_args().width)


if __name__ == "__main__":
    main()
