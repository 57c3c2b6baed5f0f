"""Every name the deployment files and docs/running-replicas.md mention, comments included,
exists: RECEIVER_* settings, `receiver ...` commands and flags, repository paths, links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.surface import (
    DEPLOY,
    DOCS_PAGE,
    REPO,
    SETTING_NAME,
    SETTING_NAMES,
    check_named_command,
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
# Made by whoever deploys (see the compose file), kept out of git by deploy/secrets/.gitignore
# and deploy/kek/.gitignore.
USER_MADE = ("deploy/secrets/", "deploy/kek/")


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


def test_the_check_catches_a_flag_the_command_does_not_have() -> None:
    """The check itself, on the signing key commands the files name: the key file is an
    argument (there is no --out), and rotate and list exist beside generate."""
    assert check_named_command(["keys", "generate", "PATH", "--json"]) == []
    assert check_named_command(["keys", "rotate", "PATH"]) == []
    assert check_named_command(["keys", "list", "PATH", "--json"]) == []
    assert check_named_command(["keys", "generate", "--out", "PATH"]) == [
        "receiver keys generate: unknown flag --out"
    ]
    assert check_named_command(["keys", "remove", "PATH"]) == [
        "receiver keys remove: no such command"
    ]
