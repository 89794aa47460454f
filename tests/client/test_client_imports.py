"""DESIGN.md: the client imports nothing of the server, so it can ship on its own. The
import-linter contract names today's packages; this also catches packages added later."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import labelhouse.client

ROOT = Path(__file__).resolve().parents[2]
CLIENT = Path(labelhouse.client.__file__).parent
ALLOWED_THIRD_PARTY = {"httpx"}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_client_imports_only_itself_httpx_and_the_standard_library():
    files = sorted(CLIENT.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top == "labelhouse":
                assert module.startswith("labelhouse.client"), f"{path.name} imports {module}"
            else:
                assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY, (
                    f"{path.name} imports {module}"
                )


def test_pyproject_has_the_import_linter_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    mine = [c for c in contracts if c.get("source_modules") == ["labelhouse.client"]]
    assert len(mine) == 1 and mine[0]["type"] == "forbidden"
    assert {"labelhouse.web", "labelhouse.db", "labelhouse.errors"} <= set(
        mine[0]["forbidden_modules"]
    )
