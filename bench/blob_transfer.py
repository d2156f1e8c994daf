"""Upload and download of one large blob: throughput and the server's memory growth."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx

from bench.server import LOGIN, Server, peak_rss_bytes, rss_bytes

CHUNK = bytes(range(256)) * 4096  # 1 MiB, generated: the client holds no whole file either


def _body(boundary: str, megabytes: int) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="big"; filename="big.bin"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for _ in range(megabytes):
        yield CHUNK
    yield f"\r\n--{boundary}--\r\n".encode()


class RssSampler:
    """Samples a process's current RSS every 10 ms in a thread; ``peak`` is the highest seen.

    VmHWM alone cannot show growth that stays under the start-up peak; this can.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run(server: Server, *, megabytes: int) -> None:
    with httpx.Client(base_url=server.base_url, timeout=600) as client:
        r = client.post("/oauth/token", data=LOGIN)
        auth = {"Authorization": "Bearer " + r.json()["access_token"]}
        client.get("/api/v1/nodes/", headers=auth)  # warm up
        startup_peak = peak_rss_bytes(server.pid)
        before = rss_bytes(server.pid)
        with RssSampler(server.pid) as up:
            start = time.perf_counter()
            r = client.post(
                "/api/v2/blobs/",
                content=_body("benchboundary", megabytes),
                headers={**auth, "Content-Type": "multipart/form-data; boundary=benchboundary"},
            )
            r.raise_for_status()
            upload_s = time.perf_counter() - start
        blob_id = r.json()["big"]
        with RssSampler(server.pid) as down:
            start = time.perf_counter()
            received = 0
            with client.stream("GET", f"/api/v2/blobs/{blob_id}", headers=auth) as download:
                for part in download.iter_bytes():
                    received += len(part)
            download_s = time.perf_counter() - start
    mib = 2**20
    if received != megabytes * len(CHUNK):
        raise RuntimeError(f"downloaded {received} bytes, expected {megabytes * len(CHUNK)}")
    print(
        f"Blob transfer: {megabytes} MiB (server RSS before: {before / mib:.1f} MiB, "
        f"start-up peak {startup_peak / mib:.1f} MiB; RSS sampled every 10 ms)"
    )
    print(
        f"  upload    {megabytes / upload_s:7.1f} MiB/s  ({upload_s:.2f} s)  "
        f"server RSS growth (peak - before) {(up.peak - before) / mib:6.1f} MiB"
    )
    print(
        f"  download  {megabytes / download_s:7.1f} MiB/s  ({download_s:.2f} s)  "
        f"server RSS growth (peak - before) {(down.peak - before) / mib:6.1f} MiB"
    )
