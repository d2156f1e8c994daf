"""The player page's vendored JavaScript is the locked npm package's, unedited.

``web/package-lock.json`` pins mpegts.js (and the two packages its bundle carries) with
the registry's sha512 of each tarball; ``web/vendor.py`` (run with ``npm ci``, which
checks those sha512s) copied the files out of the tarballs and recorded their sha256 in
``web/vendored.json``. These tests run offline: they tie the record to the lock, and the
shipped files to the record, so a hand edit of a vendored file, a file added beside them,
or a lock bump without a re-vendor fails. ``just vendor-player-check`` re-derives the files
from the registry's tarballs themselves (online).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from control_plane.api.player_page import FILES, PLAYER_DIR

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
VENDOR = PLAYER_DIR / "vendor"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def mismatches(vendor: Path, record: dict[str, Any]) -> list[str]:
    """How the files in ``vendor`` differ from ``record`` (nothing: they are the same)."""
    expected = {
        shipped: entry["sha256"]
        for package in record.values()
        for shipped, entry in package["files"].items()
    }
    present = {path.name for path in vendor.iterdir()}
    problems = [f"{name} is not a vendored file" for name in sorted(present - set(expected))]
    problems += [f"{name} is missing" for name in sorted(set(expected) - present)]
    for name in sorted(present & set(expected)):
        digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        if digest != expected[name]:
            problems.append(f"{name} has sha256 {digest}, not the package's {expected[name]}")
    return problems


def test_the_package_is_pinned_to_one_version() -> None:
    wanted = load(WEB / "package.json")["dependencies"]
    assert wanted == {"mpegts.js": "1.8.2"}, "pin an exact version: no ranges"
    lock = load(WEB / "package-lock.json")
    assert lock["packages"][""]["dependencies"] == wanted
    assert lock["packages"]["node_modules/mpegts.js"]["version"] == "1.8.2"


def test_the_record_is_of_the_locked_tarballs() -> None:
    lock = load(WEB / "package-lock.json")["packages"]
    record = load(WEB / "vendored.json")
    assert set(record) == {"mpegts.js", "es6-promise", "events"}
    for name, entry in record.items():
        locked = lock[f"node_modules/{name}"]
        assert (entry["version"], entry["integrity"]) == (
            locked["version"],
            locked["integrity"],
        ), f"{name}: re-run web/vendor.py after changing the lock"
        assert entry["integrity"].startswith("sha512-")


def test_the_shipped_files_are_the_recorded_ones() -> None:
    assert mismatches(VENDOR, load(WEB / "vendored.json")) == []


def test_a_hand_edit_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    bundle = copy / "mpegts.js"
    bundle.write_bytes(bundle.read_bytes().replace(b"isLive", b"isLivf", 1))
    (copy / "extra.js").write_text("alert(1)")

    problems = mismatches(copy, load(WEB / "vendored.json"))

    assert problems[0] == "extra.js is not a vendored file"
    assert problems[1].startswith("mpegts.js has sha256 ")
    assert len(problems) == 2


def test_the_licences_travel_with_the_bundle() -> None:
    bundle = (VENDOR / "mpegts.js").read_bytes()
    # The bundle's first line names the notice of what it bundles; it is shipped.
    assert bundle.startswith(b"/*! For license information please see mpegts.js.LICENSE.txt */")
    assert b"es6-promise" in (VENDOR / "mpegts.js.LICENSE.txt").read_bytes()
    assert b"Apache License" in (VENDOR / "LICENSE.mpegts.js").read_bytes()
    for name in ("LICENSE.es6-promise", "LICENSE.events"):
        assert (
            b"MIT" in (VENDOR / name).read_bytes()
            or b"Permission is hereby granted" in (VENDOR / name).read_bytes()
        )


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_file_the_page_serves_exists(name: str) -> None:
    assert (PLAYER_DIR / name).is_file()
