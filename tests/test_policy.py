"""The one permission policy: the README's role and permission tables are the policy's, and roles combine."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from backend.models import Role
from backend.services import policy
from backend.services.policy import GRANTS, Permission

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_roles_table_names_exactly_the_roles() -> None:
    roles_table = _section("Roles").split("\n\n")[0]
    assert re.findall(r"^\| `(\w+)` \S+ \|", roles_table, flags=re.M) == [role.value for role in Role]


def test_readme_permission_table_is_the_policy() -> None:
    assert policy.permission_table_markdown() in _section("Roles"), (
        "regenerate the README's table with `liufang permissions-table`")


def test_every_permission_is_held_by_the_admin_and_named_once() -> None:
    assert GRANTS[Role.ADMIN] == frozenset(Permission)
    assert len({permission.value for permission in Permission}) == len(Permission)
    assert all(re.fullmatch(r"[a-z]+\.[a-z_]+", permission.value) for permission in Permission)


def test_roles_combine_and_unknown_names_grant_nothing() -> None:
    collector_and_editor = SimpleNamespace(roles=["collector", "editor"])
    assert policy.can(collector_and_editor, Permission.TRANSCRIPT_EDIT)
    assert not policy.can(collector_and_editor, Permission.PERSON_APPROVE)
    assert not policy.can(SimpleNamespace(roles=["superuser"]), Permission.MATERIAL_UPLOAD)
    assert not policy.can(None, Permission.MATERIAL_UPLOAD)
    assert policy.roles_with(Permission.PERSON_APPROVE) == ["archivist", "admin"]
