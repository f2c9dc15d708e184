"""The whole material path on a real S3 server: upload, processing from S3, presigned content, fixity."""

from __future__ import annotations

import urllib.parse
import urllib.request
import uuid

import pytest

from tests.materials.conftest import sha256_of

pytestmark = pytest.mark.s3


@pytest.fixture
def app(sqlite_app, s3_server):
    credentials = f"{urllib.parse.quote(s3_server.access_key)}:{urllib.parse.quote(s3_server.secret_key)}"
    endpoint = s3_server.endpoint.split("://", 1)[-1]
    sqlite_app.config.update(AUTO_TRANSCRIBE=False, STORAGE_URL=(
        f"s3://{credentials}@{endpoint}/liufang-app?secure=false&prefix=t{uuid.uuid4().hex[:8]}/"))
    return sqlite_app


def test_upload_process_and_serve_from_s3(client, auth, upload, media_samples, runner):
    path = media_samples("bars.mp4")
    response = upload(path, filename="老街.mp4")
    assert response.status_code == 201, response.get_json()
    material = response.get_json()
    assert material["status"] == "ready", material["failure_reason"]
    assert {"asr", "proxy", "poster", "waveform"} <= set(material["variants"])

    redirect = client.get(f"/api/v1/materials/{material['id']}/content", headers=auth("collector"))
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert "X-Amz-Signature" in location
    with urllib.request.urlopen(location, timeout=10) as fetched:  # a phone would follow the redirect
        body = fetched.read()
        assert "%E8%80%81%E8%A1%97" in fetched.headers["Content-Disposition"]  # 老街
    assert body == path.read_bytes()
    assert sha256_of(path) == material["sha256"]

    tampered = location.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered, timeout=10)
    assert refused.value.code == 403

    result = runner.invoke(args=["fixity", "check"])
    assert result.exit_code == 0 and "1 ok, 0 with problems" in result.output
