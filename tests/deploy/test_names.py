"""Every name the deployment files and docs/running-replicas.md mention, comments included,
exists: RECEIVER_* settings, `receiver ...` commands and flags, repository paths, links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.surface import (
    AWAITED,
    DEPLOY,
    DOCS_PAGE,
    REPO,
    SETTING_NAME,
    SETTING_NAMES,
    check_named_command,
    find_command,
    receiver_argv,
)

FILES = sorted(
    [
        *(p for p in DEPLOY.rglob("*") if p.is_file() and p.name != ".gitignore"),
        REPO / ".dockerignore",
        DOCS_PAGE,
    ]
)
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
# A file (with a suffix) or a folder (with a trailing slash) under a top-level folder; not
# kubectl's `deploy/NAME`.
REPO_PATH = re.compile(r"^(?:deploy|docs|receiver|tests)/(?:[\w.-]+/)*(?:[\w-]*\.[\w.-]+)?$")
LINK = re.compile(r"\]\(([^)#\s]+)\)")
# Made by whoever deploys (see the compose file), kept out of git by deploy/secrets/.gitignore.
USER_MADE = ("deploy/secrets/",)


def ids(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def code_spans(text: str) -> list[str]:
    """Inline code spans, and each line of fenced blocks (which are shell here)."""
    fenced = [line for block in FENCE.findall(text) for line in block.splitlines()]
    return fenced + CODE_SPAN.findall(FENCE.sub("", text))


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_every_receiver_variable_is_a_setting(path: Path) -> None:
    named = set(SETTING_NAME.findall(path.read_text()))
    assert named - SETTING_NAMES == set()


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_every_receiver_command_and_flag_exists(path: Path) -> None:
    problems = []
    for span in code_spans(path.read_text()):
        argv = receiver_argv(span)
        if argv:  # a bare `receiver` names the program
            problems += check_named_command(argv)
    assert problems == []


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_every_repository_path_exists(path: Path) -> None:
    words = {word for span in code_spans(path.read_text()) for word in span.split()}
    named = {word for word in words if REPO_PATH.match(word)}
    missing = [p for p in named if not p.startswith(USER_MADE) and not (REPO / p).exists()]
    assert missing == []


@pytest.mark.parametrize("path", [DOCS_PAGE, REPO / "README.md"], ids=ids)
def test_every_relative_link_resolves(path: Path) -> None:
    targets = [t for t in LINK.findall(path.read_text()) if "://" not in t]
    assert [t for t in targets if not (path.parent / t).exists()] == []


def test_readme_links_the_page() -> None:
    assert "](docs/running-replicas.md)" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("path", sorted(AWAITED), ids=" ".join)
def test_awaited_command_is_still_missing(path: tuple[str, ...]) -> None:
    """These commands come with a parallel change; once one exists, delete it from AWAITED so
    that the files naming it are checked against its real flags."""
    assert find_command(path) is None, (
        f"receiver {' '.join(path)} exists now: remove it from AWAITED in tests/deploy/surface.py"
    )


def test_awaited_commands_are_named_with_expected_flags_only() -> None:
    """The check itself: a misspelt flag of an awaited command is caught."""
    (path,) = AWAITED
    assert check_named_command([*path, "--out", "f"]) == []
    assert check_named_command([*path, "--output", "f"]) != []
