"""Collection receipts (征集接收清单): per person and per project, as printable HTML and as a PDF whose Chinese
text is really there (extracted again with pdfium), for archivists only."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pypdfium2
import pytest

from tests.api.helpers import advance, assert_error, if_match, make_person, upload_png

YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year


def pdf_text(data: bytes) -> str:
    """The PDF's text as pdfium extracts it, without the line breaks a table cell wraps at."""
    document = pypdfium2.PdfDocument(io.BytesIO(data))
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    return "".join(text.split())


@pytest.fixture
def donor(client: Any, auth: Any) -> dict[str, Any]:
    """An approved narrator with a photo, a letter whose title needs escaping, and an approved interview."""
    person = make_person(client, auth("collector"), name="王秀英")
    advance(client, person["id"], auth("collector"), "submit")
    person = advance(client, person["id"], auth("archivist"), "approve")
    interview = client.post("/api/v1/interviews", json={"title": "新坝镇口述", "interviewee_ids": [person["id"]]},
                            headers=auth("collector")).get_json()
    url = f"/api/v1/interviews/{interview['id']}"
    interview = client.post(f"{url}/approve", headers=if_match(client, url, auth("archivist"))).get_json()
    photo = upload_png(client, auth("collector"), 11, person_id=str(person["id"]), title="老照片：渔船")
    letter = upload_png(client, auth("collector"), 12, person_id=str(person["id"]), role="donor",
                        title="<script>家书</script>")
    in_interview = upload_png(client, auth("collector"), 13, interview_id=str(interview["id"]), title="访谈现场")
    return {"person": person, "interview": interview, "materials": [photo, letter, in_interview]}


def test_a_persons_receipt_lists_what_was_received_with_codes_counts_and_dates(client, auth, donor):
    person = donor["person"]
    response = client.get(f"/api/v1/persons/{person['id']}/receipt", headers=auth("archivist"))
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    html = response.get_data(as_text=True)
    assert "征集接收清单" in html and "王秀英（好人）" in html
    assert f"LYG-RW-{YEAR}-0001" in html, "the person's 档号"
    assert f"LYG-KS-{YEAR}-0001" in html, "the interview's 档号 beside its recording"
    for title in ("老照片：渔船", "访谈现场"):
        assert title in html
    assert "&lt;script&gt;家书&lt;/script&gt;" in html and "<script>" not in html
    assert "捐赠人" in html, "the role of the donated letter"
    assert "照片</td><td>3 件" in html and "合计" in html
    today = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")
    assert html.count(today) >= 4, "received dates and the date of issue"
    assert donor["materials"][0]["sha256"][:16] in html

    pdf = client.get(f"/api/v1/persons/{person['id']}/receipt?format=pdf", headers=auth("archivist"))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data)
    assert "征集接收清单" in text and "王秀英（好人）" in text and f"LYG-KS-{YEAR}-0001" in text
    assert "老照片：渔船" in text and "合计3件" in text


def test_a_projects_receipt_lists_its_materials_and_interviews(client, auth, donor):
    project = client.post("/api/v1/projects", json={"title": "渔村记忆", "methods": ["audio", "photo"],
                                                    "person_ids": [donor["person"]["id"]]},
                          headers=auth("archivist")).get_json()
    iurl = f"/api/v1/interviews/{donor['interview']['id']}"
    assert client.patch(iurl, json={"project_id": project["id"]},
                        headers=if_match(client, iurl, auth("archivist"))).status_code == 200
    filed = upload_png(client, auth("archivist"), 14, project_id=str(project["id"]), title="渔网实物照")
    html = client.get(f"/api/v1/projects/{project['id']}/receipt?format=html",
                      headers=auth("archivist")).get_data(as_text=True)
    assert "渔村记忆" in html and "录音、照相" in html and "王秀英" in html
    assert "访谈现场" in html and "渔网实物照" in html and "老照片：渔船" not in html
    assert f"LYG-KS-{YEAR}-0001" in html
    assert "2 件" in html
    pdf = client.get(f"/api/v1/projects/{project['id']}/receipt?format=pdf", headers=auth("archivist"))
    text = pdf_text(pdf.data)
    assert "渔网实物照" in text and f"LYG-KS-{YEAR}-0001" in text
    assert filed["project_id"] == project["id"]


def test_receipts_are_for_archivists_only(client, auth, donor):
    url = f"/api/v1/persons/{donor['person']['id']}/receipt"
    assert_error(client.get(url), 401)
    for role in ("collector", "editor"):
        assert_error(client.get(url, headers=auth(role)), 403, "role_required")
    assert client.get(url, headers=auth("admin")).status_code == 200
    assert_error(client.get(f"{url}?format=docx", headers=auth("archivist")), 422)
    assert_error(client.get("/api/v1/persons/999999/receipt", headers=auth("archivist")), 404, "person_not_found")
    assert_error(client.get("/api/v1/projects/999999/receipt", headers=auth("archivist")), 404, "project_not_found")
