"""Slow phones benchmark: many tus PATCH bodies trickling in at 32 KiB/s while another client makes cheap requests
and one small upload, against Liufang (the settings of `make run`) and against @tus/server with FileStore."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import io
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import psutil
import requests
from PIL import Image

from upload_bench import _metadata, running_liufang, running_tus_node

ABOUT = """\
Usage:  .venv/bin/python bench/slow_clients_bench.py [--clients 50 200] [--seconds 30] [--workers 2] [--skip-node]

For each number of slow clients and each server (Liufang under gunicorn with scripts/gunicorn.conf.py, as `make
run` starts it: gevent workers, SQLite, local media; and @tus/server 2 with FileStore on Node, as bench/upload_bench.py
starts it), on a fresh server:

  * the slow clients: that many tus uploads are created, then each sends a PATCH declaring 8 MiB and delivers its
    body at 32 KiB/s (4 KiB every 1/8 s) over its own real socket (asyncio, in a process of its own), started over
    the first 2 s; none finishes within the run. A client whose connection the server closes or answers early
    counts as failed.
  * meanwhile, once all are sending, another client makes cheap requests for --seconds, one at a time, each on a
    new connection, 20 a second: for Liufang GET /api/health and GET /api/v1/auth/me (with a token), for
    @tus/server OPTIONS /files and HEAD of an upload; a request fails on an error, a wrong status or no answer in
    10 s. Reported: p50, p99 and max of their times (failed ones included, with the time they took), and failures.
  * and a third client makes one small upload (a 256 KiB image: tus POST, then one PATCH) after a third of the
    window and again after two thirds; reported: the time of each, from the POST to the PATCH's answer.
  * the server's RSS (the sum over the gunicorn master and workers, or the Node process) is sampled every 0.25 s:
    idle before the slow clients connect, and the peak during the run.

The load average (`uptime`) is printed with every run: this machine may be shared. Targets at 200 slow clients:
cheap requests p99 <= 100 ms with 0 failures, each small upload within 1 s.
"""

BODY_LENGTH = 8 * 1024 * 1024   # what each slow PATCH declares: more than it sends in any run
PIECE = 4096                    # sent every PIECE / RATE seconds
RATE = 32 * 1024                # bytes per second per slow client
RAMP_SECONDS = 2.0
CHEAP_INTERVAL = 0.05
CHEAP_TIMEOUT = 10.0
SMALL_SIZE = 256 * 1024


@dataclass
class Target:
    """Where the benchmark sends what, and how it authenticates (an empty dict: no authentication)."""

    name: str
    host: str
    port: int
    create_path: str
    headers: dict[str, str]
    cheap: list[tuple[str, str, int]]  # (method, path, expected status)
    small_metadata: Callable[[bytes], str]
    pid: int


@dataclass
class Run:
    target: str
    clients: int
    cheap_ms: list[float] = field(default_factory=list)
    cheap_failures: list[str] = field(default_factory=list)
    small_seconds: list[float] = field(default_factory=list)
    small_failures: list[str] = field(default_factory=list)
    slow_failures: int = 0
    slow_bytes: int = 0
    rss_idle: int = 0
    rss_peak: int = 0
    load_before: str = ""
    load_after: str = ""


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def rss(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn: master and workers), bytes."""
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


# --- the slow clients (a process of their own, so their sending does not delay the cheap requests' client) ---------

async def _slow_client(host: str, port: int, head: bytes, delay: float, seconds: float, started: asyncio.Event,
                       stats: dict[str, int]) -> None:
    await asyncio.sleep(delay)
    reader, writer = await asyncio.open_connection(host, port)
    answered = asyncio.ensure_future(reader.read(1))  # anything from the server before the end is a failure
    try:
        writer.write(head)
        payload = os.urandom(PIECE)
        loop = asyncio.get_running_loop()
        begin = loop.time()
        sent = 0
        while loop.time() - begin < seconds and not answered.done():
            writer.write(payload)
            await writer.drain()
            sent += PIECE
            if sent == PIECE:
                stats["sending"] += 1
                if stats["sending"] == stats["clients"]:
                    started.set()
            await asyncio.sleep(max(0.0, begin + sent / RATE - loop.time()))
        stats["bytes"] += sent
        if answered.done():
            stats["failed"] += 1
    except OSError:
        stats["failed"] += 1
    finally:
        answered.cancel()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _slow_clients(host: str, port: int, heads: list[bytes], seconds: float, ready: multiprocessing.Queue
                        ) -> dict[str, int]:
    stats = {"clients": len(heads), "sending": 0, "bytes": 0, "failed": 0}
    started = asyncio.Event()
    count = len(heads)
    tasks = [asyncio.ensure_future(_slow_client(host, port, head, RAMP_SECONDS * i / count,
                                                seconds + RAMP_SECONDS * (count - i) / count, started, stats))
             for i, head in enumerate(heads)]
    waiting = asyncio.ensure_future(started.wait())
    await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
    ready.put("sending")
    await asyncio.gather(*tasks, return_exceptions=True)
    waiting.cancel()
    return stats


