"""A benchmark helper process that talks JSON lines on stdout and stops when stdin closes.

``fleet_gen``, ``bare_subscriber`` and ``bare_broker`` follow this protocol, so the
parent can wait for ``ready``, let them work, then close their stdin and read ``done``.
Each is stopped by its own PID if it does not end by itself.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any


class Child:
    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def start(cls, module: str, *args: str, log: Path) -> Child:
        """``python -m module args...``; its stderr goes to ``log``."""
        with log.open("ab") as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                module,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                limit=1 << 20,
            )
        return cls(process, log)

    async def expect(self, key: str, timeout_s: float) -> dict[str, Any]:
        """The next JSON line carrying ``key``; raises with the log tail if none comes."""
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    line = await self.process.stdout.readline()
                    if not line:
                        break
                    message: dict[str, Any] = json.loads(line)
                    if key in message:
                        return message
        except TimeoutError:
            pass
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        raise RuntimeError(f"{self.log.stem} sent no {key!r} (pid {self.pid}):\n{tail}")

    async def finish(self, timeout_s: float = 60) -> dict[str, Any]:
        """Close stdin (the signal to stop) and answer its ``done`` line."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            return await self.expect("done", timeout_s)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """End the process by its PID if it is still running."""
        if self.process.returncode is not None:
            return
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
