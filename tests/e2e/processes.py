"""Running ``gosd`` as a real process, the way an operator does."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tests.conftest import IN_CI
from tests.support import stop_process

_URL = re.compile(r"control plane at (http://\S+/gosd)")
_PLAYER = re.compile(r"(http://\S+/gosd/player/\?src=\S+)")


def gosd_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOSD_")}
    env.update(
        {
            "GOSD_DATA_DIR": str(data_dir),
            "GOSD_LOG_LEVEL": "WARNING",
            # The embedded broker on any free port: 1883 may be another broker's.
            "GOSD_MQTT_LISTEN": "127.0.0.1:0",
            **extra,
        }
    )
    return env


def gosd(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one ``gosd`` command to completion."""
    result = subprocess.run(
        [sys.executable, "-m", "control_plane.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"gosd {' '.join(args)} failed: {result.stderr}")
    return result


@contextmanager
def running(
    *args: str, env: dict[str, str], output: list[str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``gosd serve``/``gosd demo``; yields its base URL once it listens.

    The server binds its socket before printing the URL, so requests sent after the
    line has appeared wait in the listen queue instead of failing. ``output`` receives
    every line it prints, up to then and after (read on a thread, so a chatty server
    never blocks on a full pipe).
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "control_plane.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    drain: threading.Thread | None = None
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:
            seen.append(line)
            match = _URL.search(line)
            if match:
                if output is not None:
                    output += seen
                    drain = threading.Thread(target=_read_on, args=(proc.stdout, output))
                    drain.start()
                yield match.group(1), proc
                break
        else:
            raise AssertionError("gosd exited without serving:\n" + "".join(seen))
    finally:
        stop_process(proc, signal.SIGINT, within=20)
        if drain is not None:
            drain.join()  # the process is gone: its output ends
        if proc.stdout is not None:
            proc.stdout.close()


def _read_on(lines: IO[str], output: list[str]) -> None:
    for line in lines:
        output.append(line)


def player_url(printed: list[str]) -> str:
    """The player URL ``gosd demo`` printed (drone 1's camera, with a viewer token)."""
    found = [m.group(1) for line in printed if (m := _PLAYER.search(line))]
    assert found, "the demo prints no player URL:\n" + "".join(printed)
    return found[0]


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


__all__ = ["IN_CI", "gosd", "gosd_env", "json_of", "player_url", "running"]
