"""Rebuild the player page's vendored JavaScript from the npm registry, or check it.

``python web/vendor.py`` (``just vendor-player``) runs ``npm ci`` here, which fetches
exactly what ``package-lock.json`` pins and checks each tarball against the lock's
``integrity``; it then copies the files the page needs into ``control_plane/player/vendor``
and records their sha256 in ``vendored.json``. The suite compares the shipped files with
that record offline (``tests/unit/test_player_vendor.py``), so a hand edit of a vendored
file fails CI.

``python web/vendor.py --check`` re-derives the files from the registry without changing
anything: ``npm pack`` fetches each locked tarball, its sha512 is compared with the lock,
and the files inside are compared byte for byte with the shipped ones (needs the network
or npm's cache).

Node and npm are needed only here; installing and running gosd never needs them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

WEB = Path(__file__).resolve().parent
ROOT = WEB.parent
VENDOR = ROOT / "control_plane" / "player" / "vendor"
RECORD = WEB / "vendored.json"

WANTED: dict[str, dict[str, str]] = {
    # package -> {file inside the package: name in the vendor folder}
    "mpegts.js": {
        "dist/mpegts.js": "mpegts.js",
        # The bundle's first line points at this notice (es6-promise, bundled in).
        "dist/mpegts.js.LICENSE.txt": "mpegts.js.LICENSE.txt",
        "LICENSE": "LICENSE.mpegts.js",
    },
    # Bundled into dist/mpegts.js by its webpack build: their licences travel with it.
    "es6-promise": {"LICENSE": "LICENSE.es6-promise"},
    "events": {"LICENSE": "LICENSE.events"},
}


def locked() -> dict[str, dict[str, str]]:
    """``{package: {version, integrity}}`` of the packages we ship, from the lock."""
    lock = json.loads((WEB / "package-lock.json").read_text())
    out = {}
    for name in WANTED:
        entry = lock["packages"][f"node_modules/{name}"]
        out[name] = {"version": entry["version"], "integrity": entry["integrity"]}
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rebuild() -> None:
    subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=WEB, check=True
    )
    pins = locked()
    VENDOR.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = {}
    for name, files in WANTED.items():
        installed = WEB / "node_modules" / name
        version = json.loads((installed / "package.json").read_text())["version"]
        if version != pins[name]["version"]:
            sys.exit(f"npm ci installed {name} {version}, the lock says {pins[name]['version']}")
        digests = {}
        for inside, shipped in files.items():
            data = (installed / inside).read_bytes()
            (VENDOR / shipped).write_bytes(data)
            digests[shipped] = {"from": inside, "sha256": sha256(data)}
        record[name] = {**pins[name], "files": digests}
    RECORD.write_text(json.dumps(record, indent=2) + "\n")
    shipped = ", ".join(f"{name} {pin['version']}" for name, pin in pins.items())
    print(f"vendored {shipped} into {VENDOR}")


def check() -> int:
    """Fetch each locked tarball, verify it against the lock, compare the shipped files."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, pin in locked().items():
            spec = f"{name}@{pin['version']}"
            subprocess.run(
                ["npm", "pack", spec, "--pack-destination", tmp, "--silent"],
                cwd=tmp,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            tarball = next(Path(tmp).glob(f"{name}-{pin['version']}.tgz"))
            blob = tarball.read_bytes()
            digest = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
            if digest != pin["integrity"]:
                problems.append(f"{spec}: tarball {digest} is not the lock's {pin['integrity']}")
                continue
            with tarfile.open(fileobj=io.BytesIO(blob)) as archive:
                for inside, shipped in WANTED[name].items():
                    member = archive.extractfile(f"package/{inside}")
                    assert member is not None
                    if member.read() != (VENDOR / shipped).read_bytes():
                        problems.append(f"{VENDOR / shipped} differs from {spec}'s {inside}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("the vendored files are the locked packages' files")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="compare, change nothing")
    args = parser.parse_args()
    if shutil.which("npm") is None:
        sys.exit("npm is needed here (apt-get install npm); installing gosd never needs it")
    if args.check:
        return check()
    rebuild()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
