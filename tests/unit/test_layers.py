"""The import rules of DESIGN.md, enforced by walking every module's imports (AST, not regex).

detectors imports nothing of ours; connectors and alerts import only detectors (never each
other, never monitor); monitor wires everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("monitor", "detectors", "connectors", "alerts")
ALLOWED = {
    "detectors": {"detectors"},
    "connectors": {"connectors", "detectors"},
    "alerts": {"alerts", "detectors"},
    "monitor": {"monitor", "detectors", "connectors", "alerts"},
}
# Third-party packages each layer may use on top of the stdlib (detectors stays pure statistics).
DETECTORS_THIRD_PARTY = {"numpy", "scipy", "sklearn", "pandas"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_follow_the_layering(package: str) -> None:
    bad = []
    for path in _modules(package):
        ours = _imports(path) & set(PACKAGES)
        for name in sorted(ours - ALLOWED[package]):
            bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_detectors_use_only_numeric_third_party_packages() -> None:
    import sys

    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    bad = []
    for path in _modules("detectors"):
        for name in sorted(_imports(path) - stdlib - set(PACKAGES) - DETECTORS_THIRD_PARTY):
            bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_evidently_and_river_are_test_only() -> None:
    bad = []
    for package in PACKAGES:
        for path in _modules(package):
            if package == "monitor" and path.name == "evidently_report.py":
                continue  # the daemon writes evidently HTML reports for people, not statistics
            for name in _imports(path) & {"river", "evidently"}:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)