def slow_clients_process(host: str, port: int, heads: list[bytes], seconds: float, ready: multiprocessing.Queue,
                         results: multiprocessing.Queue) -> None:
    results.put(asyncio.run(_slow_clients(host, port, heads, seconds, ready)))


# --- the other clients --------------------------------------------------------------------------------------------

def timed_request(target: Target, method: str, path: str, headers: dict[str, str], body: bytes | None = None
                  ) -> tuple[float, int, http.client.HTTPResponse, bytes]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection(target.host, target.port, timeout=CHEAP_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return time.perf_counter() - started, response.status, response, data


def cheap_requests(target: Target, seconds: float, run: Run) -> None:
    end = time.monotonic() + seconds
    turn = 0
    while time.monotonic() < end:
        method, path, expected = target.cheap[turn % len(target.cheap)]
        turn += 1
        started = time.perf_counter()
        try:
            _, status, _, _ = timed_request(target, method, path, {**target.headers, "Tus-Resumable": "1.0.0"})
            if status != expected:
                run.cheap_failures.append(f"{method} {path}: {status}")
        except OSError as exc:
            run.cheap_failures.append(f"{method} {path}: {exc!r}")
        run.cheap_ms.append((time.perf_counter() - started) * 1000)  # a failed request counts with its time too
        time.sleep(CHEAP_INTERVAL)


def small_image() -> bytes:
    """A JPEG of noise of SMALL_SIZE bytes (new bytes each time, so never a duplicate): a photo, as far as ingest
    can tell, padded after its end marker as some phones' files are."""
    out = io.BytesIO()
    Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3)).save(out, format="JPEG", quality=90)
    data = out.getvalue()
    if len(data) >= SMALL_SIZE:
        raise RuntimeError("the noise image came out larger than expected")
    return data + os.urandom(SMALL_SIZE - len(data))


