"""The storage contract, run against LocalStorage and S3Storage on a real S3 server (weed mini)."""

from __future__ import annotations

import gc
import hashlib
import io
import os
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, unquote

import psutil
import pytest

from media.errors import ObjectNotFound, StorageError
from media.ffmpeg import probe
from media.storage import (
    LocalStorage,
    S3Storage,
    Storage,
    StoredObject,
    content_disposition,
    create_storage,
)
from tests.support.s3server import S3Server

from .conftest import S3_BUCKET, Samples, make_s3_storage

MIB = 1024 * 1024


def key_for(data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"originals/{digest[:2]}/{digest[2:4]}/{digest}"


class GeneratedStream(io.RawIOBase):
    """``total`` pseudo-random bytes produced on the fly (< 1 MiB per read, each chunk a new
    object, so that a consumer keeping them really grows), hashing what it hands out, sampling the process RSS at every read, optionally failing after ``fail_after``."""

    def __init__(self, total: int, *, fail_after: int | None = None) -> None:
        super().__init__()
        self.total = total
        self.fail_after = fail_after
        self.sent = 0
        self.digest = hashlib.sha256()
        self._block = os.urandom(MIB)
        self._process = psutil.Process()
        self.peak_rss = self._process.memory_info().rss

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise RuntimeError("connection to the phone was lost")
        if size is None or size < 0:
            size = MIB
        size = min(size, MIB - 1, self.total - self.sent)
        if size <= 0:
            return b""
        offset = self.sent % MIB
        chunk = (self._block[offset:] + self._block[:offset])[:size]
        self.sent += len(chunk)
        self.digest.update(chunk)
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)


def all_files(root: Path) -> list[Path]:
    """Every file under ``root``, hidden temp files included."""
    return [Path(d) / f for d, _, files in os.walk(root) for f in files]


# -- writing and reading -------------------------------------------------------------------
def test_put_stream_reports_size_and_sha256(storage: Storage) -> None:
    data = os.urandom(300_000)
    key = key_for(data)
    before = datetime.now(timezone.utc) - timedelta(seconds=5)

    stored = storage.put_stream(key, io.BytesIO(data), content_type="audio/mp4")

    assert stored == StoredObject(key, len(data), hashlib.sha256(data).hexdigest(), "audio/mp4")
    info = storage.stat(key)
    assert (info.key, info.size, info.content_type) == (key, len(data), "audio/mp4")
    assert info.modified_at.tzinfo is not None
    assert before <= info.modified_at <= datetime.now(timezone.utc) + timedelta(seconds=5)
    assert storage.exists(key)
    with storage.open_range(key) as fh:
        assert fh.read() == data


def test_unknown_size_stream_is_stored_whole(storage: Storage) -> None:
    # 12 MiB without a declared size: several multipart parts on S3 (5 MiB parts).
    stream = GeneratedStream(12 * MIB)
    stored = storage.put_stream("originals/un/kn/own", stream)

    assert stored.size == 12 * MIB
    assert stored.sha256 == stream.digest.hexdigest()
    assert storage.stat("originals/un/kn/own").content_type is None
    digest = hashlib.sha256()
    with storage.open_range("originals/un/kn/own") as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
    assert digest.hexdigest() == stored.sha256


def test_overwrite_replaces_object(storage: Storage) -> None:
    storage.put_stream("derived/x/proxy", io.BytesIO(b"first version"), content_type="video/mp4")
    storage.put_stream("derived/x/proxy", io.BytesIO(b"second"))
    info = storage.stat("derived/x/proxy")
    assert info.size == 6 and info.content_type is None
    with storage.open_range("derived/x/proxy") as fh:
        assert fh.read() == b"second"


@pytest.mark.parametrize(
    ("start", "length", "expected"),
    [
        (0, 10, slice(0, 10)),
        (100, None, slice(100, None)),
        (5000, 300, slice(5000, 5300)),
        (10_230, 100, slice(10_230, None)),  # runs past the end: shorter
        (10_240, None, slice(0, 0)),  # at the end: empty
        (99_999, 5, slice(0, 0)),  # past the end: empty
        (7, 0, slice(0, 0)),
    ],
)
def test_open_range(storage: Storage, start: int, length: int | None, expected: slice) -> None:
    data = bytes(range(256)) * 40  # 10 240 bytes
    storage.put_stream("originals/ra/ng/e", io.BytesIO(data), size=len(data))
    with storage.open_range("originals/ra/ng/e", start, length) as fh:
        assert fh.read() == data[expected]


def test_open_range_rejects_negative_values(storage: Storage) -> None:
    storage.put_stream("a/b", io.BytesIO(b"abc"))
    with pytest.raises(StorageError):
        storage.open_range("a/b", -1)
    with pytest.raises(StorageError):
        storage.open_range("a/b", 0, -5)


def test_put_file_and_local_path_feed_ffprobe(storage: Storage, samples: Samples) -> None:
    source = samples("bars.mp4")
    stored = storage.put_file("originals/vi/de/o", source, content_type="video/mp4")
    assert stored.size == source.stat().st_size

    with storage.local_path("originals/vi/de/o") as path:
        assert path.read_bytes() == source.read_bytes()
        info = probe(path)
        assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    if isinstance(storage, S3Storage):
        assert not path.exists(), "the temporary download must be removed afterwards"
    else:
        assert path.exists(), "LocalStorage yields the object's own file"


def test_missing_objects(storage: Storage) -> None:
    key = "originals/no/ne/missing"
    with pytest.raises(ObjectNotFound) as caught:
        storage.stat(key)
    assert caught.value.key == key
    with pytest.raises(ObjectNotFound):
        storage.open_range(key)
    with pytest.raises(ObjectNotFound):
        storage.open_range(key, 0, 0)
    with pytest.raises(ObjectNotFound):
        with storage.local_path(key):
            pass
    assert storage.exists(key) is False


def test_delete_is_idempotent(storage: Storage) -> None:
    storage.put_stream("derived/de/l", io.BytesIO(b"x"), content_type="text/plain")
    storage.delete("derived/de/l")
    assert not storage.exists("derived/de/l")
    storage.delete("derived/de/l")
    storage.delete("never/existed")
    assert list(storage.iter_keys()) == []


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "originals/../../etc/passwd", "/etc/passwd", "a\\b", "a//b", "a/./b",
     ".hidden", "a/.tmp-x", "a/", "", "口述史.m4a", "a b", "a\x00b", "x" * 600],
)
def test_invalid_keys_are_rejected(storage: Storage, key: str) -> None:
    with pytest.raises(StorageError):
        storage.put_stream(key, io.BytesIO(b"data"))
    for call in (storage.stat, storage.open_range, storage.delete, storage.exists):
        with pytest.raises(StorageError):
            call(key)
    with pytest.raises(StorageError):
        storage.presigned_url(key, timedelta(minutes=5))
    with pytest.raises(StorageError):
        with storage.local_path(key):
            pass


def test_iter_keys_by_prefix(storage: Storage) -> None:
    keys = ["originals/ab/1", "originals/ab/2", "originals/abc/3", "derived/ab/poster.jpg"]
    for key in keys:
        storage.put_stream(key, io.BytesIO(key.encode()), content_type="text/plain")

    assert sorted(storage.iter_keys()) == sorted(keys)
    assert sorted(storage.iter_keys("originals/ab/")) == ["originals/ab/1", "originals/ab/2"]
    assert sorted(storage.iter_keys("originals/ab")) == keys[:3]
    assert sorted(storage.iter_keys("derived/")) == ["derived/ab/poster.jpg"]
    assert list(storage.iter_keys("nothing/")) == []
    with pytest.raises(StorageError):
        list(storage.iter_keys("../"))


# -- whole or nothing --------------------------------------------------------------------------
def test_failing_stream_leaves_nothing_behind(storage: Storage) -> None:
    stream = GeneratedStream(20 * MIB, fail_after=7 * MIB)  # fails inside the second part
    with pytest.raises((RuntimeError, StorageError)):
        storage.put_stream("originals/fa/il/ed", stream, content_type="video/mp4")
    assert not storage.exists("originals/fa/il/ed")
    assert list(storage.iter_keys()) == []
    if isinstance(storage, LocalStorage):
        assert all_files(storage.root) == [], "no temp file may be left"


def test_failing_overwrite_keeps_previous_object(storage: Storage) -> None:
    storage.put_stream("originals/ke/ep/me", io.BytesIO(b"the good version"), content_type="audio/mp4")
    with pytest.raises((RuntimeError, StorageError)):
        storage.put_stream("originals/ke/ep/me", GeneratedStream(3 * MIB, fail_after=MIB))
    with storage.open_range("originals/ke/ep/me") as fh:
        assert fh.read() == b"the good version"
    assert storage.stat("originals/ke/ep/me").content_type == "audio/mp4"
    if isinstance(storage, LocalStorage):
        assert sorted(p.name for p in all_files(storage.root)) == [".me.content-type", "me"]


@pytest.mark.parametrize(("declared", "actual"), [(100, 50), (50, 100), (0, 1)])
def test_size_mismatch_is_refused(storage: Storage, declared: int, actual: int) -> None:
    with pytest.raises(StorageError):
        storage.put_stream("originals/si/ze/x", io.BytesIO(b"z" * actual), size=declared)
    assert not storage.exists("originals/si/ze/x")


def test_fifty_megabytes_stream_in_bounded_memory(storage: Storage) -> None:
    total = 50 * MIB
    gc.collect()
    process = psutil.Process()
    baseline = process.memory_info().rss
    stream = GeneratedStream(total)

    stored = storage.put_stream("originals/bi/g0/file", stream, content_type="video/mp4")

    assert stored.size == total and stored.sha256 == stream.digest.hexdigest()
    upload_growth = stream.peak_rss - baseline
    # S3 holds one 5 MiB part (plus the SDK's copy while assembling it); local: one chunk.
    allowance = 32 * MIB if isinstance(storage, S3Storage) else 16 * MIB
    assert upload_growth < allowance, f"RSS grew by {upload_growth / MIB:.1f} MiB while uploading"

    digest = hashlib.sha256()
    peak = process.memory_info().rss
    with storage.open_range("originals/bi/g0/file") as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
            peak = max(peak, process.memory_info().rss)
    assert digest.hexdigest() == stored.sha256
    download_growth = peak - baseline
    assert download_growth < allowance, f"RSS grew by {download_growth / MIB:.1f} MiB while reading"


# -- presigned URLs ----------------------------------------------------------------------------
def test_local_storage_has_no_presigned_urls(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put_stream("a/b", io.BytesIO(b"x"))
    assert storage.presigned_url("a/b", timedelta(minutes=5), download_name="口述.m4a") is None


@pytest.mark.s3
def test_presigned_url_downloads_with_chinese_name(s3_server: S3Server) -> None:
    storage = make_s3_storage(s3_server)
    data = os.urandom(4096)
    storage.put_stream("derived/pr/oxy.m4a", io.BytesIO(data), content_type="application/octet-stream")
    name = "口述史_张三 1952年.m4a"

    url = storage.presigned_url(
        "derived/pr/oxy.m4a", timedelta(minutes=10), download_name=name, content_type="audio/mp4"
    )

    assert url is not None and url.startswith(f"http://{s3_server.endpoint}/")
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.read() == data
        assert response.headers["Content-Type"] == "audio/mp4"
        disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    encoded = disposition.split("filename*=UTF-8''", 1)[1].split(";", 1)[0]
    assert unquote(encoded) == name
    assert 'filename="' in disposition  # ASCII fallback for old browsers
    disposition.encode("ascii")  # the header itself is plain ASCII


@pytest.mark.s3
def test_tampered_or_unsigned_urls_are_refused(s3_server: S3Server) -> None:
    storage = make_s3_storage(s3_server)
    storage.put_stream("a/secret", io.BytesIO(b"archive material"))
    url = storage.presigned_url("a/secret", timedelta(minutes=1))
    assert url is not None
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    forged = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(forged, timeout=10)
    assert caught.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url.split("?", 1)[0], timeout=10)
    assert caught.value.code == 403
    with pytest.raises(StorageError):
        storage.presigned_url("a/secret", timedelta(days=8))


