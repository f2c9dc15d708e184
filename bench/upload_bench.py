"""tus upload benchmark: one large file in fixed chunks to the API under gunicorn, and to @tus/server for comparison."""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
GUNICORN_CONFIG = ROOT / "scripts" / "gunicorn.conf.py"  # the server settings of make run, the image and the tests
NODE_MODULES = ROOT / "bench" / "node_modules"
SCRIPT_DIR = ROOT / "bench" / "out"  # git-ignored; the Node server script is written here so ESM finds node_modules
PASSWORD = "bench-upload-password-1"
WARM_UPS = 6
CLIP: list[bytes] = [b""]  # the short test video, reused by the warm-up uploads
COLLECTOR = "bench_uploader"
ABOUT = """\
Usage:  .venv/bin/python bench/upload_bench.py [--size-mib 1024] [--chunk-mib 8] [--workers 2] [--rounds 5]
                                               [--skip-node]

Steps: a file of --size-mib MiB (a valid MP4: one second of test video, then a `free` box of random bytes,
so ingest accepts it) in a fresh temporary folder; a fresh instance folder (SQLite, file storage, SQLite
queue with no worker running) with `liufang db upgrade` and a collector made by `liufang users create
--password-stdin`; gunicorn on 127.0.0.1 with the settings of `make run` (scripts/gunicorn.conf.py: gevent
workers, -w 2); log in; then one
tus upload per round: POST, then PATCHes of --chunk-mib MiB over one keep-alive connection. The time runs from the
POST to the answer of the last PATCH, so it includes what Liufang does and @tus/server does not: an fsync
per PATCH, the whole-file SHA-256 check and ingest (copying the original into storage) in the last PATCH;
"MB/s w/o last" leaves the last PATCH out. The server's RSS (sum of the gunicorn master and workers,
sampled every 20 ms) is compared with its value just before the upload, taken after six small warm-up
uploads on fresh connections (one-time imports in each worker are not counted; the Node server gets the
same warm-up). With Node and `cd bench && npm install --no-save --no-package-lock tus-js-client
@tus/server @tus/file-store`, @tus/server with FileStore gets the same file and chunk size from the same
client in the same run. Both servers stay up for --rounds rounds; each round uploads the file (8 bytes of its
padding changed, so Liufang stores a new material each time) to both, in alternating order, each upload
starting after `sync` (no writeback of earlier files competing), and the comparison is between the medians:
on a shared 2-core machine single uploads vary by +-20%. Last, --small-patches PATCHes of 64 KiB to each
server give the per-request latency that small chunks on a slow phone network pay.
"""

NODE_SERVER = """\
import http from "node:http";
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const [port, directory] = process.argv.slice(2);
const tus = new Server({ path: "/files", datastore: new FileStore({ directory }) });
http.createServer((req, res) => tus.handle(req, res)).listen(Number(port), "127.0.0.1", () => console.log("ready"));
"""


@dataclass
class Result:
    name: str
    seconds: float
    size: int
    rss_before: int
    rss_peak: int
    last_patch_seconds: float
    chunk: int

    @property
    def mb_per_s(self) -> float:
        return self.size / self.seconds / 1e6

    @property
    def transfer_mb_per_s(self) -> float:
        """Throughput without the last PATCH (which, for Liufang, includes the whole-file check and ingest)."""
        last_chunk = self.size - (self.size - 1) // self.chunk * self.chunk
        return (self.size - last_chunk) / (self.seconds - self.last_patch_seconds) / 1e6

    @property
    def growth_mib(self) -> float:
        return (self.rss_peak - self.rss_before) / 1024**2


