"""Preservation-package benchmark: how fast a person's package is built (streamed from storage, hashed with SHA-256
and SHA-512, zipped, METS written) and checked (the four-property report re-hashes, ffprobes and scans every file),
beside a plain copy and a plain `zip -0` of the same files in the same run.

Usage:  .venv/bin/python bench/export_bench.py [--files 6] [--mb 60] [--format zip|tar]

Makes --files distinct WAV recordings of about --mb MB each with ffmpeg under bench/out/export/, archives them as
materials of one profile (local storage, SQLite, in a temporary instance: no derivatives are made, so the package
holds the originals, their metadata and the METS), then times POST /api/v1/exports (the job runs in-process) and
GET /api/v1/exports/{id}/report.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out" / "export"
MB = 1_000_000


def make_recordings(count: int, megabytes: int) -> list[Path]:
    """``count`` WAV files of ~``megabytes`` MB (48 kHz stereo 16-bit), each with a different tone."""
    OUT.mkdir(parents=True, exist_ok=True)
    seconds = max(1, round(megabytes * MB / (48_000 * 2 * 2)))
    paths = []
    for n in range(count):
        path = OUT / f"口述录音-{n + 1:02d}.wav"
        if not path.exists() or abs(path.stat().st_size - seconds * 192_000) > 1_000_000:
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                            f"sine=frequency={220 + 20 * n}:sample_rate=48000", "-ac", "2", "-t", str(seconds),
                            "-c:a", "pcm_s16le", str(path)], check=True)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--mb", type=int, default=60)
    parser.add_argument("--format", choices=("zip", "tar"), default="zip")
    args = parser.parse_args()
    recordings = make_recordings(args.files, args.mb)
    total = sum(path.stat().st_size for path in recordings)

    from flask_jwt_extended import create_access_token
    from flask_migrate import upgrade

    from backend import create_app, transaction
    from backend.extensions import db
    from backend.models import Material, Person, PersonMaterial
    from backend.services import audit
    from backend.services.storage import get_storage, original_key
    from backend.services.users import create_user
    from media.hashing import sha256_file

    work = Path(tempfile.mkdtemp(prefix="liufang-export-bench-"))
    try:
        app = create_app({"INSTANCE_PATH": str(work / "instance"), "SQLALCHEMY_DATABASE_URI":
                          f"sqlite:///{work / 'bench.db'}", "QUEUE_URL": "memory", "QUEUE_IMMEDIATE": True,
                          "STORAGE_URL": str(work / "media"), "PASSWORD_HASH_PROFILE": "test",
                          "SECRET_KEY": "export-bench-secret-key-long-enough-for-hs256", "AUTO_TRANSCRIBE": False})
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            with transaction.atomic():
                archivist = create_user(None, username="archivist", password="bench-password-1",
                                        roles=["archivist"], display_name="档案员")
                person = Person(category="local_worthy", name="林海生", name_pinyin="lin hai sheng",
                                created_by_id=archivist.id)
                db.session.add(person)
                db.session.flush()
                for path in recordings:
                    digest = sha256_file(path)
                    stored = get_storage().put_file(original_key(digest), path, content_type="audio/wav")
                    material = Material(kind="audio", status="ready", title=path.stem, collector_id=archivist.id,
                                        original_filename=path.name, mime="audio/wav", size=stored.size,
                                        sha256=digest, storage_key=stored.key, access_level="restricted")
                    db.session.add(material)
                    db.session.flush()
                    db.session.add(PersonMaterial(person_id=person.id, material_id=material.id, role="interviewee"))
                    audit.record("material", material.id, "create", archivist)
            token = create_access_token(identity=str(archivist.id))
            person_id = person.id
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        copy_dir = work / "copy"
        copy_dir.mkdir()
        started = time.perf_counter()
        for path in recordings:
            shutil.copyfile(path, copy_dir / path.name)
        copy_s = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run(["zip", "-0", "-q", "-r", str(work / "plain.zip"), "."], cwd=copy_dir, check=True)
        zip_s = time.perf_counter() - started
        started = time.perf_counter()
        for path in recordings:
            with open(path, "rb") as fh:
                sha256, sha512 = hashlib.sha256(), hashlib.sha512()
                while chunk := fh.read(1 << 20):
                    sha256.update(chunk)
                    sha512.update(chunk)
        hash_s = time.perf_counter() - started

        started = time.perf_counter()
        response = client.post("/api/v1/exports", json={"scope": "person", "ids": [person_id], "format": args.format},
                               headers=headers)
        export = client.get(response.headers["Location"], headers=headers).get_json()
        build_s = time.perf_counter() - started
        assert export["status"] == "succeeded", export
        started = time.perf_counter()
        report = client.get(export["report_url"], headers=headers).get_json()
        report_s = time.perf_counter() - started
        failed = [item["id"] for group in report["groups"] for item in group["items"] if item["result"] == "failed"]

        def rate(seconds: float) -> str:
            return f"{total / MB / seconds:8.1f} MB/s  ({seconds:6.2f} s)"

        print(f"{args.files} WAV files, {total / MB:.0f} MB in all; package {export['size'] / MB:.0f} MB "
              f"({args.format}), {export['file_count']} payload files; load {os.getloadavg()[0]:.1f}")
        print(f"  plain copy (shutil.copyfile)        {rate(copy_s)}")
        print(f"  plain `zip -0` of the copies        {rate(zip_s)}")
        print(f"  SHA-256 + SHA-512 of the files      {rate(hash_s)}")
        print(f"  package build (POST → succeeded)    {rate(build_s)}")
        print(f"  four-property report of the package {rate(report_s)}   failed items: {failed or 'none'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
