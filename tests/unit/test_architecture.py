"""The dependency rules of DESIGN.md §6, checked on the source: arrows point inward."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "returnbridge"
THIRD_PARTY_ALLOWED_IN_DOMAIN = {"pydantic"}


def _imports(package: str) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for path in sorted((SRC / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.extend((path, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
    return found


def test_domain_uses_only_the_standard_library_and_pydantic() -> None:
    offending = [
        f"{path.name}: {module}"
        for path, module in _imports("domain")
        if not module.startswith("returnbridge.domain")
        and module.split(".")[0] not in sys.stdlib_module_names
        and module.split(".")[0] not in THIRD_PARTY_ALLOWED_IN_DOMAIN
    ]
    assert offending == []


def test_domain_does_no_io() -> None:
    forbidden = {"socket", "httpx", "sqlalchemy", "os", "time", "random", "datetime.now"}
    offending = [
        f"{path.name}: {module}"
        for path, module in _imports("domain")
        if module.split(".")[0] in forbidden
    ]
    assert offending == []


def test_sandbox_imports_nothing_of_ours_outside_itself() -> None:
    offending = [
        f"{path.relative_to(SRC)}: {module}"
        for path, module in _imports("sandbox")
        if module.startswith("returnbridge") and not module.startswith("returnbridge.sandbox")
    ]
    assert offending == []


@pytest.mark.parametrize("layer", ["domain", "connectors", "store"])
def test_inner_layers_never_import_outer_ones(layer: str) -> None:
    outer = (
        "returnbridge.engine",
        "returnbridge.api",
        "returnbridge.cli",
        "returnbridge.sandbox",
        "returnbridge.dashboard",
        "returnbridge.mcp_gateway",
    )
    offending = [
        f"{path.relative_to(SRC)}: {module}"
        for path, module in _imports(layer)
        if module.startswith(outer)
    ]
    assert offending == []


@pytest.mark.parametrize("layer", ["engine", "notify"])
def test_the_engine_never_imports_a_way_in(layer: str) -> None:
    """The API, the dashboard, the MCP gateway and the CLI call the engine, never the reverse."""
    ways_in = (
        "returnbridge.api",
        "returnbridge.cli",
        "returnbridge.dashboard",
        "returnbridge.mcp_gateway",
    )
    offending = [
        f"{path.relative_to(SRC)}: {module}"
        for path, module in _imports(layer)
        if module.startswith(ways_in)
    ]
    assert offending == []


def test_connectors_never_import_each_other() -> None:
    platforms = [p.name for p in (SRC / "connectors").iterdir() if p.is_dir() and p.name != "base"]
    offending = [
        f"{path.relative_to(SRC)}: {module}"
        for platform in platforms
        for path, module in _imports(f"connectors/{platform}")
        for other in platforms
        if other != platform and module.startswith(f"returnbridge.connectors.{other}")
    ]
    assert platforms
    assert offending == []


def test_the_engine_names_no_platform() -> None:
    """The engine reaches connectors through their contract and the registry only."""
    platforms = [p.name for p in (SRC / "connectors").iterdir() if p.is_dir() and p.name != "base"]
    offending = [
        f"{path.relative_to(SRC)}: {module}"
        for path, module in _imports("engine")
        for platform in platforms
        if module.startswith(f"returnbridge.connectors.{platform}")
    ]
    assert platforms
    assert offending == []


def _engine_graph() -> dict[str, set[str]]:
    """Engine module -> the engine modules it imports (at any depth of its code)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((SRC / "engine").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[:2] == ["returnbridge", "engine"] and len(parts) == 3:
                    targets.add(parts[2])
        graph[path.stem] = targets & {p.stem for p in (SRC / "engine").glob("*.py")}
    return graph


def test_engine_modules_import_each_other_without_a_circle() -> None:
    graph = _engine_graph()
    circles: list[str] = []

    def visit(module: str, trail: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in trail:
                circles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif len(trail) < len(graph):
                visit(target, [*trail, target])

    for module in sorted(graph):
        visit(module, [module])
    assert graph["workflows"]  # the graph was read
    assert circles == []
