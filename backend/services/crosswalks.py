"""Metadata crosswalks for interop: EAC-CPF 2010 (revised) for person profiles, Dublin Core (oai_dc) for materials
and interviews, valid against the official schemas (shared/schemas: cpf.xsd, oai_dc.xsd).

``audience`` says who the document is for. ``"public"``: only what the public API shows of the record (the caller
makes sure the record itself is public; nested materials, interviews and persons are filtered here to public ones),
the archive as the only agent, no staff names. ``"staff"``: the archive's own description, with unpublished states,
staff names in the maintenance history and links to what ``actor`` may see (everything when no actor is given:
an export made by an archivist's job). Neither ever carries ID numbers, phones, addresses or consent conditions:
these documents are made to leave the archive.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import date, datetime, timezone
from typing import Any, Iterator, Literal

from flask import current_app
from lxml import etree
from sqlalchemy import select

from backend.extensions import db
from backend.models import AuditEvent, Interview, InterviewPerson, Material, Person, PersonMaterial, Project, User
from backend.models.person import CATEGORY_LABELS
from backend.services import policy

Audience = Literal["public", "staff"]
AUDIENCES = ("public", "staff")

EAC_NS = "urn:isbn:1-931666-33-4"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
EAC_SCHEMA_LOCATION = "urn:isbn:1-931666-33-4 http://eac.staatsbibliothek-berlin.de/schema/cpf.xsd"
OAI_DC_SCHEMA_LOCATION = "http://www.openarchives.org/OAI/2.0/oai_dc/ http://www.openarchives.org/OAI/2.0/oai_dc.xsd"

# localType values are URIs (xs:anyURI); these name the archive's own vocabulary.
LOCAL_TYPE = "https://liufang.readthedocs.io/localType/"
NAME_CONVENTION = "liufang"  # the abbreviation that authorizedForm/alternativeForm refer to
GENDER_LABELS = {"male": "男", "female": "女", "other": "其他", "unknown": "不详"}
DCMI_TYPES = {"audio": "Sound", "video": "MovingImage", "image": "StillImage", "document": "Text"}
KIND_LABELS = {"audio": "录音", "video": "录像", "image": "图片", "document": "文档"}
LINK_ROLE_LABELS = {"interviewee": "口述者", "subject": "主题人物", "mentioned": "提及", "donor": "捐赠者",
                    "certificate": "证书", "interviewer": "采访者", "photographer": "摄影者", "other": "相关人物"}
# Person audit actions → EAC-CPF maintenance event types and their Chinese description.
MAINTENANCE_EVENTS = {"create": ("created", "建档"), "update": ("revised", "修改"), "submit": ("revised", "提交审核"),
                      "return": ("revised", "退回修改"), "approve": ("revised", "审核通过"),
                      "publish": ("revised", "发布"), "withdraw": ("revised", "撤回发布")}
# What the public history shows: the record made, approved and published, and the archivists' edits of the
# approved text (edits of a draft never reached the public).
PUBLIC_MAINTENANCE_ACTIONS = ("create", "approve", "publish")
# Profile fields the public sees (an edit of only the others — ID number, phone, address — is not its business).
PUBLIC_PERSON_FIELDS = frozenset({"category", "name", "aliases", "gender", "ethnicity", "birth_date", "death_date",
                                  "native_place", "area", "occupation", "honours", "biography", "tags"})

_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
# Characters XML 1.0 cannot hold (the API refuses them; older rows may still have them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# --- the archive -----------------------------------------------------------------------------------------------

def archive_name() -> str:
    return current_app.config.get("ARCHIVE_NAME") or "留芳档案馆"


def archive_code() -> str | None:
    """The archive's agency code (ISIL-shaped, e.g. ``CN-320700``), or None when not configured."""
    return current_app.config.get("ARCHIVE_CODE") or None


_BASE_URL_OVERRIDE: ContextVar[str | None] = ContextVar("liufang_crosswalk_base_url", default=None)
# Where the request being served was sent to: the API layer sets it for each request (services never read Flask's
# request themselves), the fallback when LIUFANG_PUBLIC_URL is not configured.
_REQUEST_ROOT: ContextVar[str | None] = ContextVar("liufang_request_root", default=None)