def vary_file(path: Path, round_number: int) -> str:
    """Change the last 8 bytes of the padding (so every round uploads a new file) and return the new SHA-256."""
    with open(path, "r+b") as fh:
        fh.seek(-8, os.SEEK_END)
        fh.write(struct.pack(">Q", round_number))
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 * 1024**2):
            digest.update(block)
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_file(path: Path, size: int, work: Path) -> str:
    """Write a playable MP4 of exactly ``size`` bytes: one second of ffmpeg test video, then a ``free`` box of
    random bytes (skipped by players and by ingest's sniffing, as phones' files are not). Returns its SHA-256."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg is needed to make the benchmark video (make system-deps)")
    clip = work / "clip.mp4"
    subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
                    "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(clip)],
                   check=True)
    head = clip.read_bytes()
    CLIP[0] = head
    pad = size - len(head)
    if not 8 <= pad < 2**32:
        raise SystemExit("--size-mib must be between 1 and 4095")
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for part in (head, struct.pack(">I", pad) + b"free"):
            out.write(part)
            digest.update(part)
        left = pad - 8
        while left:
            block = os.urandom(min(left, 8 * 1024**2))
            out.write(block)
            digest.update(block)
            left -= len(block)
    assert path.stat().st_size == size
    return digest.hexdigest()


class RssSampler:
    """Samples the summed RSS of a process and its children in a thread.

    A process that a worker has forked but not yet exec'd (ffprobe about to start) shares every page of the worker
    and shows the worker's whole RSS: it is left out, or a sample taken in that instant would count the worker
    twice. Once it runs ffprobe (another executable) it is counted.
    """

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self._root_exe = self.root.exe()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                if proc.pid != self.root.pid and proc.ppid() != self.root.pid and proc.exe() == self._root_exe:
                    continue  # forked, not yet exec'd
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.02)

    def __enter__(self) -> "RssSampler":
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def tus_upload(base: str, create_path: str, file: Path, chunk: int, headers: dict[str, str], metadata: str,
               sampler: RssSampler, name: str) -> Result:
    """POST, then PATCH ``chunk`` bytes at a time over one keep-alive connection; times the whole upload."""
    size = file.stat().st_size
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    common = {"Tus-Resumable": "1.0.0", **headers}
    os.sync()  # start every upload with no dirty pages of earlier ones still being written back
    rss_before = sampler.current()
    with sampler:
        started = time.perf_counter()
        conn.request("POST", create_path, headers={**common, "Upload-Length": str(size), "Upload-Metadata": metadata})
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"{name}: creation answered {response.status}")
        location = response.getheader("Location")
        path = location if location.startswith("/") else "/" + location.split("/", 3)[3]
        offset = 0
        last = 0.0
        with open(file, "rb") as fh:
            while offset < size:
                body = fh.read(chunk)
                t0 = time.perf_counter()
                conn.request("PATCH", path, body=body, headers={
                    **common, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
                response = conn.getresponse()
                text = response.read()
                last = time.perf_counter() - t0
                if response.status != 204:
                    raise RuntimeError(f"{name}: PATCH at {offset} answered {response.status}: {text[:300]!r}")
                offset = int(response.getheader("Upload-Offset"))
        seconds = time.perf_counter() - started
    conn.close()
    return Result(name, seconds, size, rss_before, sampler.peak, last, chunk)


def small_patch_latencies(base: str, create_path: str, headers: dict[str, str], metadata: str, count: int,
                          size: int) -> list[float]:
    """Round-trip times of ``count`` PATCHes of ``size`` bytes on one keep-alive connection (an upload that is
    left unfinished): what a phone on a slow network, sending small chunks, waits for besides the network."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    common = {"Tus-Resumable": "1.0.0", **headers}
    conn.request("POST", create_path, headers={**common, "Upload-Length": str((count + 1) * size),
                                               "Upload-Metadata": metadata})
    response = conn.getresponse()
    response.read()
    location = response.getheader("Location")
    path = location if location.startswith("/") else "/" + location.split("/", 3)[3]
    body = os.urandom(size)
    times = []
    for number in range(count):
        t0 = time.perf_counter()
        conn.request("PATCH", path, body=body, headers={
            **common, "Upload-Offset": str(number * size), "Content-Type": "application/offset+octet-stream"})
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - t0)
        if response.status != 204:
            raise RuntimeError(f"small PATCH answered {response.status}")
    conn.close()
    return times


@dataclass
class Server:
    name: str
    upload: Callable[[Path, str], Result]
    small_patches: Callable[[int, int], list[float]]


def warm_up(base: str, create_path: str, chunk: int, headers: dict[str, str], metadata: str) -> None:
    """A few small uploads on new connections, so every worker has imported and touched its code paths once."""
    for _ in range(WARM_UPS):
        pad = 2 * 1024 * 1024
        video = CLIP[0] + struct.pack(">I", pad) + b"free" + os.urandom(pad - 8)
        created = requests.post(base + create_path, timeout=60, headers={
            **headers, "Upload-Length": str(len(video)), "Upload-Metadata": metadata, "Connection": "close"})
        created.raise_for_status()
        url = requests.compat.urljoin(base + create_path, created.headers["Location"])
        for offset in range(0, len(video), min(chunk, 1024 * 1024)):
            part = video[offset:offset + 1024 * 1024]
            answer = requests.patch(url, data=part, timeout=60, headers={
                **headers, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
                "Connection": "close"})
            if answer.status_code != 204:
                raise RuntimeError(f"warm-up PATCH answered {answer.status_code}: {answer.text[:300]}")


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.options(url, headers={"Tus-Resumable": "1.0.0"}, timeout=2).status_code in (200, 204):
                return
        time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url}:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def process_group(args: list[str], env: dict[str, str], log: Path, ready_url: str, cwd: Path) -> Iterator[int]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=out, start_new_session=True)
    try:
        wait_until_up(ready_url, proc, log)
        yield proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def run_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    subprocess.run([str(VENV_BIN / "liufang"), *args], env=env, input=stdin, text=True, check=True,
                   capture_output=True, cwd=ROOT)


