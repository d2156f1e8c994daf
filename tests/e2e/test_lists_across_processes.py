"""A running server shows, within a second, the nodes another process adds or removes.

The server keeps each group's node list for a moment between requests; a change by the
``gosd`` CLI (another process on the same database) must still show within a second,
while clients poll the list all along. SQLite, and PostgreSQL under
``GOSD_TEST_DATABASE=postgres``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.conftest import login
from tests.e2e.processes import gosd, gosd_env, json_of, running
from tests.support import POLL_S, until

pytestmark = pytest.mark.integration

WITHIN_S = 1.0


async def test_nodes_added_and_removed_by_the_cli_show_within_1_s(
    database_url: str, tmp_path: Path
) -> None:
    env = gosd_env(tmp_path, GOSD_DATABASE_URL=database_url)
    with running("serve", "--port", "0", env=env) as (base_url, _):
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            auth = await login(client, path="/oauth/token")

            async def names() -> list[str]:
                r = await client.get("/api/v1/nodes/", headers=auth)
                assert r.status_code == 200
                return [n["name"] for n in r.json()]

            async def poll_until(done: asyncio.Event) -> None:
                while not done.is_set():  # the list stays remembered all along
                    await names()
                    await asyncio.sleep(POLL_S)

            async def cli(*args: str) -> dict[str, object]:
                done = asyncio.Event()
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(poll_until(done))
                    try:
                        result = await asyncio.to_thread(gosd, *args, "--json", env=env)
                    finally:
                        done.set()
                out: dict[str, object] = json_of(result)
                return out

            async def shows(expected: list[str]) -> None:
                """Within ``WITHIN_S`` of the command's end, the list is ``expected``."""

                async def listed() -> bool:
                    return await names() == expected

                await until(listed, f"the list shows {expected}", within=WITHIN_S)

            assert await names() == []
            node = await cli("nodes", "add", "from-the-shell", "--type", "air", "--group", "demo")
            await shows(["from-the-shell"])
            await cli("nodes", "remove", str(node["id"]))
            await shows([])
