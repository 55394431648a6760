"""The layers of docs/architecture.md, as the imports really run: no arrow points up."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "service"
# Higher imports lower, never the reverse. Adapters: events may use persistence.
RANKS = {"domain": 0, "persistence": 1, "events": 2, "usecases": 3, "api": 4}
ENTRY_POINTS = {"application", "bootstrap", "cli", "serve", "__main__"}
# Shared by every layer but the domain (which stays pure).
KERNEL = {"config", "logs", "metrics", "waiting", "loop"}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "service"


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("service"):
            names = (
                [node.module]
                if node.module != "service"
                else [f"service.{a.name}" for a in node.names]
            )
            found.update(names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("service"))
    return found


def violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        source = layer_of(module)
        for imported in imports_of(path):
            target = layer_of(imported)
            if source in ENTRY_POINTS or target == source:
                continue
            allowed = (
                (target in KERNEL and source != "domain")
                or (source in KERNEL and target in {"domain"} | KERNEL)
                or (source in RANKS and target in RANKS and RANKS[target] < RANKS[source])
            )
            if not allowed:
                found.append(f"{module} imports {imported}")
    return sorted(found)


def test_no_module_imports_from_a_layer_above_it() -> None:
    assert violations() == []


def test_the_rule_sees_an_upward_import(tmp_path: Path) -> None:
    domain = tmp_path / "service" / "domain"
    domain.mkdir(parents=True)
    (domain / "rule.py").write_text(
        "from service.api.keys import SETTINGS\nimport service.config\n"
    )
    (tmp_path / "service" / "cli.py").write_text("from service.api.keys import SETTINGS\n")
    assert violations(tmp_path / "service") == [
        "service.domain.rule imports service.api.keys",
        "service.domain.rule imports service.config",
    ]
