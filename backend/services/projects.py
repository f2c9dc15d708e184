"""Collection projects (采集项目): the DA/T 59 collection plan — theme, content, background, narrators, time, place,
methods, budget, equipment, collectors — its status (planned → collecting → closed), who sees it, and filing
interviews and materials into it. Every change is audited and made under If-Match."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from backend.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from backend.extensions import db
from backend.models import Interview, Material, Project, ProjectCollector, ProjectPerson, User
from backend.models.project import PROJECT_STATUS_LABELS
from backend.models.types import utcnow
from backend.services import audit, policy
from backend.services.pagination import Page, paginate
from backend.services.policy import Permission
from backend.services.versioning import advance, check_version

FIELDS = ("title", "content", "background", "person_ids", "planned_start", "planned_end", "place", "methods",
          "budget", "equipment", "collector_ids", "is_public", "status")
# status: the statuses it may be reached from, and the audit action that records the step
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "collecting": (frozenset({"planned"}), "start"),
    "closed": (frozenset({"collecting"}), "close"),
}


def get_project(actor: User, project_id: int) -> Project:
    return policy.visible_project(actor, project_id)


def contents_seen_by(actor: User, project: Project) -> dict[str, int]:
    """How many of the project's interviews and materials ``actor`` may see (a project shows no hidden counts)."""
    def count(model: Any, visible: Any) -> int:
        return db.session.scalar(select(func.count()).select_from(model)
                                 .where(model.project_id == project.id, visible)) or 0

    return {"interviews": count(Interview, policy.visible_interviews(actor)),
            "materials": count(Material, policy.visible_materials(actor))}


def list_projects(actor: User, *, status: str | None = None, q: str | None = None, collector: int | None = None,
                  person_id: int | None = None, page: int = 1, per_page: int = 20) -> Page[Project]:
    query = select(Project).where(policy.visible_projects(actor))
    if status:
        query = query.where(Project.status == status)
    if q and q.strip():
        needle = f"%{q.strip()}%"
        query = query.where(or_(Project.title.like(needle), Project.place.like(needle)))
    if collector:
        query = query.where(Project.id.in_(select(ProjectCollector.project_id)
                                           .where(ProjectCollector.user_id == collector)))
    if person_id:
        visible = policy.visible_person_ids(actor, [person_id])
        query = query.where(Project.id.in_(select(ProjectPerson.project_id)
                                           .where(ProjectPerson.person_id.in_(visible))))
    return paginate(query.order_by(Project.created_at.desc(), Project.id.desc()), page, per_page)


def _snapshot(project: Project) -> dict[str, Any]:
    return {field: getattr(project, field) for field in FIELDS}


def _field_error(field: str, message: str, code: str = "invalid_project") -> ValidationFailed:
    return ValidationFailed(message, code=code, details={"fields": {field: [message]}})


def _apply(actor: User, project: Project, data: dict[str, Any]) -> None:
    if "title" in data:
        data["title"] = (data["title"] or "").strip()
        if not data["title"]:
            raise _field_error("title", "项目主题不能为空")
    if "methods" in data:
        data["methods"] = list(dict.fromkeys(data["methods"] or []))
    if "person_ids" in data:
        ids = list(dict.fromkeys(data.pop("person_ids") or []))
        missing = sorted(set(ids) - set(policy.visible_person_ids(actor, ids)))
        if missing:
            raise _field_error("person_ids", f"人物档案不存在：{missing}", code="unknown_person")
        project.person_rows = [ProjectPerson(person_id=pid) for pid in ids]
    if "collector_ids" in data:
        ids = list(dict.fromkeys(data.pop("collector_ids") or []))
        known = set(db.session.scalars(select(User.id).where(User.id.in_(ids)))) if ids else set()
        if set(ids) - known:
            raise _field_error("collector_ids", f"用户不存在：{sorted(set(ids) - known)}", code="unknown_user")
        project.collector_rows = [ProjectCollector(user_id=uid) for uid in ids]
    for field, value in data.items():
        setattr(project, field, value)
    if project.planned_start and project.planned_end and project.planned_end < project.planned_start:
        raise _field_error("planned_end", "计划结束日期早于开始日期")


def create_project(actor: User, data: dict[str, Any]) -> Project:
    if not policy.can(actor, Permission.PROJECT_MANAGE):
        raise Forbidden("只有档案员可以创建采集项目", code="project_not_editable")
    data = dict(data)
    if data.pop("status", "planned") != "planned":
        raise _field_error("status", "新项目的状态为 planned（计划中）")
    project = Project(created_by_id=actor.id, status="planned", content="", background="", equipment="",
                      methods=[], is_public=False)
    with db.session.no_autoflush:
        _apply(actor, project, data)
    db.session.add(project)
    db.session.flush()
    audit.record("project", project.id, "create", actor, changes=audit.diff({}, _snapshot(project)))
    db.session.flush()
    return project


def update_project(actor: User, project_id: int, data: dict[str, Any], *, expected_version: int | None) -> Project:
    project = get_project(actor, project_id)
    if not policy.can(actor, Permission.PROJECT_MANAGE):
        raise Forbidden("只有档案员可以修改采集项目", code="project_not_editable")
    version = check_version(project, expected_version)
    data = dict(data)
    target = data.pop("status", None)
    before = _snapshot(project)
    with db.session.no_autoflush:
        _apply(actor, project, data)
        step = _move(project, target) if target is not None and target != project.status else None
    changes = audit.diff(before, _snapshot(project))
    if changes:
        advance(project, version)
    status_change = changes.pop("status", None)
    if changes:
        audit.record("project", project.id, "update", actor, changes=changes)
    if step is not None:
        audit.record("project", project.id, step, actor, changes={"status": status_change},
                     comment=f"项目状态：{PROJECT_STATUS_LABELS[before['status']]} → "
                             f"{PROJECT_STATUS_LABELS[project.status]}")
    db.session.flush()
    return project


def _move(project: Project, target: str) -> str:
    """Check and make a status step (planned → collecting → closed); the audit action that records it."""
    sources, action = TRANSITIONS.get(target, (frozenset(), ""))
    if project.status not in sources:
        allowed = [status for status, (froms, _) in TRANSITIONS.items() if project.status in froms]
        raise InvalidTransition(f"状态为“{PROJECT_STATUS_LABELS[project.status]}”的项目不能改为“"
                                f"{PROJECT_STATUS_LABELS.get(target, target)}”",
                                details={"status": project.status, "requested": target, "allowed": allowed})
    project.status = target
    if target == "collecting":
        project.started_at = utcnow()
    elif target == "closed":
        project.closed_at = utcnow()
    return action


# --- filing interviews and materials ------------------------------------------------------------------------------

def project_for_filing(actor: User, project_id: int | None, field: str = "project_id") -> Project | None:
    """The project an interview or material is to be filed into (None for none): 422 when ``actor`` may not see
    it, 403 when they may see it but not file into it (closed, or not assigned)."""
    if project_id is None:
        return None
    try:
        project = get_project(actor, project_id)
    except NotFound:
        raise _field_error(field, "采集项目不存在", code="unknown_project") from None
    if not policy.can_file_into_project(actor, project):
        raise Forbidden("该采集项目已结项，只有档案员可以再归入资料", code="project_closed",
                        details={"project_id": project.id, "status": project.status})
    return project
