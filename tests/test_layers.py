"""The layer rules, checked: imports point down, and SQL lives only in store/."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "interplay"
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|VIEW))\b",
                 re.IGNORECASE | re.DOTALL)
# The testbed is a program of its own (it speaks only OTLP to Interplay).
SQL_ALLOWED = ("store/", "testbed/")


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def _imports(path: Path) -> set[str]:
    """The interplay modules `path` imports, as 'interplay.x.y'."""
    tree = ast.parse(path.read_text())
    package = ["interplay", *path.relative_to(SRC).parent.parts]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                out.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module and node.module.startswith("interplay"):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("interplay")}
    return out


def _strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            out.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            out.append("".join(v.value for v in node.values if isinstance(v, ast.Constant)) + " ")
    return out


@pytest.mark.parametrize("path", [p for p in _modules() if not _name(p).startswith(SQL_ALLOWED)], ids=_name)
def test_sql_lives_only_in_store(path):
    found = [s for s in _strings(path) if SQL.search(s)]
    assert not found, f"{_name(path)} holds SQL; ask a read module under store/ instead: {found[0][:120]!r}"


def test_model_imports_nothing_of_ours():
    assert _imports(SRC / "model.py") == set()


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_imports_point_down(path):
    name = _name(path)
    mine = {m for m in _imports(path) if m != "interplay"}
    if not name.startswith(("cli/", "server/")) and name != "__main__.py":
        assert not {m for m in mine if m.startswith(("interplay.cli", "interplay.server"))}, \
            f"{name} imports the CLI or the server"
    if name.startswith("store/"):
        above = {m for m in mine if not m.startswith(("interplay.store", "interplay.model", "interplay.batch",
                                                      "interplay.timeutil"))}
        assert not above, f"{name} imports from above the store: {sorted(above)}"
    if name.startswith("testbed/"):
        assert all(m.startswith("interplay.testbed") for m in mine), f"{name} knows Interplay's internals"