def small_uploads(target: Target, seconds: float, run: Run) -> None:
    for _ in range(2):
        time.sleep(seconds / 3)
        data = small_image()
        common = {**target.headers, "Tus-Resumable": "1.0.0"}
        started = time.perf_counter()
        try:
            _, status, response, body = timed_request(target, "POST", target.create_path, {
                **common, "Upload-Length": str(len(data)), "Upload-Metadata": target.small_metadata(data)})
            if status != 201:
                raise RuntimeError(f"POST answered {status}: {body[:200]!r}")
            location = response.getheader("Location") or ""
            path = location if location.startswith("/") else "/" + location.split("/", 3)[3]
            _, status, _, body = timed_request(target, "PATCH", path, {
                **common, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, data)
            if status != 204:
                raise RuntimeError(f"PATCH answered {status}: {body[:200]!r}")
            run.small_seconds.append(time.perf_counter() - started)
        except (OSError, RuntimeError) as exc:
            run.small_failures.append(repr(exc))


def create_uploads(target: Target, count: int) -> list[bytes]:
    """Create ``count`` uploads; returns the head of a PATCH of BODY_LENGTH bytes for each."""
    heads = []
    session = requests.Session()
    for _ in range(count):
        created = session.post(f"http://{target.host}:{target.port}{target.create_path}", timeout=30, headers={
            **target.headers, "Tus-Resumable": "1.0.0", "Upload-Length": str(BODY_LENGTH),
            "Upload-Metadata": _metadata({"filename": "interview.m4a"})})
        if created.status_code != 201:
            raise RuntimeError(f"{target.name}: creating an upload answered {created.status_code}: {created.text}")
        location = created.headers["Location"]
        path = location if location.startswith("/") else "/" + location.split("/", 3)[3]
        lines = [f"PATCH {path} HTTP/1.1", f"Host: {target.host}:{target.port}", "Tus-Resumable: 1.0.0",
                 "Upload-Offset: 0", "Content-Type: application/offset+octet-stream",
                 f"Content-Length: {BODY_LENGTH}", *(f"{k}: {v}" for k, v in target.headers.items())]
        heads.append(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
    session.close()
    return heads


def measure(target: Target, clients: int, seconds: float) -> Run:
    run = Run(target.name, clients, load_before=load_average())
    heads = create_uploads(target, clients)
    run.rss_idle = rss(target.pid)
    context = multiprocessing.get_context("fork")
    ready, results = context.Queue(), context.Queue()
    senders = context.Process(target=slow_clients_process,
                              args=(target.host, target.port, heads, seconds + 1.0, ready, results))
    senders.start()
    ready.get(timeout=60)
    peak = [rss(target.pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.25):
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], rss(target.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    small = threading.Thread(target=small_uploads, args=(target, seconds, run), daemon=True)
    sampler.start()
    small.start()
    cheap_requests(target, seconds, run)
    small.join(60)
    stats = results.get(timeout=120)
    senders.join(30)
    stop.set()
    sampler.join(5)
    run.rss_peak = peak[0]
    run.slow_failures, run.slow_bytes = stats["failed"], stats["bytes"]
    run.load_after = load_average()
    return run


# --- the servers --------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def liufang(work: Path, workers: int) -> Iterator[Target]:
    instance = work / f"instance-{time.monotonic_ns()}"
    with running_liufang(instance, workers, instance.parent / "gunicorn.log",
                         {"LIUFANG_AUTO_TRANSCRIBE": "false", "LIUFANG_AUTO_OCR": "false"}) as (port, headers, pid):
        for _ in range(4):  # every worker imports and touches its code once (requests land on either)
            requests.get(f"http://127.0.0.1:{port}/api/v1/auth/me", headers=headers, timeout=30).raise_for_status()
        yield Target(f"Liufang (gunicorn gevent -w {workers})", "127.0.0.1", port, "/api/v1/uploads", headers,
                     [("GET", "/api/health", 200), ("GET", "/api/v1/auth/me", 200)],
                     lambda data: _metadata({"filename": "photo.png", "filetype": "image/png"}), pid)


@contextlib.contextmanager
def tus_node(work: Path) -> Iterator[Target | None]:
    with running_tus_node(work / f"tus-node-files-{time.monotonic_ns()}", work / "node.log") as running:
        if running is None:
            yield None
            return
        port, pid = running
        base = f"http://127.0.0.1:{port}"
        probe = requests.post(f"{base}/files", timeout=30, headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": "10", "Upload-Metadata": _metadata({"filename": "probe"})})
        probe.raise_for_status()
        location = probe.headers["Location"]
        head_path = location if location.startswith("/") else "/" + location.split("/", 3)[3]
        yield Target("@tus/server + FileStore", "127.0.0.1", port, "/files", {},
                     [("OPTIONS", "/files", 204), ("HEAD", head_path, 200)],
                     lambda data: _metadata({"filename": "photo.png"}), pid)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def report(runs: list[Run]) -> None:
    print(f"\n{'server':34} {'slow':>5} {'cheap n':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} {'fail':>5} "
          f"{'small upload s':>15} {'slow fail':>9} {'RSS idle→peak MiB':>18} {'load before / after':>24}")
    for r in runs:
        small = ", ".join(f"{s:.2f}" for s in r.small_seconds) + (f" +{len(r.small_failures)} failed"
                                                                   if r.small_failures else "")
        print(f"{r.target:34} {r.clients:5} {len(r.cheap_ms):7} {statistics.median(r.cheap_ms):7.1f} "
              f"{percentile(r.cheap_ms, 0.99):7.1f} {max(r.cheap_ms):8.1f} {len(r.cheap_failures):5} {small:>15} "
              f"{r.slow_failures:9} {r.rss_idle / 1024**2:8.0f} → {r.rss_peak / 1024**2:6.0f}"
              f" {r.load_before + ' / ' + r.load_after:>24}")
        for failure in (r.cheap_failures[:3] + r.small_failures[:3]):
            print(f"    {failure}")
    ours = {r.clients: r for r in runs if r.target.startswith("Liufang")}
    theirs = {r.clients: r for r in runs if not r.target.startswith("Liufang")}
    for clients in sorted(ours.keys() & theirs.keys()):
        a, b = ours[clients], theirs[clients]
        print(f"{clients} slow clients: cheap-request p99 Liufang / @tus/server = "
              f"{percentile(a.cheap_ms, 0.99):.1f} / {percentile(b.cheap_ms, 0.99):.1f} ms "
              f"({percentile(a.cheap_ms, 0.99) / percentile(b.cheap_ms, 0.99):.2f}x), p50 "
              f"{statistics.median(a.cheap_ms) / statistics.median(b.cheap_ms):.2f}x; RSS growth "
              f"{(a.rss_peak - a.rss_idle) / 1024**2:.1f} / {(b.rss_peak - b.rss_idle) / 1024**2:.1f} MiB")
    if 200 in ours:
        r = ours[200]
        met = (percentile(r.cheap_ms, 0.99) <= 100 and not r.cheap_failures and not r.slow_failures
               and len(r.small_seconds) == 2 and max(r.small_seconds) <= 1.0)
        print(f"targets at 200 (p99 <= 100 ms, 0 failures, small upload <= 1 s): {'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=ABOUT, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200], help="slow clients per run")
    parser.add_argument("--seconds", type=float, default=30.0, help="cheap requests for this long (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as make run)")
    parser.add_argument("--skip-node", action="store_true", help="do not run @tus/server")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, slow clients at {RATE // 1024} KiB/s each, "
          f"cheap requests every {CHEAP_INTERVAL * 1000:.0f} ms for {args.seconds:.0f} s", flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="liufang-slow-clients-") as tmp:
        work = Path(tmp)
        for clients in args.clients:
            servers = [lambda: liufang(work, args.workers)] + ([] if args.skip_node else [lambda: tus_node(work)])
            for start in servers:
                with start() as target:
                    if target is None:
                        continue
                    run = measure(target, clients, args.seconds)
                    runs.append(run)
                    print(f"  {target.name}, {clients} slow clients: {len(run.cheap_ms)} cheap requests, "
                          f"p99 {percentile(run.cheap_ms, 0.99):.1f} ms, load {run.load_after}", flush=True)
    report(runs)


if __name__ == "__main__":
    main()