def serve_request_at(url_root: str) -> Token[str | None]:
    """For the API layer: the current request's root URL; give the token back to ``served()`` at its end."""
    return _REQUEST_ROOT.set(url_root.rstrip("/"))


def served(token: Token[str | None]) -> None:
    _REQUEST_ROOT.reset(token)


@contextmanager
def base_url_as(url: str) -> Iterator[None]:
    """Make documents as if the archive were at ``url`` (a fingerprint must not depend on the host asked)."""
    token = _BASE_URL_OVERRIDE.set(url)
    try:
        yield
    finally:
        _BASE_URL_OVERRIDE.reset(token)


def base_url() -> str | None:
    """Where the archive's API is reached from outside: ``LIUFANG_PUBLIC_URL``, else the current request's root."""
    override = _BASE_URL_OVERRIDE.get()
    if override is not None:
        return override
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    return _REQUEST_ROOT.get()


def record_url(kind: str, record_id: int, audience: Audience) -> str | None:
    """The URL of a record's own GET for the audience (``/api/public/…`` or ``/api/v1/…``)."""
    root = base_url()
    if root is None:
        return None
    prefix = "/api/public" if audience == "public" else "/api/v1"
    return f"{root}{prefix}/{kind}s/{record_id}"


def _check_audience(audience: str) -> None:
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}: {audience!r}")


# --- small XML helpers -------------------------------------------------------------------------------------------

def xml_text(value: Any) -> str:
    return _NOT_XML.sub("", str(value)) if value is not None else ""


def _sub(parent: etree._Element, tag: str, text: Any = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, {key: value for key, value in attributes.items() if value is not None})
    if text is not None:
        element.text = xml_text(text)
    return element


def _eac(name: str) -> str:
    return f"{{{EAC_NS}}}{name}"


def _standard_date(value: str | None) -> str | None:
    """``value`` if it is a real YYYY, YYYY-MM or YYYY-MM-DD (what standardDate accepts), else None."""
    if not value or not _PARTIAL_DATE.match(value):
        return None
    parts = [int(part) for part in value.split("-")]
    try:
        date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        return None
    return value if parts[0] > 0 else None


def _chinese_date(value: str) -> str:
    """``1938-05-02`` → ``1938年5月2日`` (the display form beside the standard one)."""
    standard = _standard_date(value)
    if standard is None:
        return value
    parts = [int(part) for part in standard.split("-")]
    return "".join(f"{number}{unit}" for number, unit in zip(parts, ("年", "月", "日")))


