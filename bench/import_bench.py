"""Bulk import speed: `liufang import` of a few hundred files (photos, recordings, scans) — the check, the real run
and a rerun that finds everything imported — in rows/s and MB/s, beside a plain copy of the same folder measured
in the same run (the reference: what moving the bytes alone costs on this disk)."""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _wav(path: Path, seconds: float, rng: random.Random) -> None:
    """A mono 16-bit 44.1 kHz WAV of noise (what a digitised tape is, byte-wise)."""
    frames = int(44_100 * seconds)
    data = rng.randbytes(frames * 2)
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, 44_100, 88_200, 2, 16) + b"data" + struct.pack("<I", len(data))
    path.write_bytes(header + data)


def _collection(root: Path, files: int, rng: random.Random) -> tuple[Path, int]:
    """A legacy collection: four photos (JPEG, ~0.3–1 MB) to every recording (WAV, 2–6 s), one person per ten
    files; returns the manifest and the total bytes."""
    from PIL import Image

    rows: list[dict[str, str]] = []
    persons = max(1, files // 10)
    for number in range(persons):
        rows.append({"类型/type": "人物", "编号/ref": f"P{number}", "姓名/name": f"测试人物{number}",
                     "类别/category": ("好人", "名家", "乡贤")[number % 3]})
    total = 0
    for number in range(files):
        person = f"P{number % persons}"
        recording = number % 5 == 4
        relative = f"录音/第{number:04d}号 访谈.wav" if recording else f"老照片/第{number:04d}张.jpg"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        if recording:
            _wav(root / relative, rng.uniform(2, 6), rng)
        else:
            side = rng.randint(500, 900)
            Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).save(root / relative, "JPEG",
                                                                                    quality=85)
        total += (root / relative).stat().st_size
        rows.append({"类型/type": "文件", "编号/ref": f"F{number}", "文件/path": relative, "人物/persons": person,
                     "标题/title": f"旧藏第{number}号"})
    manifest = root.parent / "清单.csv"
    header = ["类型/type", "编号/ref", "姓名/name", "类别/category", "文件/path", "人物/persons", "标题/title"]
    with open(manifest, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])
    return manifest, total


def _plain_copy(source: Path, target: Path) -> float:
    started = time.perf_counter()
    shutil.copytree(source, target)
    for path in target.rglob("*"):  # the import's commits are durable; so is the reference
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="copies of the reference (median)")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from backend import create_app, transaction
    from backend.extensions import db
    from backend.models import Material
    from backend.services.users import create_user

    folder = Path(tempfile.mkdtemp(prefix="liufang-import-bench-"))
    rng = random.Random(14)
    started = time.perf_counter()
    manifest, total = _collection(folder / "旧藏", args.files, rng)
    rows = args.files + max(1, args.files // 10)
    print(f"{args.files} files + {rows - args.files} persons, {total / 1e6:.1f} MB, made in "
          f"{time.perf_counter() - started:.1f} s (in the page cache for every measurement below)")
    # Processing jobs are queued, not run: the workers make derivatives later (their cost is media_bench's).
    app = create_app({"SECRET_KEY": "bench-secret-key-long-enough-for-hs256", "INSTANCE_PATH": str(folder / "inst"),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db", "QUEUE_URL": "memory",
                      "PASSWORD_HASH_PROFILE": "test", "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        with transaction.atomic():
            create_user(None, username="archivist", password="bench-password-1", roles=["archivist"])
    runner = app.test_cli_runner()

    def timed(*extra: str) -> float:
        began = time.perf_counter()
        result = runner.invoke(args=["import", str(folder / "旧藏"), "--manifest", str(manifest), "--as",
                                     "archivist", *extra])
        elapsed = time.perf_counter() - began
        if result.exit_code != 0:
            raise SystemExit(f"import failed: {result.output}")
        return elapsed

    copies = []
    for number in range(args.rounds):
        copies.append(_plain_copy(folder / "旧藏", folder / f"copy-{number}"))
        shutil.rmtree(folder / f"copy-{number}")
    copy = statistics.median(copies)
    check = timed("--dry-run")
    run = timed()
    rerun = timed()
    with app.app_context():
        assert db.session.query(Material).count() == args.files

    print(f"\n| measure | seconds | rows/s | MB/s | × plain copy |\n| --- | --- | --- | --- | --- |")
    print(f"| plain copy of the folder with fsync (reference, median of {args.rounds}) | {copy:.2f} | — | "
          f"{total / 1e6 / copy:.0f} | 1.0 |")
    for label, seconds in (("check (`--dry-run`: hash and sniff every file)", check),
                           ("import (check, then copy, hash, ingest, commit each file)", run),
                           ("rerun (everything already imported: check, then skip)", rerun)):
        print(f"| {label} | {seconds:.2f} | {rows / seconds:.0f} | {total / 1e6 / seconds:.0f} | "
              f"{seconds / copy:.1f} |")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