@contextlib.contextmanager
def running_liufang(instance: Path, workers: int, log: Path, extra_env: dict[str, str] | None = None
                    ) -> Iterator[tuple[int, dict[str, str], int]]:
    """Liufang under gunicorn with scripts/gunicorn.conf.py (as `make run` serves it) on a fresh instance with one
    collector; yields (port, the collector's bearer headers, gunicorn's pid)."""
    env = {**os.environ, "LIUFANG_INSTANCE_PATH": str(instance), "LOG_LEVEL": "WARNING", **(extra_env or {})}
    for key in ("DATABASE_URL", "LIUFANG_QUEUE_URL", "LIUFANG_STORAGE_URL"):
        env.pop(key, None)
    run_cli(["db", "upgrade"], env)
    run_cli(["users", "create", COLLECTOR, "--role", "collector", "--password-stdin"], env, PASSWORD + "\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(VENV_BIN / "gunicorn"), "-c", str(GUNICORN_CONFIG), "-w", str(workers),
               "--bind", f"127.0.0.1:{port}"]
    with process_group(command, env, log, f"{base}/api/v1/uploads", ROOT) as pid:
        login = requests.post(f"{base}/api/v1/auth/login", json={"username": COLLECTOR, "password": PASSWORD},
                              timeout=30)
        login.raise_for_status()
        yield port, {"Authorization": f"Bearer {login.json()['access_token']}"}, pid


@contextlib.contextmanager
def liufang_server(work: Path, chunk: int, workers: int) -> Iterator[Server]:
    """Liufang under gunicorn, warmed up; uploads check the stored material's SHA-256."""
    instance = work / "instance"
    with running_liufang(instance, workers, work / "gunicorn.log") as (port, headers, pid):
        base = f"http://127.0.0.1:{port}"
        common = {"Tus-Resumable": "1.0.0", **headers}
        warm_up(base, "/api/v1/uploads", chunk, common, _metadata({"filename": "warm-up.mp4", "filetype": "video/mp4"}))

        name = f"Liufang (gunicorn gevent -w {workers})"

        def upload(file: Path, sha256: str) -> Result:
            metadata = _metadata({"filename": "bench.mp4", "filetype": "video/mp4", "sha256": sha256})
            result = tus_upload(base, "/api/v1/uploads", file, chunk, headers, metadata, RssSampler(pid), name)
            status = requests.get(f"{base}/api/v1/uploads/{_last_upload_id(instance)}", headers=headers, timeout=30)
            body = status.json()
            if body["status"] != "completed" or body["duplicate"]:
                raise RuntimeError(f"upload did not complete as a new material: {body}")
            material = requests.get(f"{base}/api/v1/materials/{body['material_id']}", headers=headers,
                                    timeout=30).json()
            if material["sha256"] != sha256:
                raise RuntimeError("stored SHA-256 differs from the file's")
            return result

        def small_patches(count: int, size: int) -> list[float]:
            return small_patch_latencies(base, "/api/v1/uploads", headers, _metadata({"filename": "small.mp4"}),
                                         count, size)

        yield Server(name, upload, small_patches)


