"""Start a throw-away PostgreSQL server on 127.0.0.1 for the test session (initdb runs as the postgres user)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator


def find_pg_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database; the server and its files are removed afterwards."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise RuntimeError("PostgreSQL binaries not found (install postgresql, or run `make test`)")
    root = Path(tempfile.mkdtemp(prefix="liufang-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        pg_user = pwd.getpwnam("postgres")
        os.chown(root, pg_user.pw_uid, pg_user.pw_gid)
    port = _free_port()
    run = lambda args: subprocess.run(_as_postgres(args), check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run([str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"])
        run([str(pg_bin / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "server.log"), "-o",
             f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", "start"])
        deadline = time.monotonic() + 20
        while True:
            probe = subprocess.run(_as_postgres([str(pg_bin / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U",
                                                 "postgres", "-c", "CREATE DATABASE liufang_test"]),
                                   capture_output=True, text=True)
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {probe.stderr}")
            time.sleep(0.2)  # real waiting: polling the PostgreSQL server process until it accepts connections
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/liufang_test"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
