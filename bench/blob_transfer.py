"""Upload and download of one large blob: throughput and the server's memory growth."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx

from bench.server import LOGIN, Server, peak_rss_bytes

CHUNK = bytes(range(256)) * 4096  # 1 MiB, generated: the client holds no whole file either


def _body(boundary: str, megabytes: int) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="big"; filename="big.bin"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for _ in range(megabytes):
        yield CHUNK
    yield f"\r\n--{boundary}--\r\n".encode()


def run(server: Server, *, megabytes: int) -> None:
    with httpx.Client(base_url=server.base_url, timeout=600) as client:
        r = client.post("/oauth/token", data=LOGIN)
        auth = {"Authorization": "Bearer " + r.json()["access_token"]}
        client.get("/api/v1/nodes/", headers=auth)  # warm up
        baseline = peak_rss_bytes(server.pid)
        start = time.perf_counter()
        r = client.post(
            "/api/v2/blobs/",
            content=_body("benchboundary", megabytes),
            headers={**auth, "Content-Type": "multipart/form-data; boundary=benchboundary"},
        )
        r.raise_for_status()
        upload_s = time.perf_counter() - start
        after_upload = peak_rss_bytes(server.pid)
        blob_id = r.json()["big"]
        start = time.perf_counter()
        received = 0
        with client.stream("GET", f"/api/v2/blobs/{blob_id}", headers=auth) as download:
            for part in download.iter_bytes():
                received += len(part)
        download_s = time.perf_counter() - start
        after_download = peak_rss_bytes(server.pid)
    mib = 2**20
    if received != megabytes * len(CHUNK):
        raise RuntimeError(f"downloaded {received} bytes, expected {megabytes * len(CHUNK)}")
    print(f"Blob transfer: {megabytes} MiB (server peak RSS before: {baseline / mib:.1f} MiB)")
    print(
        f"  upload    {megabytes / upload_s:7.1f} MiB/s  ({upload_s:.2f} s)  "
        f"server peak RSS growth {(after_upload - baseline) / mib:6.1f} MiB"
    )
    print(
        f"  download  {megabytes / download_s:7.1f} MiB/s  ({download_s:.2f} s)  "
        f"server peak RSS growth {(after_download - baseline) / mib:6.1f} MiB (since start)"
    )