def _metadata(values: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _last_upload_id(instance: Path) -> str:
    import sqlite3

    with contextlib.closing(sqlite3.connect(instance / "liufang.db")) as db:
        return db.execute("SELECT id FROM uploads ORDER BY created_at DESC LIMIT 1").fetchone()[0]


@contextlib.contextmanager
def running_tus_node(store: Path, log: Path) -> Iterator[tuple[int, int] | None]:
    """@tus/server with FileStore on Node, storing under ``store``; yields (port, pid), or None without Node or the
    packages `make` installs into bench/node_modules."""
    node = shutil.which("node")
    packages = (NODE_MODULES / "@tus" / "server", NODE_MODULES / "@tus" / "file-store")
    if node is None or not all(package.is_dir() for package in packages):
        print("@tus/server: skipped (needs node and `cd bench && npm install --no-save --no-package-lock "
              "tus-js-client @tus/server @tus/file-store`)")
        yield None
        return
    SCRIPT_DIR.mkdir(parents=True, exist_ok=True)
    script = SCRIPT_DIR / "tus-node-server.mjs"
    script.write_text(NODE_SERVER)
    store.mkdir()
    port = free_port()
    with process_group([node, str(script), str(port), str(store)], dict(os.environ), log,
                       f"http://127.0.0.1:{port}/files", ROOT) as pid:
        yield port, pid


@contextlib.contextmanager
def node_server(work: Path, chunk: int) -> Iterator[Server | None]:
    """@tus/server with FileStore, warmed up; yields an upload function, or None without Node or the packages."""
    store = work / "tus-node-files"
    with running_tus_node(store, work / "node.log") as running:
        if running is None:
            yield None
            return
        port, pid = running
        base = f"http://127.0.0.1:{port}"
        warm_up(base, "/files", chunk, {"Tus-Resumable": "1.0.0"}, _metadata({"filename": "warm-up.mp4"}))

        name = "@tus/server + FileStore"

        def upload(file: Path, _sha256: str) -> Result:
            before = {p.name for p in store.iterdir()}
            result = tus_upload(base, "/files", file, chunk, {}, _metadata({"filename": "bench.mp4"}),
                                RssSampler(pid), name)
            stored = [p for p in store.iterdir() if p.name not in before and p.stat().st_size == file.stat().st_size]
            if not stored:
                raise RuntimeError("@tus/server did not store the whole file")
            return result  # kept, as Liufang keeps its materials (deleting on a disk mounted with discard is slow)

        def small_patches(count: int, size: int) -> list[float]:
            return small_patch_latencies(base, "/files", {}, _metadata({"filename": "small.mp4"}), count, size)

        yield Server(name, upload, small_patches)


def _median(results: list[Result], key: Callable[[Result], float]) -> float:
    return statistics.median(key(r) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=ABOUT, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--chunk-mib", type=int, default=8, help="PATCH size in MiB (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="uploads to each server, compared by median (default 5)")
    parser.add_argument("--small-patches", type=int, default=300,
                        help="then time this many 64 KiB PATCHes on each server (default 300; 0: skip)")
    parser.add_argument("--skip-node", action="store_true", help="do not run @tus/server")
    args = parser.parse_args()
    size, chunk = args.size_mib * 1024**2, args.chunk_mib * 1024**2
    with tempfile.TemporaryDirectory(prefix="liufang-upload-bench-") as tmp:
        work = Path(tmp)
        file = work / "bench.mp4"
        make_file(file, size, work)
        print(f"file: {args.size_mib} MiB, chunks of {args.chunk_mib} MiB, loopback, {os.cpu_count()} CPUs, "
              f"Python {sys.version.split()[0]}, {args.rounds} rounds")
        results: dict[str, list[Result]] = {}
        with contextlib.ExitStack() as stack:
            servers = [stack.enter_context(liufang_server(work, chunk, args.workers))]
            if not args.skip_node:
                servers.append(stack.enter_context(node_server(work, chunk)))
            servers = [server for server in servers if server is not None]
            print(f"{'round':>5} {'server':40} {'seconds':>8} {'MB/s':>7} {'last PATCH s':>13} {'MB/s w/o last':>14} "
                  f"{'RSS before MiB':>15} {'RSS growth MiB':>15}")
            for round_number in range(1, args.rounds + 1):
                sha256 = vary_file(file, round_number)
                order = servers if round_number % 2 else servers[::-1]
                for server in order:
                    r = server.upload(file, sha256)
                    results.setdefault(r.name, []).append(r)
                    print(f"{round_number:5} {r.name:40} {r.seconds:8.2f} {r.mb_per_s:7.1f} "
                          f"{r.last_patch_seconds:13.2f} {r.transfer_mb_per_s:14.1f} "
                          f"{r.rss_before / 1024**2:15.1f} {r.growth_mib:15.1f}", flush=True)
            latencies = {server.name: server.small_patches(args.small_patches, 64 * 1024)
                         for server in servers if args.small_patches}
        print(f"\n{'median of ' + str(args.rounds) + ' rounds':46} {'seconds':>8} {'MB/s':>7} {'max RSS growth MiB':>19}")
        for name, rs in results.items():
            print(f"{name:46} {_median(rs, lambda r: r.seconds):8.2f} {_median(rs, lambda r: r.mb_per_s):7.1f} "
                  f"{max(r.growth_mib for r in rs):19.1f}")
        if len(results) == 2:
            ours, theirs = results.values()
            ratio = _median(ours, lambda r: r.mb_per_s) / _median(theirs, lambda r: r.mb_per_s)
            print(f"Liufang / @tus/server throughput (medians): {ratio:.2f}x (target >= 1.00x); "
                  f"Liufang RSS growth at most {max(r.growth_mib for r in ours):.1f} MiB (target <= 64 MiB)")
        for name, times in latencies.items():
            times = sorted(times)
            print(f"{name:46} {len(times)} PATCHes of 64 KiB: p50 {times[len(times) // 2] * 1e3:.2f} ms, "
                  f"p90 {times[len(times) * 9 // 10] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
