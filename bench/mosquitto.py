"""Mosquitto for benchmarks, on the files ``gosd mqtt config`` writes for the fleet.

As in ``tests/e2e/fleet.py``: the generated config plus ``user root`` (Mosquitto run as
root would drop to user ``mosquitto``, which cannot read the 0600 password and ACL
files). ``configure`` is called again after nodes were added: it rewrites the files
and sends SIGHUP, which makes Mosquitto reload the password and ACL files.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench.server import cli, stop_process

BINARY = Path("/usr/sbin/mosquitto")
HOST = "127.0.0.1"


class Mosquitto:
    def __init__(self, out_dir: Path, port: int) -> None:
        self.out_dir = out_dir
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def configure(self, server_env: dict[str, str]) -> None:
        """Write the files for every node in the database, then start or reload."""
        cli("mqtt", "config", "--out", str(self.out_dir), "--listen", f"{HOST}:{self.port}",
            env=server_env)  # fmt: skip
        conf = self.out_dir / "mosquitto.conf"
        with conf.open("a", encoding="utf-8") as f:
            f.write(f"user root\nlog_dest file {self.out_dir / 'mosquitto.log'}\n")
        if self.process is None:
            self.process = subprocess.Popen(
                [str(BINARY), "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self._wait_listening()
        else:
            os.kill(self.process.pid, signal.SIGHUP)
            time.sleep(0.5)  # the reload is asynchronous; there is nothing to wait on

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, within=10)
