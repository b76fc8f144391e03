"""The import rule and the size rule of docs/architecture.md, checked on every module of kb, ml and service.

Import rule: ``kb`` imports nothing of ours but ``kb``; ``ml`` only ``kb.vocab``; ``service.platform`` and
``service.config`` no domain and no entry point; the domain packages never an entry point (``api``, ``web``,
``cli``). Size rule: no function longer than 80 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("kb", "ml", "service", "data")
ENTRY_POINTS = ("service.api", "service.web", "service.cli")
DOMAINS = ("service.tickets", "service.sla", "service.billing", "service.search", "service.triage",
           "service.knowledge", "service.directory")
MAX_FUNCTION_LINES = 80


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def allowed(importer: str, imported: str) -> bool:
    """Whether module ``importer`` may import module ``imported`` (both dotted names)."""
    if imported.split(".")[0] not in OURS:
        return True  # the standard library and third-party packages
    if within(importer, "kb"):
        return within(imported, "kb")
    if within(importer, "ml"):
        return within(imported, "ml") or imported == "kb.vocab"
    if within(importer, "service.platform") or importer == "service.config":
        return not any(within(imported, p) for p in (*DOMAINS, *ENTRY_POINTS))
    if any(within(importer, d) for d in DOMAINS):
        return not any(within(imported, p) for p in ENTRY_POINTS)
    return True


def imports_of(source: str) -> set[str]:
    """Every module a source imports, at any depth (function-level imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from service.platform import db`` imports service.platform.db when that is a module
            names.update(f"{node.module}.{alias.name}" if (ROOT / Path(*node.module.split("."))
                                                          / f"{alias.name}.py").exists() else node.module
                         for alias in node.names)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def violations(modules: dict[str, str]) -> list[str]:
    """``importer imports imported`` for every import the rule forbids, in {module name: source}."""
    return sorted(f"{name} imports {imported}" for name, source in modules.items()
                  for imported in imports_of(source) if not allowed(name, imported))


def our_modules() -> dict[str, str]:
    return {module_name(path): path.read_text(encoding="utf-8")
            for package in ("kb", "ml", "service") for path in (ROOT / package).rglob("*.py")
            if "migrations" not in path.parts}


def test_every_module_follows_the_import_rule():
    assert violations(our_modules()) == []


@pytest.mark.parametrize(("module", "source"), [
    ("kb.fabricated", "from service.config import Settings\n"),
    ("kb.fabricated", "def f():\n    import ml.index\n"),
    ("ml.fabricated", "from kb.models import Ticket\n"),
    ("ml.fabricated", "from service.tickets import workflow\n"),
    ("service.platform.fabricated", "from service.tickets.workflow import CREATE_FIELDS\n"),
    ("service.config", "from service.billing.contract import MAX_MONEY\n"),
    ("service.billing.fabricated", "from service.api.tickets import int_arg\n"),
    ("service.tickets.fabricated", "from service.web import views\n"),
])
def test_the_rule_refuses_a_fabricated_violation(module, source):
    assert violations({module: source}) != []


@pytest.mark.parametrize(("module", "source"), [
    ("ml.fabricated", "from kb import vocab\nimport numpy\n"),
    ("service.tickets.fabricated", "from service.sla import service\nfrom service.platform import db\n"),
    ("service.api.fabricated", "from service.tickets import workflow\nfrom service.web import views\n"),
])
def test_the_rule_allows_what_the_layout_allows(module, source):
    assert violations({module: source}) == []


def long_functions(modules: dict[str, str], limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``module.function (N lines)`` for every function longer than ``limit`` lines."""
    found = []
    for name, source in modules.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{name}.{node.name} ({lines} lines)")
    return sorted(found)


def test_no_function_is_longer_than_80_lines():
    assert long_functions(our_modules()) == []


def test_the_size_rule_finds_a_long_function():
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    assert long_functions({"service.fabricated": f"def long():\n{body}"}) == ["service.fabricated.long (81 lines)"]
