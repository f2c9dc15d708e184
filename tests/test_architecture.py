"""The shape of the code: no import cycles, no project import hidden inside a function, the layers and the
unit-of-work rule (only the boundaries commit), and one module docstring atop every module."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backend", "media", "transcription")
# The boundaries that end a unit of work (backend.transaction.atomic does the commit for all of them).
COMMITTING_MODULES = {"backend/transaction.py"}


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm over the module import graph: every group of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(module: str) -> None:
        nonlocal counter
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def test_no_import_cycles() -> None:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    assert _strongly_connected(graph) == []


def test_a_cycle_would_be_found() -> None:
    """The checker itself: a graph with a cycle is reported."""
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _strongly_connected(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


def _function_level_project_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(function):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom):
                names = ["." * node.level + (node.module or "")]
            for name in names:
                if name.startswith(".") or name.split(".")[0] in PACKAGES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    return found


def test_no_project_import_inside_a_function() -> None:
    """Imports inside functions are for heavy optional libraries (torch, whisper) only, never to dodge a cycle."""
    found = [hit for path in _modules() for hit in _function_level_project_imports(path)]
    assert found == []


def test_services_only_flush() -> None:
    """Only the unit-of-work boundary commits or rolls back; services, jobs, views and commands use it."""
    pattern = re.compile(r"\bsession\.(commit|rollback)\(|\bdb\.session\.(commit|rollback)\b")
    offenders = []
    for path in _modules():
        relative = str(path.relative_to(ROOT))
        if relative in COMMITTING_MODULES:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


def test_every_module_starts_with_a_one_line_docstring() -> None:
    missing = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstring = ast.get_docstring(tree, clean=False)
        if not docstring or not docstring.strip():
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []


@pytest.mark.parametrize("package", ["media", "transcription"])
def test_media_and_transcription_never_import_backend_or_flask(package: str) -> None:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(package, "backend", include_external_packages=True, exclude_type_checking_imports=True)
    forbidden = [chain for target in ("backend", "flask", "werkzeug", "flask_sqlalchemy")
                 if target in graph.modules
                 for chain in [graph.find_shortest_chain(importer=package, imported=target, as_packages=True)]
                 if chain]
    assert forbidden == []


def test_import_linter_contracts_hold() -> None:
    """The layers and contracts in pyproject.toml ([tool.importlinter]), as `lint-imports` checks them."""
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout
