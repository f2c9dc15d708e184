"""The partial-upload store on its own (no Flask, no database): durable offsets, locks, checksums, whole-file digests."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from media import partial_upload
from media.errors import PartialUploadBusy
from media.partial_upload import (
    AppendOutcome,
    PartialUploadStore,
    is_upload_id,
    new_upload_id,
)

DATA = bytes(range(256)) * 40  # 10 240 bytes


class Trickle:
    """A client sending ``data`` ``step`` bytes at a time, that may go away (``stop_after``) or die (``fail_with``)."""

    def __init__(self, data: bytes, step: int = 1000, *, stop_after: int | None = None,
                 fail_with: BaseException | None = None) -> None:
        self.data, self.step, self.sent = data, step, 0
        self.stop_after, self.fail_with = stop_after, fail_with

    def readinto(self, buffer: memoryview, /) -> int:
        if self.stop_after is not None and self.sent >= self.stop_after:
            if self.fail_with is not None:
                raise self.fail_with
            return 0
        block = self.data[self.sent:self.sent + min(len(buffer), self.step)]
        buffer[:len(block)] = block
        self.sent += len(block)
        return len(block)


class Killed(BaseException):
    """The worker process dying mid-request (kill -9): nothing after the read runs."""


def sha1(data: bytes) -> tuple[str, bytes]:
    return "sha1", hashlib.sha1(data).digest()


@pytest.fixture
def store(tmp_path: Path) -> PartialUploadStore:
    return PartialUploadStore(tmp_path / "uploads")


@pytest.fixture
def upload_id(store: PartialUploadStore) -> str:
    upload_id = new_upload_id()
    store.create(upload_id)
    return upload_id


def append(store: PartialUploadStore, upload_id: str, data: bytes, **options: object) -> partial_upload.Appended:
    with store.lock(upload_id) as partial:
        return partial.append(io.BytesIO(data), length=len(DATA), content_length=len(data), **options)


def whole_sha256(store: PartialUploadStore, upload_id: str) -> str:
    with store.lock(upload_id) as partial:
        return partial.sha256()


def test_appends_in_pieces_make_the_whole_file(store: PartialUploadStore, upload_id: str) -> None:
    assert store.offset(upload_id) == 0
    first = append(store, upload_id, DATA[:4000])
    assert (first.offset, first.outcome, first.discarded) == (4000, AppendOutcome.COMPLETE, False)
    assert append(store, upload_id, DATA[4000:]).offset == len(DATA)
    assert store.data_path(upload_id).read_bytes() == DATA
    assert whole_sha256(store, upload_id) == hashlib.sha256(DATA).hexdigest()


def test_bytes_written_after_the_last_commit_are_not_reported_and_are_cut_away(store: PartialUploadStore,
                                                                              upload_id: str) -> None:
    append(store, upload_id, DATA[:3000])
    with open(store.data_path(upload_id), "ab") as fh:  # a write the process was killed in the middle of
        fh.write(b"\xff" * 777)
    assert store.offset(upload_id) == 3000
    restarted = PartialUploadStore(store.directory)
    assert append(restarted, upload_id, DATA[3000:]).offset == len(DATA)
    assert restarted.data_path(upload_id).read_bytes() == DATA
    assert whole_sha256(restarted, upload_id) == hashlib.sha256(DATA).hexdigest()


def test_a_long_append_killed_midway_keeps_its_last_commit(store: PartialUploadStore, upload_id: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partial_upload, "COMMIT_EVERY", 2500)
    body = Trickle(DATA, stop_after=7000, fail_with=Killed())
    with pytest.raises(Killed), store.lock(upload_id) as partial:
        partial.append(body, length=len(DATA), content_length=len(DATA))
    assert store.data_path(upload_id).stat().st_size == 7000  # written, but only 6000 were committed
    assert store.offset(upload_id) == 6000
    restarted = PartialUploadStore(store.directory)
    assert append(restarted, upload_id, DATA[6000:]).offset == len(DATA)
    assert restarted.data_path(upload_id).read_bytes() == DATA
    assert whole_sha256(restarted, upload_id) == hashlib.sha256(DATA).hexdigest()


def test_a_cut_off_body_keeps_the_bytes_received(store: PartialUploadStore, upload_id: str) -> None:
    with store.lock(upload_id) as partial:
        went_away = partial.append(Trickle(DATA, stop_after=3000), length=len(DATA), content_length=5000)
        assert (went_away.offset, went_away.outcome, went_away.discarded) == (3000, AppendOutcome.CUT_OFF, False)
        broken = partial.append(Trickle(DATA[3000:], stop_after=2000, fail_with=ConnectionResetError()),
                                length=len(DATA), content_length=5000)
        assert (broken.offset, broken.outcome) == (5000, AppendOutcome.CUT_OFF)
    assert append(store, upload_id, DATA[5000:]).offset == len(DATA)
    assert whole_sha256(store, upload_id) == hashlib.sha256(DATA).hexdigest()


def test_a_chunk_failing_its_checksum_is_discarded_and_the_digest_goes_on_from_before(
        store: PartialUploadStore, upload_id: str) -> None:
    append(store, upload_id, DATA[:2000], checksum=sha1(DATA[:2000]))
    refused = append(store, upload_id, DATA[2000:6000], checksum=sha1(b"other bytes"))
    assert (refused.offset, refused.outcome, refused.discarded) == (2000, AppendOutcome.CHECKSUM_MISMATCH, True)
    assert store.data_path(upload_id).stat().st_size == 2000
    with store.lock(upload_id) as partial:
        cut_off = partial.append(Trickle(DATA[2000:], stop_after=1500), length=len(DATA), content_length=4000,
                                 checksum=sha1(DATA[2000:6000]))
    assert (cut_off.offset, cut_off.outcome, cut_off.discarded) == (2000, AppendOutcome.CUT_OFF, True)
    assert append(store, upload_id, DATA[2000:], checksum=sha1(DATA[2000:])).outcome is AppendOutcome.COMPLETE
    assert store.data_path(upload_id).read_bytes() == DATA
    assert whole_sha256(store, upload_id) == hashlib.sha256(DATA).hexdigest()


def test_a_body_longer_than_the_upload_is_an_overflow(store: PartialUploadStore, upload_id: str) -> None:
    append(store, upload_id, DATA[:1000])
    with store.lock(upload_id) as partial:
        result = partial.append(io.BytesIO(DATA[1000:] + b"more"), length=len(DATA))  # chunked: no length given
    assert (result.offset, result.outcome) == (1000, AppendOutcome.OVERFLOW)
    assert store.offset(upload_id) == 1000


def test_the_digest_continues_in_a_new_store_instance(store: PartialUploadStore, upload_id: str) -> None:
    append(store, upload_id, DATA[:5000])
    other_worker = PartialUploadStore(store.directory)
    assert other_worker._digests == {}
    append(other_worker, upload_id, DATA[5000:8000])
    append(store, upload_id, DATA[8000:])  # its cached digest stops at 5000: it must not be used at 8000
    assert whole_sha256(store, upload_id) == hashlib.sha256(DATA).hexdigest()
    assert whole_sha256(PartialUploadStore(store.directory), upload_id) == hashlib.sha256(DATA).hexdigest()


def test_one_holder_at_a_time_across_threads_and_store_instances(store: PartialUploadStore, upload_id: str) -> None:
    other_store = PartialUploadStore(store.directory)
    refused: list[str] = []

    def try_lock() -> None:
        try:
            store.lock(upload_id).release()
        except PartialUploadBusy as exc:
            refused.append(exc.upload_id)

    with store.lock(upload_id) as partial:
        with pytest.raises(PartialUploadBusy):
            store.lock(upload_id)
        with pytest.raises(PartialUploadBusy):
            other_store.lock(upload_id)
        thread = threading.Thread(target=try_lock)
        thread.start()
        thread.join(10)
        assert refused == [upload_id]
        assert partial.append(io.BytesIO(DATA[:10]), length=len(DATA), content_length=10).offset == 10
    with other_store.lock(upload_id) as partial:
        assert partial.offset == 10
    with pytest.raises(RuntimeError):
        partial.append(io.BytesIO(b"late"), length=len(DATA), content_length=4)


def test_the_lock_holds_across_processes(store: PartialUploadStore, upload_id: str) -> None:
    lock_path = store.directory / f"{upload_id}.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys\n"
        f"fd = os.open({str(lock_path)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\nsys.stdin.readline()\n")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(PartialUploadBusy):
            store.lock(upload_id)
    finally:
        holder.communicate("\n", timeout=10)
    store.lock(upload_id).release()


def test_only_server_ids_name_files(store: PartialUploadStore, tmp_path: Path) -> None:
    assert is_upload_id(new_upload_id())
    for bad in ("../../etc/passwd", "ABCDEF" * 6, "0" * 31, "0" * 32 + "/x"):
        assert not is_upload_id(bad)
        with pytest.raises(ValueError):
            store.lock(bad)
        with pytest.raises(ValueError):
            store.create(bad)
    assert not (tmp_path / "etc").exists()


def test_leftovers_are_listed_and_deleted(store: PartialUploadStore) -> None:
    assert store.leftover_ids() == set()  # no directory yet
    first, second = new_upload_id(), new_upload_id()
    store.create(first)
    store.create(second)
    append(store, second, DATA[:100])
    (store.directory / "notes.txt").write_text("not an upload")
    assert store.leftover_ids() == {first, second}
    store.delete(second, keep_lock=True)
    assert sorted(os.listdir(store.directory)) == sorted([first, f"{second}.lock", "notes.txt"])
    store.remove_lock(second)
    store.delete(first)
    assert store.leftover_ids() == set()
    assert store.offset(first) == 0
