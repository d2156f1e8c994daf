"""``gosd agent``: run the edge agent of one node.

    gosd agent --config agent.toml [--driver KIND] [--log-level LEVEL]

Exit codes: 0 after a clean stop (SIGINT/SIGTERM: the node reports ``offline``), 1 when
the agent failed, 2 for a configuration it cannot use, 3 when the broker refused the
node's credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import signal
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from edge_agent.drivers import DriverConfigError, load_driver
from edge_agent.link import LinkAuthError, parse_broker_url
from edge_agent.supervisor import Supervisor
from shared import agent_config
from shared.agent_config import AgentConfig, ConfigError

log = logging.getLogger("edge_agent")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gosd agent", description="Run a node's edge agent.")
    parser.add_argument("--config", required=True, type=Path, help="the agent's TOML file")
    parser.add_argument("--driver", help="driver kind, overriding driver.kind of the file")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    return parser


async def _run(supervisor: Supervisor) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():  # a second signal: show what holds the stop up
            for task in asyncio.all_tasks():
                log.warning("still running: %r", task)
                for frame in task.get_stack():
                    log.warning("  at %s:%d", frame.f_code.co_filename, frame.f_lineno)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await supervisor.run(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _lock_data_dir(data_dir: Path) -> IO[bytes]:
    """Hold an exclusive lock on the data dir for the life of the process.

    Two agents of one node would fight over the outbox and kick each other off the
    broker (same client id); the second one refuses to start instead.
    """
    handle = (data_dir / "agent.lock").open("wb")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigError(f"another agent is running with data_dir {data_dir}") from None
    return handle


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the first ``kind`` inside (nested) exception groups."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find(inner, kind)
            if found is not None:
                return found
    return None


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    level = str(args.log_level).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        print(f"gosd agent: --log-level {args.log_level!r} is not a level", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config: AgentConfig = agent_config.load(args.config, driver_kind=args.driver or None)
        parse_broker_url(config.broker.url)
        if config.broker.keepalive_s < 1 or config.agent.telemetry_hz <= 0:
            raise ConfigError("broker.keepalive_s must be >= 1 and agent.telemetry_hz > 0")
        driver = load_driver(config.driver.kind, config.driver.settings)
        data_dir = Path(config.agent.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = _lock_data_dir(data_dir)
        supervisor = Supervisor(config, driver)
    except (ConfigError, DriverConfigError) as exc:
        print(f"gosd agent: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as exc:
        print(f"gosd agent: cannot use agent.data_dir: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_run(supervisor))
    except Exception as exc:  # the supervisor boundary: report and exit non-zero
        refused = _find(exc, LinkAuthError)
        if refused is not None:
            print(f"gosd agent: {refused}", file=sys.stderr)
            return 3
        unusable = _find(exc, DriverConfigError)
        if unusable is not None:  # found on start: a connection URL the driver cannot open
            print(f"gosd agent: {unusable}", file=sys.stderr)
            return 2
        log.exception("the agent failed")
        return 1
    finally:
        lock.close()
    log.info("stopped")
    return 0