def utc_timestamp(value: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ssZ`` (naive datetimes are taken as UTC, as the models store them)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean_lines(text: str) -> list[str]:
    """Paragraphs of a biography (Markdown-ish text: blank lines separate paragraphs, markup kept as typed)."""
    paragraphs = re.split(r"\n\s*\n", xml_text(text).replace("\r\n", "\n"))
    return [" ".join(line.strip() for line in paragraph.splitlines() if line.strip()) for paragraph in paragraphs
            if paragraph.strip()]


# --- what the audience may see nested ------------------------------------------------------------------------------

def _public_material_ids(candidate_ids: list[int]) -> set[int]:
    if not candidate_ids:
        return set()
    return set(db.session.scalars(select(Material.id).where(Material.id.in_(candidate_ids),
                                                            policy.material_is_public())))


def _public_person_ids(candidate_ids: list[int]) -> set[int]:
    if not candidate_ids:
        return set()
    return set(db.session.scalars(select(Person.id).where(Person.id.in_(candidate_ids),
                                                          policy.person_is_public())))


def linked_materials(person: Person, audience: Audience, actor: User | None = None) -> list[tuple[Material, str]]:
    """The person's materials with their link role, as the audience may see them, oldest recording first."""
    rows = db.session.execute(
        select(Material, PersonMaterial.role).join(PersonMaterial, PersonMaterial.material_id == Material.id)
        .where(PersonMaterial.person_id == person.id)
        .order_by(Material.captured_at.is_(None), Material.captured_at, Material.id, PersonMaterial.role)).all()
    if audience == "public":
        allowed = _public_material_ids([material.id for material, _role in rows])
        rows = [row for row in rows if row[0].id in allowed]
    elif actor is not None:
        rows = [row for row in rows if policy.can_view_material(actor, row[0])]
    seen: set[int] = set()
    result = []
    for material, role in rows:
        if material.id not in seen:  # one relation per material: its first (most telling) role
            seen.add(material.id)
            result.append((material, role))
    return result


def _visible_persons(person_ids: list[int], audience: Audience, actor: User | None) -> list[Person]:
    if audience == "public":
        person_ids = sorted(_public_person_ids(person_ids))
    elif actor is not None:
        person_ids = policy.visible_person_ids(actor, person_ids)
    if not person_ids:
        return []
    return list(db.session.scalars(select(Person).where(Person.id.in_(person_ids)).order_by(Person.id)))


def public_material_title(material: Material) -> str:
    """The title, unless it is only the uploaded file's name (which the public never sees)."""
    title = material.title or ""
    return "" if title == (material.original_filename or "") else title


def _material_title(material: Material, audience: Audience) -> str:
    title = public_material_title(material) if audience == "public" else (material.title or
                                                                           material.original_filename or "")
    return title or f"{KIND_LABELS.get(material.kind, '资料')} {material.id}"


# --- EAC-CPF -------------------------------------------------------------------------------------------------------

def _maintenance_events(person: Person, audience: Audience) -> list[tuple[str, datetime, str, str, str]]:
    """(eventType, when, agentType, agent, description) from the audit trail, oldest first."""
    events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "person",
                                                              AuditEvent.entity_id == str(person.id))
                                     .order_by(AuditEvent.created_at, AuditEvent.id)))
    names: dict[int, str] = {}
    if audience == "staff":
        ids = {event.actor_id for event in events if event.actor_id is not None}
        if ids:
            names = {row.id: row.display_name or row.username
                     for row in db.session.execute(select(User.id, User.display_name, User.username)
                                                   .where(User.id.in_(ids)))}
    approved_once = False
    result = []
    for event in events:
        mapped = MAINTENANCE_EVENTS.get(event.action)
        if mapped is None:
            continue
        event_type, description = mapped
        if audience == "public":
            # After approval, an edit is an archivist's edit of the approved text: that one the public may know of.
            public_edit = event.action == "update" and approved_once and \
                bool(PUBLIC_PERSON_FIELDS & set(event.changes or {}))
            approved_once = approved_once or event.action == "approve"
            if event.action not in PUBLIC_MAINTENANCE_ACTIONS and not public_edit:
                continue
            agent_type, agent = "human", archive_name()
        elif event.actor_id is None:
            agent_type, agent = "machine", "留芳 Liufang"
        else:
            agent_type, agent = "human", names.get(event.actor_id, f"用户 {event.actor_id}")
        result.append((event_type, event.created_at, agent_type, agent, description))
    if not result:  # a record always has its creation (older rows may predate the audit trail)
        result.append(("created", person.created_at, "human", archive_name(), "建档"))
    return result


def _name_entries(identity: etree._Element, person: Person) -> None:
    """The name with its pinyin as parallel forms (authorized), then each alias (别名, an alternative form)."""
    parallel = _sub(identity, _eac("nameEntryParallel"))
    hans = _sub(parallel, _eac("nameEntry"), scriptCode="Hans", **{f"{{{XML_NS}}}lang": "zh"})
    _sub(hans, _eac("part"), person.name)
    if person.name_pinyin:
        latin = _sub(parallel, _eac("nameEntry"), scriptCode="Latn", transliteration="pinyin",
                     **{f"{{{XML_NS}}}lang": "zh"})
        _sub(latin, _eac("part"), " ".join(word.capitalize() for word in person.name_pinyin.split()))
    else:  # a second form is required; the name itself, as written, stands in
        same = _sub(parallel, _eac("nameEntry"), scriptCode="Hans", **{f"{{{XML_NS}}}lang": "zh"})
        _sub(same, _eac("part"), person.name)
    _sub(parallel, _eac("authorizedForm"), NAME_CONVENTION)
    for alias in person.aliases or []:
        if not xml_text(alias).strip():
            continue
        entry = _sub(identity, _eac("nameEntry"), localType=LOCAL_TYPE + "alias", **{f"{{{XML_NS}}}lang": "zh"})
        _sub(entry, _eac("part"), alias)
        _sub(entry, _eac("alternativeForm"), NAME_CONVENTION)


