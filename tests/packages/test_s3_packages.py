"""Packages of media kept on a real S3 server: built from streamed objects, kept in the bucket, downloaded through
a presigned URL, valid, and checked by the report."""

from __future__ import annotations

import urllib.parse
import urllib.request
import uuid

import bagit
import pytest

from tests.packages.conftest import unpack

pytestmark = pytest.mark.s3


@pytest.fixture
def app(sqlite_app, s3_server):
    credentials = f"{urllib.parse.quote(s3_server.access_key)}:{urllib.parse.quote(s3_server.secret_key)}"
    endpoint = s3_server.endpoint.split("://", 1)[-1]
    sqlite_app.config.update(AUTO_TRANSCRIBE=False, STORAGE_URL=(
        f"s3://{credentials}@{endpoint}/liufang-app?secure=false&prefix=p{uuid.uuid4().hex[:8]}/"))
    return sqlite_app


def test_package_from_s3(archive, make_package, client, auth, tmp_path) -> None:
    export = make_package("person", [archive["person"]["id"]])
    redirect = client.get(export["download_url"], headers=auth("archivist"))
    assert redirect.status_code == 302 and "X-Amz-Signature" in redirect.headers["Location"]
    with urllib.request.urlopen(redirect.headers["Location"], timeout=30) as fetched:
        data = fetched.read()
    assert len(data) == export["size"]
    bagit.Bag(str(unpack(data, tmp_path / "bag"))).validate()
    report = client.get(export["report_url"], headers=auth("archivist")).get_json()
    failed = [item["id"] for group in report["groups"] for item in group["items"] if item["result"] == "failed"]
    assert failed == [], report
