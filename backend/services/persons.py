"""Person profiles: who may see and change them, the approval workflow, search, and the audit of every change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, or_, select

from backend.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from backend.extensions import db
from backend.models import Person, PersonSearchTerm, PersonTag, User
from backend.models.person import tags_in_statement
from backend.services import archival_codes, audit, notifications, policy, publication
from backend.services.identity import normalise_id_number, normalise_phone, validate_partial_date
from backend.services.pagination import Page, paginate
from backend.services.pinyin import MAX_TERM_LENGTH, index_terms, name_pinyin
from backend.services.policy import Permission
from backend.services.versioning import advance, check_version, only_edited_by, record_edit

EDITABLE_FIELDS = ("category", "name", "aliases", "gender", "ethnicity", "birth_date", "death_date",
                   "native_place", "area", "occupation", "honours", "biography", "tags",
                   "id_number", "phone", "address")

# action: (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "submit": (frozenset({"draft", "returned"}), "submitted"),
    "approve": (frozenset({"submitted"}), "approved"),
    "return": (frozenset({"submitted", "approved"}), "returned"),
    "publish": (frozenset({"approved"}), "published"),
    "withdraw": (frozenset({"submitted", "returned", "approved", "published"}), "withdrawn"),
}
# What available_actions may name.
PERSON_ACTIONS = ("edit", *TRANSITIONS, "delete", "record_consent", "withdraw_consent")
# Approved and published profiles are changed by archivists only (policy.can_edit_person); such an edit is itself
# the approval, recorded on the audit event, and an edit of a published profile is public as soon as it is saved.
APPROVED_STATES = frozenset({"approved", "published"})
EDIT_IS_APPROVAL = {
    "approved": "档案员修改已审核的档案：修改即审核通过",
    "published": "档案员修改已发布的档案：修改即审核通过，随即公开",
}
# Caps on what one profile may ask the server to index (each alias is stored as every suffix, in characters,
# pinyin and initials): at most MAX_ALIASES × MAX_ALIAS_LENGTH × 4 search terms.
MAX_ALIASES = 20
MAX_ALIAS_LENGTH = 50
_TERMS_PER_STATEMENT = 500  # bound parameters per DELETE … IN (…), well under SQLite's limit
SORTS = {
    "pinyin": (Person.name_pinyin.asc(), Person.id.asc()),
    "-pinyin": (Person.name_pinyin.desc(), Person.id.desc()),
    "created": (Person.created_at.asc(), Person.id.asc()),
    "-created": (Person.created_at.desc(), Person.id.desc()),
    "updated": (Person.updated_at.asc(), Person.id.asc()),
    "-updated": (Person.updated_at.desc(), Person.id.desc()),
}


# --- reading ---------------------------------------------------------------------------------------------------

def get_person(actor: User, person_id: int) -> Person:
    return policy.visible_person(actor, person_id)


def list_persons(actor: User, *, category: str | None = None, status: str | None = None, area: str | None = None,
                 created_by: int | None = None, tag: str | None = None, q: str | None = None,
                 archival_code: str | None = None, sort: str = "-updated", page: int | None = 1,
                 per_page: int = 20, cursor: str | None = None) -> Page[Person]:
    # the tags as one column of the page's own statement: neither a round trip of their own nor a row per tag
    query = select(Person).where(policy.visible_persons(actor)).options(*tags_in_statement())
    if archival_code and archival_code.strip():
        query = query.where(archival_codes.matches(Person.archival_code, archival_code))
    if category:
        query = query.where(Person.category == category)
    if status:
        query = query.where(Person.status == status)
    if area:
        query = query.where(or_(Person.area_district == area, Person.area_town == area, Person.area_village == area))
    if created_by:
        query = query.where(Person.created_by_id == created_by)
    if tag:
        query = query.where(Person.id.in_(select(PersonTag.person_id).where(PersonTag.tag == tag)))
    if q and q.strip():
        query = query.where(matches_search(q))
    return paginate(query, page, per_page, order=SORTS[sort], cursor=cursor, cache_total=True)


def matches_search(q: str) -> Any:
    """Condition: the profile's name or an alias contains ``q`` (characters, full pinyin or initials), or its 档号
    starts with ``q``.

    Terms are stored per suffix, so "contains" is a prefix range on an indexed column, not a table scan.
    """
    needle = "".join(q.lower().split())[:MAX_TERM_LENGTH]
    return Person.id.in_(select(PersonSearchTerm.person_id).where(
        PersonSearchTerm.term >= needle, PersonSearchTerm.term < needle + "\U0010ffff"))


# --- writing ---------------------------------------------------------------------------------------------------

def _snapshot(person: Person) -> dict[str, Any]:
    return {field: (person.tags if field == "tags" else getattr(person, field)) for field in EDITABLE_FIELDS}


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """Normalise and validate field values; collects every problem before failing."""
    errors: dict[str, list[str]] = {}
    clean = dict(data)
    checks = {"id_number": normalise_id_number, "phone": normalise_phone,
              "birth_date": validate_partial_date, "death_date": validate_partial_date}
    for field, check in checks.items():
        value = clean.get(field)
        if value:
            try:
                clean[field] = check(value)
            except ValueError as exc:
                errors.setdefault(field, []).append(str(exc))
        elif field in clean:
            clean[field] = None
    if "name" in clean:
        clean["name"] = clean["name"].strip()
        if not clean["name"]:
            errors.setdefault("name", []).append("姓名不能为空")
    if "aliases" in clean:
        clean["aliases"] = list(dict.fromkeys(a.strip() for a in clean["aliases"] if a.strip()))
    if "tags" in clean:
        clean["tags"] = sorted({t.strip() for t in clean["tags"] if t.strip()})
    if errors:
        raise ValidationFailed("人物档案数据无效", code="invalid_person", details={"fields": errors})
    return clean


def _check_dates(person: Person) -> None:
    if person.birth_date and person.death_date and person.death_date < person.birth_date:
        raise ValidationFailed("去世日期早于出生日期", code="invalid_person",
                               details={"fields": {"death_date": ["earlier than birth_date"]}})


def _apply(person: Person, data: dict[str, Any]) -> None:
    for field, value in data.items():
        if field == "tags":
            person.tag_rows = [PersonTag(tag=tag) for tag in value]
        elif field == "area":
            value = value or {}
            person.area_district = value.get("district") or None
            person.area_town = value.get("town") or None
            person.area_village = value.get("village") or None
        else:
            setattr(person, field, value)
    if "name" in data:
        person.name_pinyin = name_pinyin(person.name)
    _check_dates(person)


def _index(person: Person) -> None:
    """Bring the stored search terms of a flushed profile up to date, writing only the rows that change (an alias
    added or removed costs its own terms, not the whole profile's), as plain statements: thousands of ORM
    objects would cost far more than working out the terms."""
    terms = index_terms(person.name, person.aliases or [])
    if person.archival_code:
        terms.add(person.archival_code.lower()[:MAX_TERM_LENGTH])
    table = PersonSearchTerm.__table__
    current = set(db.session.scalars(select(table.c.term).where(table.c.person_id == person.id)))
    removed, added = sorted(current - terms), sorted(terms - current)
    for start in range(0, len(removed), _TERMS_PER_STATEMENT):
        db.session.execute(delete(table).where(table.c.person_id == person.id,
                                               table.c.term.in_(removed[start:start + _TERMS_PER_STATEMENT])))
    if added:
        db.session.execute(insert(table), [{"person_id": person.id, "term": term} for term in added])
    if removed or added:
        db.session.expire(person, ["search_terms"])


def create_person(actor: User, data: dict[str, Any]) -> tuple[Person, bool]:
    """Create a draft; returns (person, created). A known ``client_uuid`` returns the existing profile."""
    client_uuid = data.pop("client_uuid", None)
    if client_uuid:
        # client_uuid is unique per creator: another user's ids are neither found nor confirmed
        existing = db.session.scalar(select(Person).where(Person.created_by_id == actor.id,
                                                          Person.client_uuid == client_uuid))
        if existing is not None:
            return existing, False
    data = _clean(data)
    person = Person(client_uuid=client_uuid, created_by_id=actor.id, status="draft", version=1,
                    aliases=[], honours=[], biography="")
    _apply(person, data)
    db.session.add(person)
    db.session.flush()
    _index(person)
    audit.record("person", person.id, "create", actor, changes=audit.diff({}, _snapshot(person)))
    db.session.flush()
    return person, True


def update_person(actor: User, person_id: int, data: dict[str, Any], *, expected_version: int | None) -> Person:
    person = get_person(actor, person_id)
    if not policy.can_edit_person(actor, person):
        raise Forbidden("当前状态下您无权修改此档案", code="person_not_editable",
                        details={"status": person.status})
    version = check_version(person, expected_version, required=needs_if_match(actor, person))
    before = _snapshot(person)
    data = _clean(data)
    with db.session.no_autoflush:
        _apply(person, data)
    approving = person.status in APPROVED_STATES
    if approving and person.status == "published" and audit.diff(before, _snapshot(person)):
        publication.check_publishable(person)  # the edit goes public as it is saved: it must pass the checklist
    changes = record_edit("person", person, actor, before, _snapshot(person), version,
                          comment=EDIT_IS_APPROVAL[person.status] if approving else None)
    new_code = False
    if approving and changes:
        # Only archivists may change an approved or published profile; their edit is itself the approval.
        person.approved_at, person.approved_by_id = person.updated_at, actor.id
        code = archival_codes.assign(person)  # approved before 档号 existed: this approval gives it one
        archival_codes.record_assignment(person, actor, code)
        new_code = code is not None
    db.session.flush()
    if "name" in data or "aliases" in data or new_code:
        _index(person)
    return person


def assign_missing_codes(actor: User | None = None) -> list[tuple[str, int, str]]:
    """Give approved records without a 档号 their codes (archival_codes.assign_missing), and make the profiles'
    new codes searchable."""
    assigned = archival_codes.assign_missing(actor)
    for kind, record_id, _code in assigned:
        if kind == "person":
            person = db.session.get(Person, record_id)
            if person is not None:
                _index(person)
    return assigned


def needs_if_match(actor: User, person: Person) -> bool:
    """Changes must name the version they were made from (If-Match), except on a collector's own draft that nobody
    else has changed yet: there no one's edit can be lost, and a phone that synced offline work may send none."""
    return not (person.status == "draft" and person.created_by_id == actor.id
                and only_edited_by("person", person.id, actor))


def available_actions(actor: User, person: Person) -> list[str]:
    """What ``actor`` may do with the profile as it is now, so clients offer exactly that (the same rules as the
    actions themselves; the publication checklist is not consulted: publishing lists what it still lacks)."""
    actions = ["edit"] if policy.can_edit_person(actor, person) else []
    actions += [action for action, (sources, _target) in TRANSITIONS.items()
                if person.status in sources and policy.can_transition_person(actor, person, action)]
    if person.status == "draft" and policy.can_delete_person(actor, person):
        actions.append("delete")
    if policy.can_record_consent(actor, person):
        actions.append("record_consent")
    if policy.can(actor, Permission.CONSENT_WITHDRAW):
        actions.append("withdraw_consent")
    return actions


def delete_person(actor: User, person_id: int) -> None:
    person = get_person(actor, person_id)
    if not policy.can_delete_person(actor, person):
        raise Forbidden("只有创建者或管理员可以删除草稿", code="person_not_deletable")
    if person.status != "draft":
        raise Conflict("只能删除草稿；已提交的档案请撤回", code="person_not_draft", details={"status": person.status})
    if policy.person_guards_open_material(person.id):
        policy.require_publication_decision(
            actor, "已开放的资料需要此人的授权：删除草稿可能使资料未经其授权即公开，须由档案员操作",
            "person_of_open_material")
    audit.record("person", person.id, "delete", actor, changes=audit.diff(_snapshot(person), {}))
    db.session.delete(person)
    db.session.flush()


def transition(actor: User, person_id: int, action: str, *, comment: str | None = None,
               expected_version: int | None = None) -> Person:
    person = get_person(actor, person_id)
    sources, target = TRANSITIONS[action]
    if not policy.can_transition_person(actor, person, action):
        raise Forbidden("您的角色不能执行此操作", code="transition_forbidden", details={"action": action})
    version = check_version(person, expected_version,
                            required=action != "submit" or needs_if_match(actor, person))
    if person.status not in sources:
        raise InvalidTransition(f"状态为“{person.status}”的档案不能执行“{action}”",
                                details={"action": action, "status": person.status, "allowed_from": sorted(sources)})
    if action == "return" and not (comment and comment.strip()):
        raise ValidationFailed("退回时必须填写意见", code="comment_required", details={"fields": {"comment": ["required"]}})
    if action == "publish":
        publication.check_publishable(person)
    advance(person, version)
    now = person.updated_at
    before = person.status
    person.status = target
    changes: dict[str, Any] = {"status": {"before": before, "after": target}}
    if action == "submit":
        person.submitted_at = now
    elif action == "approve":
        person.approved_at, person.approved_by_id, person.return_comment = now, actor.id, None
        # the first approval gives the profile its 档号; one approved again after a return keeps it
        code = archival_codes.assign(person)
        if code is not None:
            changes["archival_code"] = {"before": None, "after": code}
            _index(person)
    elif action == "return":
        person.return_comment = comment
        notifications.notify(person.created_by_id, "person_returned", "person", person.id,
                             f"人物档案“{person.name}”被退回，请按意见修改后重新提交", comment=comment, actor=actor)
    elif action == "publish":
        person.published_at = now
    elif action == "withdraw":
        person.withdrawn_at = now
    audit.record("person", person.id, action, actor, changes=changes, comment=comment)
    db.session.flush()
    return person