def _exist_dates(description: etree._Element, person: Person) -> None:
    if not (person.birth_date or person.death_date):
        return
    dates = _sub(_sub(description, _eac("existDates")), _eac("dateRange"))
    for tag, value in (("fromDate", person.birth_date), ("toDate", person.death_date)):
        if value:
            _sub(dates, _eac(tag), _chinese_date(value), standardDate=_standard_date(value))


def _places(description: etree._Element, person: Person) -> None:
    area = " ".join(part for part in (person.area_district, person.area_town, person.area_village) if part)
    places = [("籍贯", person.native_place, "native_place"), ("所在地", area, "area")]
    places = [place for place in places if place[1]]
    if not places:
        return
    parent = _sub(description, _eac("places"))
    for role, entry, local_type in places:
        place = _sub(parent, _eac("place"), localType=LOCAL_TYPE + local_type)
        _sub(place, _eac("placeRole"), role)
        _sub(place, _eac("placeEntry"), entry)


def _local_descriptions(description: etree._Element, person: Person, audience: Audience) -> None:
    items = [("category", f"{CATEGORY_LABELS.get(person.category, person.category)}")]
    if person.gender:
        items.append(("gender", GENDER_LABELS.get(person.gender, person.gender)))
    if person.ethnicity:
        items.append(("ethnicity", person.ethnicity))
    items += [("tag", tag) for tag in person.tags]
    parent = _sub(description, _eac("localDescriptions"), localType=LOCAL_TYPE + "descriptions")
    for local_type, term in items:
        _sub(_sub(parent, _eac("localDescription"), localType=LOCAL_TYPE + local_type), _eac("term"), term)


def _honours(biog: etree._Element, person: Person) -> None:
    """Honours with a year as a chronology; the others as a list (a chronItem needs a date)."""
    honours = [honour for honour in person.honours or [] if isinstance(honour, dict) and honour.get("title")]

    def label(honour: dict[str, Any]) -> str:
        by = honour.get("conferred_by")
        return f"{honour['title']}（{by}授予）" if by else str(honour["title"])

    dated = [honour for honour in honours if isinstance(honour.get("year"), int) and 0 < honour["year"] < 10000]
    if dated:
        chron = _sub(biog, _eac("chronList"), localType=LOCAL_TYPE + "honours")
        for honour in sorted(dated, key=lambda item: item["year"]):
            item = _sub(chron, _eac("chronItem"))
            _sub(item, _eac("date"), f"{honour['year']}年", standardDate=f"{honour['year']:04d}")
            _sub(item, _eac("event"), label(honour))
    undated = [honour for honour in honours if honour not in dated]
    if undated:
        listing = _sub(biog, _eac("list"), localType=LOCAL_TYPE + "honours")
        for honour in undated:
            _sub(listing, _eac("item"), label(honour))


