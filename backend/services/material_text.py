"""The text of materials: reading it from the original (OCR of photos and scans, a PDF's own text layer) as a job
after processing, showing it as the material is shown, and editors' corrections, each kept as a revision."""

from __future__ import annotations

import logging
from typing import Any, Callable

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from backend.errors import Conflict, Forbidden, PreconditionFailed, PreconditionRequired, ValidationFailed
from backend.extensions import db
from backend.models import Job, Material, MaterialTextPage, MaterialTextRevision, User
from backend.services import audit, jobs, policy
from backend.services.storage import get_storage
from media import ocr
from media.errors import CorruptMedia, UnsupportedMedia

log = logging.getLogger(__name__)
OCR_JOB = "ocr_material"
READABLE_KINDS = ("image", "document")


# --- reading ---------------------------------------------------------------------------------------------------

def pages_of(material: Material) -> list[MaterialTextPage]:
    return list(db.session.scalars(select(MaterialTextPage).where(MaterialTextPage.material_id == material.id)
                                   .order_by(MaterialTextPage.number)))


def current_revision(material: Material) -> MaterialTextRevision | None:
    if not material.text_revision:
        return None
    return db.session.scalar(select(MaterialTextRevision).options(selectinload(MaterialTextRevision.created_by))
                             .where(MaterialTextRevision.material_id == material.id,
                                    MaterialTextRevision.number == material.text_revision))


def visible_text(actor: User, material_id: int) -> Material:
    """The material whose text ``actor`` asks for: anyone who may see the material may read its text."""
    return policy.visible_material(actor, material_id)


def revisions(actor: User, material_id: int) -> list[MaterialTextRevision]:
    material = visible_text(actor, material_id)
    return list(db.session.scalars(
        select(MaterialTextRevision).options(selectinload(MaterialTextRevision.created_by))
        .where(MaterialTextRevision.material_id == material.id).order_by(MaterialTextRevision.number.desc())))


# --- writing ---------------------------------------------------------------------------------------------------

