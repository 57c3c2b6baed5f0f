"""README.md and docs/ name only what the code has: settings (with their defaults), `receiver`
commands and flags, routes, metrics, and links that resolve; the README stays a front page."""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

import click
import pytest

from receiver.app import ROUTES
from receiver.bench.outage import POSTGRES_DSN_ENV
from receiver.metrics import Metrics
from receiver.settings import PREFIX, Settings
from tests.deploy.surface import (
    DOCS_PAGE,
    REPO,
    SETTING_NAME,
    SETTING_NAMES,
    check_named_command,
    find_command,
    receiver_argv,
)

README = REPO / "README.md"
DOCS = REPO / "docs"
CONFIGURATION = DOCS / "configuration.md"
API = DOCS / "api.md"
OPERATING = DOCS / "operating.md"
README_MAX_BYTES = 12 * 1024
SETUP_COMMANDS = [
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/receiver serve",
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest",
]

# Read by tests/conftest.py, not by receiver: documented for whoever runs the tests.
TEST_VARIABLES = frozenset({PREFIX + "TEST_POSTGRES_DSN", PREFIX + "REQUIRE_POSTGRES"})
# Read by `receiver bench`, not by receiver's settings (the loader lets RECEIVER_BENCH_* by).
BENCH_VARIABLES = frozenset({POSTGRES_DSN_ENV})

PAGES = sorted([README, *DOCS.glob("*.md")])
# tests/deploy/test_names.py checks the commands docs/running-replicas.md names.
COMMAND_PAGES = [page for page in PAGES if page != DOCS_PAGE]

FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
SHELL_FENCES = frozenset({"", "sh", "shell", "bash", "console"})
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)
ROUTE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s`?]*)")
PATH_PARAMETER = re.compile(r"\{[^}]*\}")
METRIC = re.compile(r"\breceiver_[a-z0-9_]*[a-z0-9]\b")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def ids(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def without_fences(text: str) -> str:
    return FENCE.sub("", text)


def inline_spans(text: str) -> list[str]:
    return CODE_SPAN.findall(without_fences(text))


def shell_lines(text: str) -> list[str]:
    """The commands of the shell blocks, a line continued with `\\` joined to the next."""
    lines: list[str] = []
    for language, block in FENCE.findall(text):
        if language.strip() in SHELL_FENCES:
            lines += block.replace("\\\n", " ").splitlines()
    return lines


def receiver_words(command: str) -> list[str] | None:
    """The arguments a command line or a code span gives `receiver`, as prose writes them:
    leading `VAR=value` assignments and a path to the script (`.venv/bin/receiver`) are
    taken off, optional parts in `[...]` count, and `...` elides."""
    try:
        tokens = shlex.split(command.replace("[", " ").replace("]", " "), comments=True)
    except ValueError:
        return None
    while tokens and ASSIGNMENT.match(tokens[0]):
        tokens.pop(0)
    if tokens and tokens[0].endswith("/receiver"):
        tokens[0] = "receiver"
    argv = receiver_argv(shlex.join(tokens))
    return None if argv is None else [word for word in argv if word != "..."]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(without_fences(path.read_text()))}


def rendered_default(value: object) -> str:
    """A default as one would set it in the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def configuration_rows() -> dict[str, str]:
    """The configuration tables' rows: variable name to its default cell."""
    rows: dict[str, str] = {}
    for line in CONFIGURATION.read_text().splitlines():
        match = re.match(r"\| `(RECEIVER_\w+)` \| ([^|]*) \|", line)
        if match:
            name, default = match.groups()
            assert name not in rows, f"{name} has two rows"
            rows[name] = default.strip()
    return rows


def route_key(method: str, path: str) -> tuple[str, str]:
    return method, PATH_PARAMETER.sub("{}", path)


def routes_named(path: Path) -> set[tuple[str, str]]:
    """The `METHOD /path` routes a page's code spans name (program output is not read)."""
    spans = inline_spans(path.read_text())
    return {route_key(method, route) for span in spans for method, route in ROUTE.findall(span)}


def app_routes() -> set[tuple[str, str]]:
    return {
        route_key(method, route.path)
        for route in ROUTES
        for method in route.methods or ()
        if method != "HEAD"
    }


def metric_names() -> set[str]:
    """The metric families /metrics serves, as their samples are named (`_total` included)."""
    names = re.findall(r"^# TYPE (\S+) ", Metrics().render().decode(), re.MULTILINE)
    return {name for name in names if not name.endswith("_created")}


@pytest.mark.parametrize("path", PAGES, ids=ids)
def test_every_receiver_variable_is_a_setting(path: Path) -> None:
    named = set(SETTING_NAME.findall(path.read_text()))
    assert named - SETTING_NAMES - TEST_VARIABLES - BENCH_VARIABLES == set()


def test_test_variables_are_read_by_the_tests() -> None:
    conftest = (REPO / "tests" / "conftest.py").read_text()
    assert [name for name in sorted(TEST_VARIABLES) if name not in conftest] == []


def test_configuration_documents_every_setting_with_its_default() -> None:
    rows = configuration_rows()
    defaults = Settings()
    fields = {PREFIX + f.name.upper(): f.name for f in dataclasses.fields(Settings)}
    assert sorted(rows) == sorted(fields)
    wrong = {}
    for name, cell in rows.items():
        expected = rendered_default(getattr(defaults, fields[name]))
        spans = CODE_SPAN.findall(cell)
        shown = spans[0] if spans else ""  # an empty default is said in words, not as code
        if shown != expected:
            wrong[name] = (shown, expected)
    assert wrong == {}


def test_configuration_rows_are_parsed() -> None:
    """The check itself: a row's default is its cell's first code span."""
    rows = configuration_rows()
    assert rows[PREFIX + "MAX_BODY_BYTES"].startswith("`1048576`")
    assert rendered_default(Settings().allow_insecure_destinations) == "false"


@pytest.mark.parametrize("path", COMMAND_PAGES, ids=ids)
def test_every_receiver_command_and_flag_exists(path: Path) -> None:
    text = path.read_text()
    problems = []
    for command in [*shell_lines(text), *inline_spans(text)]:
        argv = receiver_words(command)
        if not argv:  # a bare `receiver` names the program
            continue
        found = find_command(tuple(argv))
        if found is not None and isinstance(found[0], click.Group):
            continue  # a group named on its own (`receiver keys`)
        problems += check_named_command(argv)
    assert problems == []


def test_commands_are_read_as_prose_writes_them() -> None:
    """The check itself: the forms the pages use are parsed, and a wrong flag is caught."""
    assert receiver_words("A='x y' B=z .venv/bin/receiver accounts add acme --json") == [
        "accounts",
        "add",
        "acme",
        "--json",
    ]
    assert receiver_words("receiver replay --since T [--dry-run]") == [
        "replay",
        "--since",
        "T",
        "--dry-run",
    ]
    assert shell_lines("```sh\nreceiver a \\\n  --b\n```\n```text\nreceiver x\n```\n") == [
        "receiver a    --b"
    ]
    assert check_named_command(["replay", "--since", "T", "--dry-runn"]) != []


@pytest.mark.parametrize("path", PAGES, ids=ids)
def test_every_route_named_exists(path: Path) -> None:
    assert routes_named(path) - app_routes() == set()


def test_api_page_names_every_route() -> None:
    assert app_routes() - routes_named(API) == set()


@pytest.mark.parametrize("path", PAGES, ids=ids)
def test_every_metric_named_exists(path: Path) -> None:
    assert set(METRIC.findall(path.read_text())) - metric_names() == set()


def test_operating_page_names_every_metric() -> None:
    assert metric_names() - set(METRIC.findall(OPERATING.read_text())) == set()


@pytest.mark.parametrize("path", PAGES, ids=ids)
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for target in LINK.findall(without_fences(path.read_text())):
        if "://" in target or target.startswith("mailto:"):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        missing_anchor = bool(anchor) and linked.suffix == ".md" and anchor not in anchors(linked)
        if not linked.exists() or missing_anchor:
            broken.append(target)
    assert broken == []


def test_headings_become_the_anchors_github_makes() -> None:
    assert slug("Deliveries, redelivery and replay") == "deliveries-redelivery-and-replay"
    assert slug("The `receiver` command") == "the-receiver-command"


def test_readme_is_a_front_page() -> None:
    assert len(README.read_bytes()) <= README_MAX_BYTES


def test_readme_starts_with_the_set_up_commands() -> None:
    """The run and test commands come first, as written (CI runs the test command)."""
    blocks = [block.strip() for _, block in FENCE.findall(README.read_text())]
    assert blocks[:2] == SETUP_COMMANDS


def test_readme_links_every_wired_page() -> None:
    text = README.read_text()
    pages = list(DOCS.glob("*.md"))
    assert [ids(p) for p in pages if f"]({ids(p)})" not in text] == []