def eac_cpf_element(person: Person, *, audience: Audience, actor: User | None = None) -> etree._Element:
    """The ``<eac-cpf>`` root describing ``person`` (EAC-CPF 2010 revised), for embedding in METS or OAI-PMH."""
    _check_audience(audience)
    root = etree.Element(_eac("eac-cpf"), nsmap={None: EAC_NS, "xlink": XLINK_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", EAC_SCHEMA_LOCATION)
    root.set(f"{{{XML_NS}}}lang", "zh")

    control = _sub(root, _eac("control"))
    _sub(control, _eac("recordId"), f"liufang-person-{person.id}")
    if person.archival_code:  # 档号, given at the first approval
        _sub(control, _eac("otherRecordId"), person.archival_code, localType=LOCAL_TYPE + "archival_code")
    url = record_url("person", person.id, audience)
    if url:
        _sub(control, _eac("otherRecordId"), url, localType=LOCAL_TYPE + "url")
    events = _maintenance_events(person, audience)
    _sub(control, _eac("maintenanceStatus"), "revised" if len(events) > 1 else "new")
    approved = person.status in ("approved", "published") or audience == "public"
    _sub(control, _eac("publicationStatus"), "approved" if approved else "inProcess")
    agency = _sub(control, _eac("maintenanceAgency"))
    if archive_code():
        _sub(agency, _eac("agencyCode"), archive_code())
    _sub(agency, _eac("agencyName"), archive_name())
    language = _sub(control, _eac("languageDeclaration"))
    _sub(language, _eac("language"), "中文", languageCode="chi")
    _sub(language, _eac("script"), "简体中文", scriptCode="Hans")
    convention = _sub(control, _eac("conventionDeclaration"))
    _sub(convention, _eac("abbreviation"), NAME_CONVENTION)
    _sub(convention, _eac("citation"), "留芳人物档案著录规则：以本名的简体汉字为规范形式，汉语拼音为并列形式，别名为其他形式")
    history = _sub(control, _eac("maintenanceHistory"))
    for event_type, when, agent_type, agent, description in events:
        event = _sub(history, _eac("maintenanceEvent"))
        _sub(event, _eac("eventType"), event_type)
        stamp = utc_timestamp(when)
        _sub(event, _eac("eventDateTime"), stamp, standardDateTime=stamp)
        _sub(event, _eac("agentType"), agent_type)
        _sub(event, _eac("agent"), agent)
        _sub(event, _eac("eventDescription"), description)

    cpf = _sub(root, _eac("cpfDescription"))
    identity = _sub(cpf, _eac("identity"))
    _sub(identity, _eac("entityType"), "person")
    _name_entries(identity, person)

    description = _sub(cpf, _eac("description"))
    _exist_dates(description, person)
    _places(description, person)
    _local_descriptions(description, person, audience)
    if person.occupation:
        occupations = _sub(description, _eac("occupations"))
        _sub(_sub(occupations, _eac("occupation")), _eac("term"), person.occupation)
    paragraphs = _clean_lines(person.biography or "")
    if paragraphs or person.honours:
        biog = _sub(description, _eac("biogHist"))
        for paragraph in paragraphs:
            _sub(biog, _eac("p"), paragraph)
        _honours(biog, person)

    materials = linked_materials(person, audience, actor)
    if materials:
        relations = _sub(cpf, _eac("relations"))
        for material, role in materials:
            relation_type = "creatorOf" if role in ("interviewee", "photographer") else "subjectOf" \
                if role in ("subject", "mentioned", "certificate") else "other"
            href = record_url("material", material.id, audience)
            relation = _sub(relations, _eac("resourceRelation"), resourceRelationType=relation_type,
                            **({f"{{{XLINK_NS}}}type": "simple", f"{{{XLINK_NS}}}href": href} if href else {}))
            _sub(relation, _eac("relationEntry"), _material_title(material, audience))
            if material.captured_at is not None:
                day = material.captured_at.date().isoformat()
                _sub(relation, _eac("date"), _chinese_date(day), standardDate=day)
            _sub(relation, _eac("descriptiveNote")).append(_eac_p(LINK_ROLE_LABELS.get(role, role)))
    return root


def _eac_p(text: str) -> etree._Element:
    paragraph = etree.Element(_eac("p"))
    paragraph.text = xml_text(text)
    return paragraph


def eac_cpf_document(person: Person, *, audience: Audience, actor: User | None = None) -> bytes:
    """A complete EAC-CPF XML document for ``person``, UTF-8 with an XML declaration."""
    return etree.tostring(eac_cpf_element(person, audience=audience, actor=actor), xml_declaration=True,
                          encoding="UTF-8", pretty_print=True)


# --- Dublin Core ---------------------------------------------------------------------------------------------------

def _dc_root() -> etree._Element:
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", OAI_DC_SCHEMA_LOCATION)
    return root


def _dc(root: etree._Element, name: str, value: Any, lang: str | None = None) -> None:
    text = xml_text(value).strip() if value is not None else ""
    if text:
        _sub(root, f"{{{DC_NS}}}{name}", text, **({f"{{{XML_NS}}}lang": lang} if lang else {}))


def _people(root: etree._Element, people: list[tuple[Person, str]]) -> None:
    """Interviewees are the creators of an oral history, subjects its subject; everyone else contributes."""
    for person, role in people:
        if role == "interviewee":
            _dc(root, "creator", person.name, "zh")
        elif role in ("subject", "mentioned"):
            _dc(root, "subject", person.name, "zh")
        else:
            _dc(root, "contributor", f"{person.name}（{LINK_ROLE_LABELS.get(role, role)}）", "zh")
    for category in sorted({person.category for person, _role in people}):
        _dc(root, "subject", CATEGORY_LABELS.get(category, category), "zh")


def _material_dc(material: Material, audience: Audience, actor: User | None) -> etree._Element:
    root = _dc_root()
    _dc(root, "title", _material_title(material, audience), "zh")
    links = db.session.execute(select(PersonMaterial.person_id, PersonMaterial.role)
                               .where(PersonMaterial.material_id == material.id)
                               .order_by(PersonMaterial.person_id, PersonMaterial.role)).all()
    persons = {person.id: person for person in _visible_persons([row[0] for row in links], audience, actor)}
    _people(root, [(persons[person_id], role) for person_id, role in links if person_id in persons])
    _dc(root, "description", material.description, "zh")
    _dc(root, "publisher", archive_name(), "zh")
    if material.captured_at is not None:
        _dc(root, "date", material.captured_at.date().isoformat())
    _dc(root, "type", DCMI_TYPES.get(material.kind, "Text"))
    _dc(root, "type", KIND_LABELS.get(material.kind), "zh")
    _dc(root, "format", material.mime)
    duration = (material.media_info or {}).get("duration")
    if isinstance(duration, (int, float)) and duration > 0:
        _dc(root, "format", f"PT{round(float(duration), 3):g}S")
    url = record_url("material", material.id, audience)
    _dc(root, "identifier", url)
    if audience == "staff":
        _dc(root, "identifier", f"urn:sha256:{material.sha256}")
        if material.original_filename:
            _dc(root, "source", material.original_filename, "zh")
        _dc(root, "coverage", material.place, "zh")
    interview_id = material.interview_id
    if interview_id is not None:
        if audience == "public":
            interview_visible = interview_id in _public_interview_ids([interview_id])
        else:
            interview_visible = actor is None or policy.shown_interview_id(actor, interview_id) is not None
        if interview_visible:
            interview = db.session.get(Interview, interview_id)
            _dc(root, "language", interview.language if interview is not None else None)
            _dc(root, "relation", record_url("interview", interview_id, audience) or f"interview:{interview_id}")
    for person_id in sorted(persons):
        _dc(root, "relation", record_url("person", person_id, audience) or f"person:{person_id}")
    _project_relation(root, material.project_id, audience, actor)
    _dc(root, "rights", _rights(material, audience), "zh")
    return root


def _project_relation(root: etree._Element, project_id: int | None, audience: Audience, actor: User | None) -> None:
    """The collection project (采集项目) the record belongs to, as the audience may see it: its title and URL."""
    if project_id is None:
        return
    project = db.session.get(Project, project_id)
    if project is None:
        return
    if audience == "public" and not project.is_public:
        return
    if audience == "staff" and actor is not None and not policy.can_view_project(actor, project):
        return
    _dc(root, "relation", f"采集项目：{project.title}", "zh")
    _dc(root, "relation", record_url("project", project.id, audience))


def _rights(material: Material, audience: Audience) -> str:
    if audience == "public" or material.access_level == "open":
        return "开放：经授权公开利用，著作权及肖像权归原权利人，引用请注明出处"
    label = {"restricted": "限制利用：仅供馆内查阅", "closed": "不开放"}.get(material.access_level,
                                                                          material.access_level)
    if material.embargo_until is not None:
        label += f"；保密期至 {material.embargo_until.isoformat()}"
    return label


def _public_interview_ids(candidate_ids: list[int]) -> set[int]:
    """Those of the interviews that have at least one public material (their interviewees are then public too)."""
    if not candidate_ids:
        return set()
    return set(db.session.scalars(select(Material.interview_id).where(Material.interview_id.in_(candidate_ids),
                                                                      policy.material_is_public()).distinct()))


def _interview_dc(interview: Interview, audience: Audience, actor: User | None) -> etree._Element:
    root = _dc_root()
    _dc(root, "title", interview.title or f"口述访谈 {interview.id}", "zh")
    interviewee_ids = list(db.session.scalars(select(InterviewPerson.person_id)
                                              .where(InterviewPerson.interview_id == interview.id)))
    interviewees = _visible_persons(interviewee_ids, audience, actor)
    _people(root, [(person, "interviewee") for person in interviewees])
    if audience == "staff":
        for name in interview.interviewers or []:
            _dc(root, "contributor", f"{name}（采访者）", "zh")
        _dc(root, "description", interview.notes, "zh")
        _dc(root, "coverage", interview.place, "zh")
    _dc(root, "publisher", archive_name(), "zh")
    if _standard_date(interview.date):
        _dc(root, "date", interview.date)
    _dc(root, "type", "Event")
    _dc(root, "type", "口述史访谈", "zh")
    _dc(root, "identifier", record_url("interview", interview.id, audience))
    _dc(root, "identifier", interview.archival_code)  # 档号
    material_ids = list(db.session.scalars(select(Material.id).where(Material.interview_id == interview.id)
                                           .order_by(Material.id)))
    if audience == "public":
        shown = _public_material_ids(material_ids)
        material_ids = [material_id for material_id in material_ids if material_id in shown]
    elif actor is not None:
        material_ids = [material_id for material_id in material_ids
                        if policy.shown_material_id(actor, material_id) is not None]
    _dc(root, "language", interview.language)
    for material_id in material_ids:
        _dc(root, "relation", record_url("material", material_id, audience) or f"material:{material_id}")
    for person in interviewees:
        _dc(root, "relation", record_url("person", person.id, audience) or f"person:{person.id}")
    _project_relation(root, interview.project_id, audience, actor)
    _dc(root, "rights", "开放：经授权公开利用，引用请注明出处" if audience == "public" else
        "内部著录：仅供馆内工作使用", "zh")
    return root


def dublin_core_element(obj: Material | Interview, *, audience: Audience,
                        actor: User | None = None) -> etree._Element:
    """An ``oai_dc:dc`` element describing a material or an interview."""
    _check_audience(audience)
    if isinstance(obj, Material):
        return _material_dc(obj, audience, actor)
    if isinstance(obj, Interview):
        return _interview_dc(obj, audience, actor)
    raise TypeError(f"Dublin Core is made for materials and interviews, not {type(obj).__name__}")


def person_dublin_core_element(person: Person, *, audience: Audience) -> etree._Element:
    """A short ``oai_dc:dc`` of a person profile (OAI-PMH requires oai_dc for every item; EAC-CPF says more)."""
    _check_audience(audience)
    root = _dc_root()
    _dc(root, "title", person.name, "zh")
    for alias in person.aliases or []:
        _dc(root, "title", alias, "zh")
    if person.name_pinyin:
        _dc(root, "title", " ".join(word.capitalize() for word in person.name_pinyin.split()), "zh-Latn")
    _dc(root, "subject", CATEGORY_LABELS.get(person.category, person.category), "zh")
    _dc(root, "subject", person.occupation, "zh")
    for tag in person.tags:
        _dc(root, "subject", tag, "zh")
    _dc(root, "description", "\n\n".join(_clean_lines(person.biography or "")), "zh")
    _dc(root, "publisher", archive_name(), "zh")
    if _standard_date(person.birth_date) or _standard_date(person.death_date):
        _dc(root, "date", "/".join(value or ".." for value in (_standard_date(person.birth_date),
                                                                 _standard_date(person.death_date))))
    _dc(root, "type", "Text")
    _dc(root, "type", "人物档案", "zh")
    _dc(root, "identifier", record_url("person", person.id, audience))
    _dc(root, "identifier", person.archival_code)
    _dc(root, "coverage", person.native_place, "zh")
    _dc(root, "coverage", " ".join(part for part in (person.area_district, person.area_town, person.area_village)
                                   if part), "zh")
    _dc(root, "language", "zh")
    return root


def dublin_core_document(obj: Material | Interview | Person, *, audience: Audience,
                         actor: User | None = None) -> bytes:
    """A complete oai_dc document, UTF-8 with an XML declaration."""
    element = person_dublin_core_element(obj, audience=audience) if isinstance(obj, Person) else \
        dublin_core_element(obj, audience=audience, actor=actor)
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True)
