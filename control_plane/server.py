"""Running the control plane under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import Callable, Iterator

import uvicorn

from control_plane.app import create_app
from control_plane.settings import Settings, listen_address
from control_plane.stopping import stop_calls, stop_raises

GRACEFUL_STOP_S = 5
"""How long a stop waits for open requests to end (a live stream never ends by itself)
before it cancels them and stops the app (bridge, embedded broker)."""


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: ``serve_on`` handles SIGINT and
    SIGTERM itself (uvicorn would raise the signal again once stopped, and a re-raised
    SIGTERM kills the process before the caller's clean-up runs)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one. Raises OSError when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this. Without it, a response written in two parts
    # waits for the client's delayed ACK: ~40 ms per request (measured: 22 vs 527 req/s).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def serve_on(
    settings: Settings, sock: socket.socket, *, on_stop: Callable[[], None] | None = None
) -> None:
    """Serve the app on an already bound socket until SIGINT or SIGTERM (or cancelled).

    A stop signal first calls ``on_stop`` (the demo stops its agents while their broker
    still runs), then shuts the server down gracefully; a second one forces it.
    """
    config = uvicorn.Config(
        create_app(settings),
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_STOP_S,
    )
    server = _Server(config)

    def stop() -> None:
        if on_stop is not None:
            on_stop()
        if server.should_exit:
            server.force_exit = True
        server.should_exit = True

    # Everything imported so far lives as long as the process: leave it out of the
    # collector's full passes, which otherwise pause the loop (65-116 ms seen at 500
    # nodes of telemetry).
    gc.freeze()
    with stop_calls(stop):
        await server.serve(sockets=[sock])


def check_broker_port(settings: Settings) -> None:
    """Fail now, with the setting to change, when the embedded broker's port is taken.

    The broker itself starts later, in the app's lifespan, where a failure would be a
    traceback among uvicorn's start-up messages.
    """
    if settings.mqtt_url:
        return
    host, port = listen_address(settings.mqtt_listen, "GOSD_MQTT_LISTEN")
    if port == 0:
        return
    try:
        bind(host, port).close()
    except OSError as exc:
        raise OSError(
            f"{exc} for the embedded MQTT broker: set GOSD_MQTT_LISTEN to a free host:port, "
            "or GOSD_MQTT_URL to use a broker that runs already"
        ) from None


def serve(settings: Settings, *, host: str, port: int) -> None:
    """``gosd serve``: bind first so a taken port is a clear error, then serve until
    SIGINT or SIGTERM (``StopRequested`` when one comes before or after serving)."""
    with stop_raises():
        check_broker_port(settings)
        sock = bind(host, port)
        print(
            f"gosd: control plane at http://{host}:{sock.getsockname()[1]}{settings.base_path}",
            flush=True,
        )
        asyncio.run(serve_on(settings, sock))
