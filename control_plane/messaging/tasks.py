"""Stopping background tasks for sure.

On Python 3.11, ``asyncio.wait_for`` (used inside aiomqtt) can swallow a cancellation
when the awaited call completes in the same loop iteration; the task then carries on
(a reconnect loop forever). So a task is cancelled again until it has really ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

_RETRY_S = 0.2


async def cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=_RETRY_S)
