"""``python -m bench [--quick]``: print the control plane's figures."""

from __future__ import annotations

import argparse
import asyncio

from bench import api_load, blob_transfer
from bench.server import gosd_server


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests, a 50 MiB blob")
    args = parser.parse_args()
    with gosd_server() as server:
        asyncio.run(api_load.run(server, requests=500 if args.quick else 3000))
    with gosd_server() as server:
        blob_transfer.run(server, megabytes=50 if args.quick else 200)


if __name__ == "__main__":
    main()
