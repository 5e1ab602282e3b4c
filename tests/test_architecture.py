"""The layout ARCHITECTURE.md describes, checked: no import cycle in src/, no private name borrowed across
packages (except from the shared base modules), no module too large to read, and every module on the map."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "imbalance"
BASE_MODULES = {"imbalance._validation", "imbalance._numeric", "imbalance._files"}
MAX_LINES = 900


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for every import of the module, at the top or inside a function,
    leaving out ``if TYPE_CHECKING:`` blocks (annotations only)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for b in node.body for n in ast.walk(b))
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("imbalance")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("imbalance"):
                names = [a.name for a in node.names]
                # `from imbalance.data import io` imports the module imbalance.data.io
                subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
                found += [(s, [], node.lineno) for s in subs]
                rest = [n for n in names if f"{module}.{n}" not in MODULES]
                if rest or not subs:
                    found.append((module, rest, node.lineno))
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name in MODULES:
        targets = set()
        for module, _, _ in _imports(name):
            while module not in MODULES and "." in module:
                module = module.rpartition(".")[0]
            if module in MODULES and module != name:
                targets.add(module)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a list of modules, first = last), or None. A package's ``__init__`` importing its own
    submodules to re-export them is not a cycle when the submodules import their siblings directly."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_there_is_no_import_cycle_in_src():
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _top_package(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else name


def test_no_module_borrows_a_private_name_from_another_package():
    borrowed = []
    for name in MODULES:
        for module, names, line in _imports(name):
            if module in BASE_MODULES or _top_package(module) == _top_package(name):
                continue
            private_module = any(part.startswith("_") and part != "__init__" for part in module.split("."))
            private_names = [n for n in names if n.startswith("_")]
            if private_module or private_names:
                borrowed.append(f"{MODULES[name].relative_to(ROOT)}:{line} imports {private_names or module}")
    assert not borrowed, "\n".join(borrowed)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_is_short_enough_to_read(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {lines} lines (> {MAX_LINES})"


def test_architecture_md_names_every_module():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z_/]+\.py|[a-z_]+/)`", text))
    missing = []
    for name, path in MODULES.items():
        relative = path.relative_to(PACKAGE).as_posix()
        if path.name == "__init__.py":
            relative = relative[: -len("__init__.py")]
            if not relative:
                continue
        if relative not in named and relative.rpartition("/")[2] not in named:
            missing.append(relative)
    assert not missing, f"ARCHITECTURE.md does not name: {', '.join(missing)}"
