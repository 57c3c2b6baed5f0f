"""The layout holds: a small kernel at the top, stage packages that import downward only, and
a docs/layout.md that names only modules and packages that exist."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "receiver"
LAYOUT_DOC = PACKAGE.parent / "docs" / "layout.md"

KERNEL = {
    "app",
    "settings",
    "errors",
    "models",
    "ids",
    "entropy",
    "clock",
    "policy",
    "logs",
    "metrics",
    "pump",
}
TOP_LEVEL = KERNEL | {"__init__", "__main__"}
STAGES = {"intake", "followup", "delivery", "eligibility", "enrollment", "ops"}
# What each package may import from receiver besides itself and the kernel (app excepted: it is
# the composition root, which only the CLI may start from).
ALLOWED: dict[str, set[str]] = {
    "net": set(),
    "crypto": set(),
    "auth": {"store"},
    # fan-out matches with delivery.rules; the polled stages' value types; Optum connection
    # values; sealed.py seals with crypto/
    "store": {"delivery", "eligibility", "enrollment", "upstream", "crypto"},
    "upstream": {"net"},
    "intake": {"auth"},
    # reconcile records polls; eligibility results publish through the follow-up
    "followup": {"upstream", "delivery", "store", "net", "intake", "eligibility", "enrollment"},
    "delivery": {"store", "net"},
    "eligibility": {"upstream", "store"},
    "enrollment": {"upstream", "store", "intake"},  # the sweep records missed callbacks
    "ops": {"store", "delivery", "intake", "auth", "eligibility", "enrollment", "upstream"},
    "web": {
        "ops",
        "eligibility",
        "enrollment",
        "intake",
        "auth",
        "store",
        "delivery",
        "followup",
        "net",
        "upstream",
    },
    "cli": {
        "app",
        "eligibility",
        "enrollment",
        "upstream",
        "ops",
        "auth",
        "store",
        "delivery",
        "crypto",
        "bench",
        "web",
        "net",
        "intake",
        "demo",
    },
    "bench": {"auth", "store", "intake"},
    "demo": {"app", "auth", "delivery", "intake", "net", "store"},  # runs the app in-process
}
KERNEL_MAY_IMPORT = {"store"}  # app composes everything; the rest of the kernel imports kernel only


@functools.cache
def modules() -> dict[str, set[str]]:
    """Every module under receiver/ (dotted, without `receiver.`) and the receiver modules it
    imports, at any depth in the file. Parsed once per run: two dozen checks read it, and
    parsing the package is most of a check's time. Callers must not change it."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            imported |= {n.removeprefix("receiver.") for n in names if n.startswith("receiver.")}
        found[name] = imported
    return found


def part(module: str) -> str:
    """The top-level package (or kernel module) a module belongs to."""
    return module.split(".", 1)[0]


def test_the_top_level_holds_only_the_kernel() -> None:
    loose = {p.stem for p in PACKAGE.glob("*.py")}
    assert loose == TOP_LEVEL


def test_the_kernel_imports_only_the_kernel() -> None:
    wrong = {
        (module, target)
        for module, targets in modules().items()
        if module in KERNEL and module != "app"
        for target in targets
        if part(target) not in KERNEL and part(target) not in KERNEL_MAY_IMPORT
    }
    assert wrong == set()


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_downward(package: str) -> None:
    allowed = ALLOWED[package] | {package} | (KERNEL - {"app"})
    wrong = {
        (module, target)
        for module, targets in modules().items()
        if part(module) == package
        for target in targets
        if part(target) not in allowed
    }
    assert wrong == set()


def test_only_the_edges_and_the_root_import_web_or_cli() -> None:
    wrong = {
        (module, target)
        for module, targets in modules().items()
        if part(module) not in {"web", "cli", "app", "__main__"}
        for target in targets
        if part(target) in {"web", "cli"}
    }
    assert wrong == set()


def test_cli_uses_no_route_module() -> None:
    """Use cases both edges need live in ops/; the CLI only starts uvicorn with web's protocol."""
    wrong = {
        (module, target)
        for module, targets in modules().items()
        if part(module) == "cli"
        for target in targets
        if part(target) == "web" and target != "web.protocol"
    }
    assert wrong == set()


def test_every_part_is_a_known_one() -> None:
    """A new package gets a line in ALLOWED (and in docs/layout.md)."""
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)


def test_docs_layout_names_only_what_exists() -> None:
    text = LAYOUT_DOC.read_text()
    block = text.split("```text", 1)[1].split("```", 1)[0]
    named = set(re.findall(r"\b([a-z_]+)/", block)) - {"receiver", "tests", "fixtures", "deploy"}
    named -= {"unit", "contract", "integration", "e2e"}
    for package in named:
        assert (PACKAGE / package / "__init__.py").exists(), package
    for module in re.findall(r"\b([a-z_]+)\.py\b", block):
        assert (PACKAGE / f"{module}.py").exists(), module
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages <= named, packages - named
    for path in re.findall(r"`((?:receiver/)?[a-z_]+/[a-z_/]*\.py)`", text):
        assert (PACKAGE.parent / path).exists() or (PACKAGE / path).exists(), path
