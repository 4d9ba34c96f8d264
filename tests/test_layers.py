"""The house's layers, kept by walking every module's imports (the AST, not a run).

- no import cycle anywhere in `bot/`, counting imports inside functions too (a lazy
  import may keep start-up fast; it may not hide a cycle);
- the core (`bot.core`) and the analysis engine (`bot.analysis`) never import an adapter;
- only the store (`bot.store`) imports `sqlite3` or `sqlite_utils`;
- only the service and the scheduler reach the store through a `.store` attribute:
  everything else goes through the service's methods, the core's one door.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from tests.conftest import ROOT

BOT = ROOT / "bot"
STORE_USERS = {"bot.core.service", "bot.core.scheduler"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(BOT.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _imports(name: str) -> set[str]:
    """Every module `name` imports, anywhere in its body, resolved to a module of ours or
    to the top-level name of a third-party one."""
    found: set[str] = set()
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in MODULES else base)
    return found


GRAPH = {name: {m for m in _imports(name) if m in MODULES and m != name} for name in MODULES}


def test_there_is_no_import_cycle_in_bot():
    try:
        tuple(TopologicalSorter(GRAPH).static_order())
    except CycleError as error:
        raise AssertionError(f"import cycle: {' -> '.join(error.args[1])}") from None


def test_the_core_and_the_analysis_never_import_an_adapter():
    for name in MODULES:
        if name.startswith(("bot.core", "bot.analysis")):
            adapters = sorted(m for m in _imports(name) if m.startswith("bot.adapters"))
            assert not adapters, f"{name} imports {adapters}"


def test_only_the_store_imports_sqlite():
    for name in MODULES:
        if not name.startswith("bot.store"):
            sqlite = {m for m in _imports(name) if m.split(".")[0] in ("sqlite3", "sqlite_utils")}
            assert not sqlite, f"{name} imports {sorted(sqlite)}"


def test_only_the_service_and_the_scheduler_reach_the_store():
    for name, tree in TREES.items():
        if name in STORE_USERS or name.startswith("bot.store"):
            continue
        lines = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "store"
        ]
        assert not lines, f"{name} uses `.store` at lines {lines}: call the service instead"


def test_the_walk_sees_the_whole_house():
    """The checks above are only as good as the graph: it must hold the modules and the
    edges we know are there."""
    assert {"bot.core.service", "bot.store.store", "bot.adapters.slack.app"} <= set(GRAPH)
    assert "bot.store" in GRAPH["bot.core.service"]
    assert "bot.core.service" in GRAPH["bot.core.commands"]
