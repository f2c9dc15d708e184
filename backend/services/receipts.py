"""Collection receipts (征集接收清单 / 捐赠证书): what the archive received from a narrator or donor family, or in a
collection project — every material with its 档号, kind, size or duration, dates and fixity — as printable Chinese
HTML and PDF, for archivists to print, sign and hand over."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from backend.extensions import db
from backend.models import Interview, InterviewPerson, Material, Person, PersonMaterial, Project, User
from backend.models.person import CATEGORY_LABELS
from backend.models.project import METHOD_LABELS, PROJECT_STATUS_LABELS
from backend.models.types import utcnow
from backend.services import policy, printable
from backend.services.archival_codes import ARCHIVE_TIME
from backend.services.policy import Permission

TEMPLATE = "receipt.html"
KIND_LABELS = {"audio": "录音", "video": "录像", "image": "照片", "document": "文档"}
ROLE_LABELS = {"interviewee": "受访人", "subject": "主题人物", "mentioned": "提及", "donor": "捐赠人",
               "certificate": "证书", "interviewer": "采访人", "photographer": "拍摄者", "other": "其他"}
PERMISSION = Permission.RECEIPT_ISSUE
_UNSAFE_NAME_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


@dataclass
class Line:
    number: int
    archival_code: str
    title: str
    kind: str
    extent: str
    captured: str
    received: str
    relation: str
    sha256: str


@dataclass
class Receipt:
    heading: str
    subject: str
    meta: list[tuple[str, str]]
    lines: list[Line]
    totals: list[tuple[str, str]] = field(default_factory=list)
    donor_label: str = "移交人（口述者或其家属）"


def _local_date(value: datetime | None) -> str:
    return value.astimezone(ARCHIVE_TIME).strftime("%Y-%m-%d") if value else ""


def _duration(seconds: float) -> str:
    total = int(round(seconds))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _size(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} B"


def _media_seconds(material: Material) -> float | None:
    value = (material.media_info or {}).get("duration")
    return float(value) if isinstance(value, (int, float)) else None


def _extent(material: Material) -> str:
    seconds = _media_seconds(material)
    info = material.media_info or {}
    parts = []
    if seconds is not None and material.kind in ("audio", "video"):
        parts.append(f"时长 {_duration(seconds)}")
    if info.get("page_count"):
        parts.append(f"{info['page_count']} 页")
    if info.get("width") and info.get("height") and material.kind == "image":
        parts.append(f"{info['width']}×{info['height']}")
    parts.append(_size(material.size))
    return "，".join(parts)


def _lines(materials: list[Material], codes: dict[int, str], relations: dict[int, str]) -> list[Line]:
    return [Line(number=n, archival_code=codes.get(m.id, ""), title=m.title or m.original_filename or f"资料 {m.id}",
                 kind=KIND_LABELS.get(m.kind, m.kind), extent=_extent(m), captured=_local_date(m.captured_at),
                 received=_local_date(m.created_at), relation=relations.get(m.id, ""), sha256=m.sha256[:16])
            for n, m in enumerate(materials, start=1)]


def _totals(materials: list[Material]) -> list[tuple[str, str]]:
    totals = []
    for kind, label in KIND_LABELS.items():
        of_kind = [m for m in materials if m.kind == kind]
        if not of_kind:
            continue
        text = f"{len(of_kind)} 件"
        seconds = sum(_media_seconds(m) or 0.0 for m in of_kind)
        if kind in ("audio", "video") and seconds:
            text += f"，共 {_duration(seconds)}"
        totals.append((label, text))
    totals.append(("合计", f"{len(materials)} 件，{_size(sum(m.size for m in materials))}"))
    return totals


def _ordered(query: Any) -> list[Material]:
    return list(db.session.scalars(query.order_by(Material.created_at.asc(), Material.id.asc())))


def _interview_codes(materials: list[Material]) -> dict[int, Interview]:
    ids = {m.interview_id for m in materials if m.interview_id}
    return {i.id: i for i in db.session.scalars(select(Interview).where(Interview.id.in_(ids)))} if ids else {}


def person_receipt(person: Person) -> Receipt:
    """What was received from or about ``person``: the materials linked to them and those of their interviews."""
    interviewed = select(InterviewPerson.interview_id).where(InterviewPerson.person_id == person.id)
    linked = select(PersonMaterial.material_id).where(PersonMaterial.person_id == person.id)
    materials = _ordered(select(Material).where(or_(Material.id.in_(linked), Material.interview_id.in_(interviewed))))
    interviews = _interview_codes(materials)
    roles: dict[int, set[str]] = {}
    for material_id, role in db.session.execute(select(PersonMaterial.material_id, PersonMaterial.role)
                                                .where(PersonMaterial.person_id == person.id)):
        roles.setdefault(material_id, set()).add(ROLE_LABELS.get(role, role))
    codes, relations = {}, {}
    for m in materials:
        interview = interviews.get(m.interview_id) if m.interview_id else None
        codes[m.id] = (interview.archival_code if interview and interview.archival_code else
                       person.archival_code or "")
        relation = "、".join(sorted(roles.get(m.id, set())))
        if interview is not None:
            relation = "；".join(filter(None, [relation, f"访谈“{interview.title or interview.id}”"]))
        relations[m.id] = relation
    meta = [("口述者／捐赠人", f"{person.name}（{CATEGORY_LABELS.get(person.category, person.category)}）"),
            ("人物档号", person.archival_code or "（尚未审核，未编档号）"),
            ("访谈", "；".join(f"{i.title or i.id}（{i.archival_code or '未编档号'}）" for i in interviews.values())
             or "无")]
    return Receipt(heading="征集接收清单", subject=person.name, meta=meta, lines=_lines(materials, codes, relations),
                   totals=_totals(materials))


def project_receipt(project: Project) -> Receipt:
    """What was received in a collection project: the materials filed into it or into its interviews."""
    in_interviews = select(Interview.id).where(Interview.project_id == project.id)
    materials = _ordered(select(Material).where(or_(Material.project_id == project.id,
                                                    Material.interview_id.in_(in_interviews))))
    interviews = _interview_codes(materials)
    persons: dict[int, Person] = {}
    links = db.session.execute(select(PersonMaterial.material_id, Person)
                               .join(Person, Person.id == PersonMaterial.person_id)
                               .where(PersonMaterial.material_id.in_([m.id for m in materials]))).all()
    of_material: dict[int, list[Person]] = {}
    for material_id, person in links:
        persons[person.id] = person
        of_material.setdefault(material_id, []).append(person)
    codes, relations = {}, {}
    for m in materials:
        interview = interviews.get(m.interview_id) if m.interview_id else None
        linked = sorted(of_material.get(m.id, []), key=lambda p: p.id)
        codes[m.id] = (interview.archival_code if interview and interview.archival_code else
                       next((p.archival_code for p in linked if p.archival_code), ""))
        relations[m.id] = "；".join(filter(None, ["、".join(dict.fromkeys(p.name for p in linked)),
                                                 f"访谈“{interview.title or interview.id}”" if interview else ""]))
    period = "至".join(filter(None, [str(project.planned_start or ""), str(project.planned_end or "")])) or "未定"
    meta = [("采集项目", project.title), ("状态", PROJECT_STATUS_LABELS.get(project.status, project.status)),
            ("时间", period), ("地点", project.place or ""),
            ("方式", "、".join(METHOD_LABELS.get(m, m) for m in project.methods or []) or ""),
            ("口述者", "、".join(sorted({p.name for p in persons.values()}
                                     | set(db.session.scalars(select(Person.name)
                                                              .where(Person.id.in_(project.person_ids)))))) or "")]
    return Receipt(heading="征集接收清单", subject=project.title, meta=meta, lines=_lines(materials, codes, relations),
                   totals=_totals(materials), donor_label="移交人（采集者）")


def for_person(actor: User, person_id: int, fmt: str) -> tuple[bytes, str, str]:
    """(body, content type, file name) of a person's receipt."""
    person = policy.visible_person(actor, person_id)
    return _answer(person_receipt(person), fmt, actor, f"征集接收清单-{person.name}-{person.id}")


def for_project(actor: User, project_id: int, fmt: str) -> tuple[bytes, str, str]:
    project = policy.visible_project(actor, project_id)
    return _answer(project_receipt(project), fmt, actor, f"征集接收清单-{project.title}-{project.id}")


def _answer(receipt: Receipt, fmt: str, actor: User, name: str) -> tuple[bytes, str, str]:
    name = _UNSAFE_NAME_CHARS.sub("_", name)[:120]
    if fmt == "pdf":
        return render(receipt, fmt, actor), "application/pdf", f"{name}.pdf"
    return render(receipt, fmt, actor), "text/html; charset=utf-8", f"{name}.html"


def render(receipt: Receipt, fmt: str, actor: User) -> bytes:
    """The receipt as a printable HTML page or as a PDF (the same page)."""
    html = printable.render_html(TEMPLATE, receipt=receipt,
                                 archive=current_app.config.get("ARCHIVE_NAME") or "留芳档案馆",
                                 fonds=current_app.config["ARCHIVAL_FONDS"],
                                 issued=_local_date(utcnow()), issuer=actor.display_name or actor.username)
    return printable.html_to_pdf(html) if fmt == "pdf" else html.encode("utf-8")