@pytest.mark.s3
def test_wrong_secret_key_is_rejected(s3_server: S3Server) -> None:
    good = make_s3_storage(s3_server)
    good.put_stream("a/b", io.BytesIO(b"x"))
    with pytest.raises(StorageError, match="SignatureDoesNotMatch"):
        S3Storage(s3_server.endpoint, s3_server.access_key, "not-the-secret", bucket="liufang-new")
    bad = S3Storage(s3_server.endpoint, s3_server.access_key, "not-the-secret",
                    bucket=good.bucket, create_bucket=False, region="us-east-1")
    with pytest.raises(StorageError) as caught:
        bad.stat("a/b")
    assert not isinstance(caught.value, ObjectNotFound)
    with pytest.raises(StorageError):
        bad.put_stream("a/c", io.BytesIO(b"y"))
    assert not good.exists("a/c")


# -- factory -----------------------------------------------------------------------------------
def test_create_storage_local(tmp_path: Path) -> None:
    for spec in (str(tmp_path / "a"), tmp_path / "b", f"file://{tmp_path / 'c'}",
                 {"backend": "local", "root": str(tmp_path / "d")}):
        storage = create_storage(spec)  # type: ignore[arg-type]
        assert isinstance(storage, LocalStorage)
        assert storage.root.is_dir() and storage.root.parent == tmp_path
    with pytest.raises(ValueError):
        create_storage("file://relative/path")


@pytest.mark.s3
def test_create_storage_s3_url(s3_server: S3Server) -> None:
    url = (f"s3://{quote(s3_server.access_key, safe='')}:{quote(s3_server.secret_key, safe='')}"
           f"@{s3_server.endpoint}/{S3_BUCKET}?secure=false&region=us-east-1&part_size_mb=8"
           f"&prefix=factory/")
    storage = create_storage(url)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.part_size, storage.secure, storage.key_prefix) == (
        S3_BUCKET, 8 * MIB, False, "factory/")
    storage.put_stream("a/b", io.BytesIO(b"hello"))
    with storage.open_range("a/b", 1, 3) as fh:
        assert fh.read() == b"ell"
    assert list(storage.iter_keys()) == ["a/b"]
    unprefixed = S3Storage(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, S3_BUCKET)
    assert unprefixed.exists("factory/a/b")


@pytest.mark.parametrize(
    "bad",
    ["", "ftp://host/bucket", "s3://host:9000/bucket", "s3://a:b@host:9000/",
     "s3://a:b@host:9000/bucket/extra", "s3://a:b@host:9000/bucket?colour=red",
     {"backend": "s3", "endpoint": "h:1"}, {"backend": "tape"}],
)
def test_create_storage_rejects_bad_specs(bad: object) -> None:
    with pytest.raises(ValueError):
        create_storage(bad)  # type: ignore[arg-type]


def test_content_disposition_header() -> None:
    value = content_disposition("访谈/录音 1.m4a")
    assert value == ("attachment; filename=\"1.m4a\"; "
                     "filename*=UTF-8''%E8%AE%BF%E8%B0%88_%E5%BD%95%E9%9F%B3%201.m4a")
    assert content_disposition('report "final".pdf', "inline").startswith(
        'inline; filename="report _final_.pdf"')


def test_adopt_file_moves_or_uploads_and_checks_the_hash(storage, tmp_path):
    """adopt_file stores a received file under its key and removes the source; a wrong hash stores nothing."""
    import hashlib
    from datetime import timedelta

    from media.errors import StorageError

    source = tmp_path / "received.part"
    source.write_bytes(b"interview bytes " * 1000)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    stored = storage.adopt_file("originals/aa/bb/adopted", source, sha256=digest, content_type="audio/mp4")
    assert (stored.size, stored.sha256) == (16000, digest)
    assert not source.exists()
    with storage.open_range("originals/aa/bb/adopted") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == digest
    if storage.presigned_url("originals/aa/bb/adopted", timedelta(minutes=1)) is not None:  # S3: uploaded, checked
        other = tmp_path / "other.part"
        other.write_bytes(b"different")
        with pytest.raises(StorageError):
            storage.adopt_file("originals/aa/bb/wrong", other, sha256=digest)
        assert not storage.exists("originals/aa/bb/wrong")