def _advance(material: Material, expected: int, text: str) -> int:
    """Move the material's text to revision ``expected + 1`` if it is still at ``expected`` (else 412): a
    conditional UPDATE, so of two saves made from the same revision exactly one wins. The text itself is set as
    an ordinary attribute change, so whatever follows changes of a material in the session (the sync change log,
    the search index) sees it in this transaction."""
    number = expected + 1
    moved = db.session.execute(
        update(Material).where(Material.id == material.id, Material.text_revision == expected)
        .values(text_revision=number).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        current = db.session.scalar(select(Material.text_revision).where(Material.id == material.id))
        raise PreconditionFailed(details={"current_version": current, "your_version": expected})
    set_committed_value(material, "text_revision", number)
    material.text_content = text
    return number


def _store(material: Material, pages: list[dict[str, Any]], *, expected: int, source: str, engine: str | None,
           actor: User | None, job_id: str | None = None, comment: str | None = None) -> MaterialTextRevision:
    """Make ``pages`` the material's current text, as a new revision made from revision ``expected``."""
    for page in pages:
        page["text"] = ocr.page_text(line["text"] for line in page["lines"])
    text = ocr.full_text(page["text"] for page in pages)
    length_before = None if material.text_content is None else len(material.text_content)
    number = _advance(material, expected, text)
    db.session.execute(delete(MaterialTextPage).where(MaterialTextPage.material_id == material.id))
    for page in pages:
        db.session.add(MaterialTextPage(material_id=material.id, number=page["number"], width=page["width"],
                                        height=page["height"], source=page["source"], engine=page["engine"],
                                        lines=page["lines"], text=page["text"]))
    revision = MaterialTextRevision(material_id=material.id, number=number, base_number=expected or None,
                                    source=source, engine=engine, job_id=job_id,
                                    created_by_id=actor.id if actor else None, comment=comment,
                                    pages=pages, text=text)
    db.session.add(revision)
    audit.record("material", material.id, "text_update" if source == "editor" else "text_read", actor,
                 changes={"text_revision": {"before": expected, "after": number},
                          "text_length": {"before": length_before, "after": len(text)}},
                 comment=comment)
    db.session.flush()
    return revision


def _edited_pages(material: Material, submitted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pages an editor saves: a line they left as it was keeps its box and confidence; a changed or new line
    has the confidence of a person (none) and the box they sent, if any; a page with any change is the editor's."""
    numbers = [page["number"] for page in submitted]
    if len(set(numbers)) != len(numbers):
        raise ValidationFailed("页码重复", code="duplicate_page",
                               details={"fields": {"pages": ["每个页码只能出现一次"]}})
    existing = {page.number: page for page in pages_of(material)}
    pages = []
    for page in sorted(submitted, key=lambda item: item["number"]):
        old = existing.get(page["number"])
        old_lines = old.lines if old is not None else []
        lines, changed = [], old is None or len(old_lines) != len(page["lines"])
        for index, line in enumerate(page["lines"]):
            text = line["text"].strip()
            before = old_lines[index] if index < len(old_lines) else None
            box = line.get("box")
            if before is not None and before["text"] == text and box in (None, before["box"]):
                lines.append(dict(before))
                continue
            changed = True
            lines.append({"text": text, "box": box if box is not None else (before or {}).get("box"),
                          "confidence": None})
        pages.append({"number": page["number"], "width": old.width if old is not None else 0.0,
                      "height": old.height if old is not None else 0.0,
                      "source": "editor" if changed else old.source,  # type: ignore[union-attr]
                      "engine": None if changed else old.engine,  # type: ignore[union-attr]
                      "lines": [line for line in lines if line["text"]]})
    return pages


def save_text(actor: User, material_id: int, submitted: list[dict[str, Any]], *, expected_version: int | None,
              comment: str | None = None) -> Material:
    """An editor's correction of the whole text (every page, every line) as a new revision; If-Match required."""
    material = visible_text(actor, material_id)
    if not policy.can_edit_material_text(actor, material):
        raise Forbidden("您无权修改此资料的文字", code="text_edit_forbidden")
    if expected_version is None:
        raise PreconditionRequired(details={"current_version": material.text_revision})
    if expected_version != material.text_revision:
        raise PreconditionFailed(details={"current_version": material.text_revision,
                                          "your_version": expected_version})
    pages = _edited_pages(material, submitted)
    current = [(page.number, page.lines) for page in pages_of(material)]
    if material.text_revision and current == [(page["number"], page["lines"]) for page in pages]:
        return material  # nothing changed: no new revision, the ETag stays
    _store(material, pages, expected=expected_version, source="editor", engine=None, actor=actor, comment=comment)
    return material


# --- the OCR job -----------------------------------------------------------------------------------------------

def request_ocr(actor: User, material_id: int, engine: str | None) -> Job:
    """Read the material's text again (another engine, or after an engine update); the result becomes a new
    revision on top of whatever is current, which stays in the history."""
    material = visible_text(actor, material_id)
    if not policy.can_edit_material_text(actor, material):
        raise Forbidden("您无权修改此资料的文字", code="text_edit_forbidden")
    if material.kind not in READABLE_KINDS:
        raise Conflict("只有照片和 PDF 文档可以识别文字", code="no_text_to_read",
                               details={"kind": material.kind})
    if material.status != "ready":
        raise Conflict("资料尚未处理完成，暂不能识别文字", code="material_not_ready", details={"status": material.status})
    job = jobs.submit(OCR_JOB, material_id=material.id, actor=actor, params={"engine": engine} if engine else {})
    audit.record("material", material.id, "text_requested", actor, changes={"job_id": {"before": None,
                                                                                       "after": job.id}})
    return job


def queue_after_processing(material: Material) -> None:
    """Called when processing finished: photos and PDFs get their text read, unless LIUFANG_AUTO_OCR is off."""
    if material.kind in READABLE_KINDS and current_app.config.get("AUTO_OCR", True):
        jobs.submit(OCR_JOB, material_id=material.id, params={"automatic": True})


def queue_reading(material_ids: list[int] | None = None, engine: str | None = None) -> list[Job]:
    """For the `liufang text read` command: queue OCR of the given materials (read again, a new revision each), or
    of every processed photo and PDF that has no text yet (materials archived before OCR existed, or with
    LIUFANG_AUTO_OCR off)."""
    query = select(Material.id).where(Material.kind.in_(READABLE_KINDS), Material.status == "ready")
    if material_ids:
        query = query.where(Material.id.in_(material_ids))
    else:
        query = query.where(Material.text_revision == 0)
    params: dict[str, Any] = {"engine": engine} if engine else {}
    if not material_ids:
        params["automatic"] = True  # never replaces a text that appears meanwhile
    return [jobs.submit(OCR_JOB, material_id=material_id, params=dict(params))
            for material_id in db.session.scalars(query.order_by(Material.id))]


def _read(job: Job, progress: Callable[[float], None]) -> dict[str, Any]:
    material = db.session.get(Material, job.material_id)
    if material is None:
        raise jobs.PermanentFailure("资料已不存在")
    done = db.session.scalar(select(MaterialTextRevision.number).where(MaterialTextRevision.job_id == job.id))
    if done is not None:
        return {"revision": done}
    automatic = bool(job.params.get("automatic"))
    if automatic and material.text_revision:
        return {"skipped": "text already read or edited", "revision": material.text_revision}
    engine_name = job.params.get("engine") or current_app.config.get("OCR_ENGINE", "rapidocr")
    try:
        engine = ocr.engine_named(engine_name)
        with get_storage().local_path(material.storage_key) as src:
            pages = ocr.extract_text(src, material.kind, engine, progress=lambda p: progress(p * 0.95))
    except (CorruptMedia, UnsupportedMedia) as exc:
        raise jobs.PermanentFailure(exc.message) from None
    # What is current now (an editor may have saved while the engine ran): an automatic reading never replaces
    # a person's text; a requested one is stacked on top of it.
    current = db.session.scalar(select(Material.text_revision).where(Material.id == material.id)) or 0
    if automatic and current:
        return {"skipped": "text edited while reading", "revision": current}
    used = sorted({page.source for page in pages})
    source = "text_layer" if used == ["text_layer"] else "ocr"
    revision = _store(material, [page.to_dict() for page in pages], expected=current, source=source,
                      engine=engine.name if source == "ocr" else None, actor=None, job_id=job.id)
    return {"revision": revision.number, "pages": len(pages), "source": source,
            "engine": revision.engine, "characters": len(revision.text)}


OCR_MATERIAL = jobs.JobHandler(run=_read)
