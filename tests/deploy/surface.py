"""What the receiver code offers the deployment files: commands and flags (the click group),
settings (the Settings fields), routes, and values that files must agree on."""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from receiver.app import ROUTES
from receiver.cli import main
from receiver.settings import PREFIX, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
KUBERNETES = DEPLOY / "kubernetes"
DOCS_PAGE = REPO / "docs" / "running-replicas.md"
# serve's --host in a container: its default, 127.0.0.1, is out of every other host's reach.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104

# RECEIVER_CONFIG names the TOML file; it is read by load_settings, not a Settings field.
SETTING_NAMES = frozenset(
    {PREFIX + field.name.upper() for field in dataclasses.fields(Settings)} | {PREFIX + "CONFIG"}
)
SETTING_NAME = re.compile(r"\bRECEIVER_[A-Z0-9_]*[A-Z0-9]\b")


def get_routes() -> dict[str, set[str]]:
    """The app's route paths and their methods."""
    return {route.path: set(route.methods or ()) for route in ROUTES}


def find_command(path: Sequence[str]) -> tuple[click.Command, click.Context] | None:
    """The command at `path` under `receiver` (e.g. `("accounts", "add")`) and the context of
    its group, or None if there is no such command."""
    command: click.Command = main
    ctx = click.Context(main, info_name="receiver")
    for depth, name in enumerate(path):
        if not isinstance(command, click.Group):
            return None
        found = command.get_command(ctx, name)
        if found is None:
            return None
        if isinstance(found, click.Group) and depth < len(path) - 1:
            ctx = click.Context(found, info_name=name, parent=ctx)
        command = found
    return command, ctx


def parse_invocation(argv: Sequence[str]) -> click.Context:
    """Parse `receiver ARGV` as the console script would, without running it: an unknown
    command or option, a missing argument or a bad value raises click.UsageError."""
    path = _command_path(argv)
    found = find_command(path)
    if found is None or isinstance(found[0], click.Group):
        raise click.UsageError(f"receiver {' '.join(argv)}: no such command")
    command, parent = found
    return command.make_context(path[-1], list(argv[len(path) :]), parent=parent)


def check_named_command(words: Sequence[str]) -> list[str]:
    """Problems with a command as prose names it (`receiver accounts add NAME --api-key-env
    VAR ...`): the subcommands must exist and every `--flag` must be one of the command's
    options; placeholders and elisions are not parsed."""
    path = _command_path(words)
    found = find_command(path)
    if found is None or isinstance(found[0], click.Group):
        return [f"receiver {' '.join(words[: len(path) + 1])}: no such command"]
    command = found[0]
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    known.add("--help")
    return [
        f"receiver {' '.join(path)}: unknown flag {flag}"
        for flag in _flags(words[len(path) :])
        if flag not in known
    ]


def _command_path(words: Sequence[str]) -> tuple[str, ...]:
    """The leading words that name existing groups and their command."""
    path: tuple[str, ...] = ()
    for word in words:
        found = find_command((*path, word))
        if found is None:
            break
        path = (*path, word)
        if not isinstance(found[0], click.Group):
            break
    return path


def _flags(words: Sequence[str]) -> Iterator[str]:
    for word in words:
        if word.startswith("--") and len(word) > 2:
            yield word.split("=", 1)[0]


def receiver_argv(line: str) -> list[str] | None:
    """The receiver arguments a shell line runs, or None if it runs no receiver command:
    `receiver ...`, `kubectl ... -- receiver ...`, `docker compose ... exec SERVICE receiver ...`
    and `docker compose ... run [options] SERVICE ...` (the image's entrypoint is receiver)."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        return None
    if tokens[:1] == ["receiver"]:
        return tokens[1:]
    if "--" in tokens:
        after = tokens[tokens.index("--") + 1 :]
        return after[1:] if after[:1] == ["receiver"] else None
    if tokens[:2] == ["docker", "compose"]:
        for verb in ("run", "exec"):
            if verb in tokens:
                service_and_args = _skip_options(tokens[tokens.index(verb) + 1 :])
                args = service_and_args[1:]
                if verb == "exec":
                    return args[1:] if args[:1] == ["receiver"] else None
                return args
    return None


# `docker compose run` options that take a value.
_VALUE_OPTIONS = frozenset({"-e", "--env", "-v", "--volume", "-u", "--user", "-w", "--workdir"})


def _skip_options(tokens: list[str]) -> list[str]:
    while tokens and tokens[0].startswith("-"):
        tokens = tokens[2:] if tokens[0] in _VALUE_OPTIONS else tokens[1:]
    return tokens


def option_value(argv: Sequence[str], option: str) -> str:
    """The value given to `option` in an argv (the parsed one, so it is known to exist)."""
    params = parse_invocation(argv).params
    return str(params[option.lstrip("-").replace("-", "_")])


def check_settings(values: Mapping[str, str]) -> None:
    """Load `values` (RECEIVER_* names to values) as receiver would; ConfigError if one is not
    a setting receiver accepts."""
    unknown = sorted(set(values) - SETTING_NAMES)
    assert not unknown, f"not receiver settings: {unknown}"
    load_settings(environ=dict(values))


_INTERPOLATION = re.compile(r"\$\{\w+(:?-([^}]*))?[^}]*\}")


def interpolate(value: str) -> str:
    """A compose value with `${VAR:-default}` as its default and a required `${VAR:?...}` or
    a bare `${VAR}` as the placeholder `x`, for checking what the value would look like."""

    def one(match: re.Match[str]) -> str:
        return match.group(2) if match.group(1) else "x"

    return _INTERPOLATION.sub(one, value)


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    args: str
    stage: int


def read_dockerfile(path: Path = DOCKERFILE) -> list[Instruction]:
    """The instructions, each with the index of its build stage (-1 before the first FROM)."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).strip().partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), " ".join(args.split()), stage))
    return instructions


def final(keyword: str) -> list[Instruction]:
    """The final stage's instructions of one kind."""
    instructions = read_dockerfile()
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.keyword == keyword and i.stage == last]


def image_user() -> tuple[int, int]:
    """The final stage's USER as numeric uid and gid."""
    (user,) = final("USER")
    uid, _, gid = user.args.partition(":")
    return int(uid), int(gid)
