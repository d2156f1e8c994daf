"""The embedded broker alone, for the fleet-load baseline: no API, no bridge, no router.

``python -m bench.bare_broker DATABASE_URL PORT PASSWORD`` runs ``EmbeddedBroker`` as
the control plane builds it (same login check against the same database, same ACL),
but in a process that does nothing else. Against the embedded broker, "no control
plane consuming" can only mean this: the real one lives inside the control plane.
Prints ``{"ready": ...}`` once it listens and stops when its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys

from bench.stats import raise_open_files
from control_plane.db.lifecycle import open_database
from control_plane.messaging.broker_login import broker_login
from control_plane.messaging.embedded_broker import EmbeddedBroker


async def main(database_url: str, port: int, password: str) -> None:
    raise_open_files(16_384)
    async with open_database(database_url, run_migrations=False):
        broker = EmbeddedBroker("127.0.0.1", port, broker_login(password))
        await broker.start()
        try:
            print(json.dumps({"ready": True, "port": broker.address[1]}), flush=True)
            await asyncio.to_thread(sys.stdin.read)
        finally:
            await broker.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
