"""``gosd``: the one command-line program (serve, demo, accounts, nodes, broker, migrations).

Data commands open the configured database (``GOSD_DATABASE_URL``, default SQLite in
``GOSD_DATA_DIR``), migrate it, do one thing and print the result; ``--json`` prints
it for scripts. Errors go to stderr with exit status 1 (2 for usage errors).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from control_plane.db.lifecycle import open_database, upgrade
from control_plane.demo import run_demo
from control_plane.errors import GosdError
from control_plane.messaging.mosquitto_config import write_mosquitto_config
from control_plane.server import serve
from control_plane.services import accounts, agent_setup, nodes
from control_plane.services.hashing import new_secret
from control_plane.services.nodes import NodeWrite, PointWrite
from control_plane.services.principal import Principal
from control_plane.settings import Settings, SettingsError, broker_url, listen_address
from control_plane.stopping import StopRequested
from shared import agent_config
from shared.enums import NodeType
from shared.topics import CONTROL_PLANE_USERNAME

ADMIN = Principal(kind="user", id=0, group_id=0, name="gosd-cli", is_admin=True)
"""The CLI acts as an administrator (whoever can run it can read the database)."""


def _print(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    if as_json:
        print(msgspec.json.encode(data).decode())
    else:
        print(text(data))


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


def _point(value: str) -> PointWrite:
    kind, sep, name = value.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--point takes TYPE:NAME, not {value!r}")
    try:
        return msgspec.convert({"point_type_name": kind, "name": name}, PointWrite)
    except msgspec.ValidationError as exc:
        raise argparse.ArgumentTypeError(f"--point {value!r}: {exc}") from None


def _write_agent_config(
    settings: Settings, node_id: int, secret: str, node_type: NodeType, path: Path | None
) -> None:
    if path is not None:
        config = agent_setup.agent_config(settings, node_id, secret, node_type)
        agent_config.write(config, path)
        print(f"agent configuration written to {path}", file=sys.stderr)


def _listen(value: str) -> tuple[str, int]:
    try:
        return listen_address(value, "--listen")
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gosd", description="gosd drone fleet system")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", help="run the control plane")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)

    sub.add_parser(
        "agent",
        help="run the edge agent of a node (gosd agent --config PATH); see gosd agent --help",
        add_help=False,
    )
    sub.add_parser(
        "sim",
        help="run simulated PX4 vehicles (gosd sim --vehicles N); see gosd sim --help",
        add_help=False,
    )

    d = sub.add_parser("demo", help="control plane with demo accounts on a throw-away data dir")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=0, help="0 (default): any free port")

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply pending migrations")

    users = sub.add_parser("users", help="people who log in").add_subparsers(
        dest="action", required=True
    )
    ua = users.add_parser("add", help="create a user")
    ua.add_argument("username")
    ua.add_argument("password")
    ua.add_argument("--admin", action="store_true")
    ua.add_argument("--group", help="default: a group named after the user")
    users.add_parser("list", help="list users")
    up = users.add_parser("passwd", help="set a password (and lift a lock-out)")
    up.add_argument("username")
    up.add_argument("password")
    ur = users.add_parser("remove", help="delete a user")
    ur.add_argument("username")

    clients = sub.add_parser("clients", help="OAuth clients people log in through")
    cs = clients.add_subparsers(dest="action", required=True)
    ca = cs.add_parser("add", help="register a client (a secret is generated unless given)")
    ca.add_argument("client_id")
    ca.add_argument("--secret")
    cs.add_parser("list", help="list clients")
    cr = cs.add_parser("remove", help="delete a client")
    cr.add_argument("client_id")

    nodes_p = sub.add_parser("nodes", help="drones and depots").add_subparsers(
        dest="action", required=True
    )
    na = nodes_p.add_parser("add", help="create a node; prints its id and secret once")
    na.add_argument("name")
    na.add_argument("--type", required=True, choices=["air", "depot"])
    na.add_argument("--group", help="default: the first group (or one named 'default')")
    na.add_argument("--description", default="")
    na.add_argument(
        "--point",
        action="append",
        type=_point,
        default=[],
        metavar="TYPE:NAME",
        help="e.g. livestream_flv:camera (repeatable)",
    )
    na.add_argument(
        "--agent-config",
        type=Path,
        metavar="PATH",
        help="also write the node's edge agent configuration (secret included) there",
    )
    nodes_p.add_parser("list", help="list nodes of every group")
    ns = nodes_p.add_parser("secret", help="give a node a new secret; the old one stops working")
    ns.add_argument("id", type=int)
    ns.add_argument("--agent-config", type=Path, metavar="PATH", help="write a fresh agent config")
    nr = nodes_p.add_parser("remove", help="delete a node")
    nr.add_argument("id", type=int)

    mqtt = sub.add_parser("mqtt", help="the MQTT broker").add_subparsers(
        dest="action", required=True
    )
    mc = mqtt.add_parser(
        "config",
        help="write Mosquitto's config, password and ACL files for every node",
        description="The control plane's broker password is GOSD_MQTT_URL's; without one, "
        "a new password is generated and the GOSD_MQTT_URL to use is printed once. "
        "Run again after nodes change, then reload Mosquitto (SIGHUP).",
    )
    mc.add_argument("--out", type=Path, required=True, metavar="DIR")
    mc.add_argument(
        "--listen",
        type=_listen,
        metavar="HOST:PORT",
        help="where Mosquitto listens (default: GOSD_MQTT_LISTEN)",
    )

    for parser in (
        mc,
        ua,
        users.choices["list"],
        up,
        ur,
        ca,
        cs.choices["list"],
        cr,
        na,
        nodes_p.choices["list"],
        ns,
        nr,
    ):
        parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    return p


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    as_json = getattr(args, "json", False)
    cmd, action = args.command, getattr(args, "action", None)
    if cmd == "db":
        await upgrade(settings.effective_database_url)
        print("database is up to date")
        return 0
    async with open_database(settings.effective_database_url):
        if (cmd, action) == ("users", "add"):
            u = await accounts.add_user(
                args.username, args.password, is_admin=args.admin, group=args.group
            )
            _print(u, as_json, lambda u: f"user {u.username} (id {u.id}) in group {u.group.name}")
        elif (cmd, action) == ("users", "list"):
            _print(
                await accounts.list_users(),
                as_json,
                lambda us: _table(
                    [(u.id, u.username, u.group.name, "yes" if u.is_admin else "") for u in us],
                    ["ID", "USERNAME", "GROUP", "ADMIN"],
                ),
            )
        elif (cmd, action) == ("users", "passwd"):
            await accounts.set_password(args.username, args.password)
            _print({"username": args.username}, as_json, lambda _: "password changed")
        elif (cmd, action) == ("users", "remove"):
            await accounts.remove_user(args.username)
            _print({"username": args.username}, as_json, lambda _: "user removed")
        elif (cmd, action) == ("clients", "add"):
            c = await accounts.add_client(args.client_id, args.secret)
            _print(
                c,
                as_json,
                lambda c: (
                    f"client {c.client_id}, secret {c.secret}"
                    if not args.secret
                    else f"client {c.client_id}"
                ),
            )
        elif (cmd, action) == ("clients", "list"):
            _print(
                await accounts.list_clients(),
                as_json,
                lambda cs: _table([(c.client_id,) for c in cs], ["CLIENT_ID"]),
            )
        elif (cmd, action) == ("clients", "remove"):
            await accounts.remove_client(args.client_id)
            _print({"client_id": args.client_id}, as_json, lambda _: "client removed")
        elif (cmd, action) == ("nodes", "add"):
            data = NodeWrite(
                name=args.name,
                type_name=NodeType(args.type),
                description=args.description,
                points=args.point,
            )
            group = args.group or await nodes.default_group_name()
            n = await nodes.create_node(ADMIN, data, group=group)
            _write_agent_config(settings, n.id, n.secret, data.type_name, args.agent_config)
            _print(
                {"id": n.id, "secret": n.secret},
                as_json,
                lambda d: f"node {d['id']} created; its secret (shown once): {d['secret']}",
            )
        elif (cmd, action) == ("nodes", "secret"):
            secret, node_type = await nodes.rotate_any_secret(args.id)
            _write_agent_config(settings, args.id, secret, node_type, args.agent_config)
            _print(
                {"id": args.id, "secret": secret},
                as_json,
                lambda d: f"node {d['id']} has a new secret (shown once): {d['secret']}",
            )
        elif (cmd, action) == ("nodes", "list"):
            _print(
                await nodes.list_all_nodes(),
                as_json,
                lambda ns: _table(
                    [
                        (
                            n.id,
                            n.name,
                            n.type_name,
                            g,
                            ", ".join(p.point_type_name for p in n.points),
                        )
                        for g, n in ns
                    ],
                    ["ID", "NAME", "TYPE", "GROUP", "POINTS"],
                ),
            )
        elif (cmd, action) == ("nodes", "remove"):
            await nodes.remove_node(args.id)
            _print({"id": args.id}, as_json, lambda _: "node removed")
        elif (cmd, action) == ("mqtt", "config"):
            _print(await _mqtt_config(args, settings), as_json, _mqtt_config_text)
        else:  # pragma: no cover - argparse allows nothing else
            raise AssertionError(f"unhandled command {cmd} {action}")
    return 0


async def _mqtt_config(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    listen = args.listen or listen_address(settings.mqtt_listen, "GOSD_MQTT_LISTEN")
    url = broker_url(settings.mqtt_url) if settings.mqtt_url else None
    if url is not None and url.username != CONTROL_PLANE_USERNAME:
        raise SettingsError(f"GOSD_MQTT_URL must log in as {CONTROL_PLANE_USERNAME}")
    password = url.password if url is not None and url.password else new_secret()
    paths = write_mosquitto_config(
        args.out,
        listen=listen,
        control_plane_password=password,
        nodes=await nodes.broker_accounts(),
    )
    new_url = None
    if url is None or not url.password:
        host, port = listen
        host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
        host = f"[{host}]" if ":" in host else host
        new_url = f"mqtt://{CONTROL_PLANE_USERNAME}:{password}@{host}:{port}"
    return {"files": [str(p) for p in paths], "mqtt_url": new_url}


def _mqtt_config_text(result: dict[str, Any]) -> str:
    lines = [f"wrote {f}" for f in result["files"]]
    if result["mqtt_url"]:
        lines.append("the control plane's broker password is new; run it with (shown once):")
        lines.append(f"GOSD_MQTT_URL={result['mqtt_url']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gosd`` program."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"gosd: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # amqtt configures the root logger when it is imported
    )
    for chatty in ("tortoise", "amqtt", "transitions"):
        # Their INFO lines narrate every connection and state change of the broker.
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            serve(settings, host=args.host, port=args.port)
            return 0
        if args.command == "demo":
            return run_demo(settings, host=args.host, port=args.port)
        return asyncio.run(_run(args, settings))
    except GosdError as exc:
        print(f"gosd: {exc.message}", file=sys.stderr)
        return 1
    except SettingsError as exc:
        print(f"gosd: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"gosd: {exc}", file=sys.stderr)
        return 1
    except StopRequested:  # SIGINT or SIGTERM to ``serve``/``demo``: a requested stop
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
