"""The publication checklist: what an approved profile must have before an archivist may publish it."""

from __future__ import annotations

from sqlalchemy import select

from backend.errors import Conflict
from backend.extensions import db
from backend.models import Consent, Material, Person, PersonMaterial
from backend.services import policy

# Fields a published profile of each category must have (areas: the district at least).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "good_person": ("name", "gender", "area", "biography"),                     # 好人: who, where, 事迹
    "notable": ("name", "gender", "occupation", "birth_date", "biography"),     # 名家: field of work and life
    "local_worthy": ("name", "native_place", "area", "biography"),              # 乡贤: roots and place
}
LABELS = {
    "name": "姓名",
    "gender": "性别",
    "area": "所在区县",
    "biography": "事迹/生平",
    "occupation": "职业或领域",
    "birth_date": "出生日期",
    "native_place": "籍贯",
    "material": "至少一份关联资料（授权书本身不算）",
    "consent_public": "有效的公开授权书（scope=public，未撤回，针对本人而非单次访谈）",
}


def _field_missing(person: Person, field: str) -> bool:
    if field == "area":
        return not (person.area_district or "").strip()
    if field == "gender":
        return person.gender in (None, "", "unknown")
    value = getattr(person, field)
    return value is None or (isinstance(value, str) and not value.strip())


def has_material(person_id: int) -> bool:
    """At least one usable material (not a damaged file) is linked to the person, other than a consent form."""
    consent_forms = select(Consent.material_id).where(Consent.person_id == person_id,
                                                      Consent.material_id.is_not(None))
    query = (select(PersonMaterial.material_id)
             .join(Material, Material.id == PersonMaterial.material_id)
             .where(PersonMaterial.person_id == person_id, Material.status != "failed",
                    Material.id.not_in(consent_forms))
             .limit(1))
    return db.session.scalar(query) is not None


def missing_items(person: Person) -> list[str]:
    """What the profile still lacks for publication, in a stable order: fields, then material, then consent."""
    missing = [field for field in REQUIRED_FIELDS[person.category] if _field_missing(person, field)]
    if not has_material(person.id):
        missing.append("material")
    if not policy.has_public_consent(person.id):
        missing.append("consent_public")
    return missing


def check_publishable(person: Person) -> None:
    """Raise 409 ``publication_checklist`` listing what is missing; called by persons.transition before publishing.

    The profile row is locked first, so a consent withdrawn at the same moment cannot slip past the check.
    """
    db.session.execute(select(Person.id).where(Person.id == person.id).with_for_update())
    missing = missing_items(person)
    if missing:
        raise Conflict("发布前还需补充：" + "、".join(LABELS[item] for item in missing),
                       code="publication_checklist",
                       details={"missing": missing, "labels": {item: LABELS[item] for item in missing}})
