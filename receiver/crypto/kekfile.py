"""The KEK file on disk: loaded only when private, created atomically, never overwritten."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from receiver.crypto.kek import (
    KekSet,
    format_kek_line,
    format_kek_text,
    new_kek,
    parse_kek_text,
)
from receiver.errors import ConfigError

_MAX_FILE_BYTES = 64 * 1024  # hundreds of key lines; anything bigger is not a key file


def load_kek(path: Path) -> KekSet:
    """Load the KEKs in the file at `path`, current first.

    ConfigError, naming the path and what is wrong (never the key bytes), when the file is
    missing, not private (see `unsafe_mode`), too big, not UTF-8, or holds a malformed line.
    """
    try:
        info = path.stat()
        problem = unsafe_mode(info.st_mode, owner=info.st_uid, euid=os.geteuid())
        if problem:
            raise ConfigError(f"encryption key file {path} {problem} {path}")
        with path.open("rb") as fh:
            data = fh.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read encryption key file {path}: {exc.strerror}") from None
    if len(data) > _MAX_FILE_BYTES:
        raise ConfigError(f"encryption key file {path} is over {_MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"encryption key file {path} is not UTF-8 text") from None
    return parse_kek_text(text, source=str(path))


def unsafe_mode(mode: int, *, owner: int, euid: int) -> str | None:
    """What makes a key file with this mode and owner unsafe to load, or None when it is not.

    PostgreSQL's rule for its TLS key: 0600 or less when the file is ours; 0640 or less when
    it is root's, which is how a Kubernetes Secret mounted with an fsGroup arrives (0440).
    The answer ends with the command that fixes it, less the path.
    """
    perms = stat.S_IMODE(mode)
    if owner == euid:
        if perms & (stat.S_IRWXG | stat.S_IRWXO):
            return f"is accessible by group or others (mode {perms:o}); fix it with: chmod 600"
        return None
    if owner == 0:
        if perms & (stat.S_IWGRP | stat.S_IXGRP | stat.S_IRWXO):
            return f"is root's and open beyond group read (mode {perms:o}); fix it with: chmod 640"
        return None
    return (
        f"belongs to uid {owner}, neither this process's user nor root; fix it with: chown {euid}"
    )


def create_kek(path: Path, *, random: Callable[[int], bytes] = os.urandom) -> KekSet:
    """Write a new KEK file at `path` (mode 0600, atomically); ConfigError if it exists."""
    keks = KekSet((new_kek(random),))
    if not _publish_new(path, format_kek_text(keks)):
        raise ConfigError(f"encryption key file {path} already exists; it is never overwritten")
    return keks


def load_or_create_kek(path: Path, *, random: Callable[[int], bytes] = os.urandom) -> KekSet:
    """Load the KEK file at `path`, creating it first when missing (the SQLite default).

    When two processes start at once on a fresh directory, one file wins and both load it.
    """
    if not path.exists():
        _publish_new(path, format_kek_text(KekSet((new_kek(random),))))
    return load_kek(path)


def rotate_kek(path: Path, *, random: Callable[[int], bytes] = os.urandom) -> KekSet:
    """Put a new current KEK before the first key line of `path`, keeping every other line.

    The older keys stay so the data keys they wrap can still be unwrapped (and rewrapped);
    drop a line only once no stored data key names its id.
    """
    with _locked_dir(path.parent):
        load_kek(path)  # refuse to extend a file that is unsafe or malformed
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        at = next((i for i, line in enumerate(lines) if _is_key_line(line)), len(lines))
        lines.insert(at, format_kek_line(new_kek(random)) + "\n")
        _replace(path, "".join(lines))
        return load_kek(path)


def _is_key_line(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _publish_new(path: Path, text: str) -> bool:
    """Write `text` to `path` unless it exists; True when this call created it."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = _write_temp(path, text)
        try:
            # A hard link never replaces an existing file, and appears whole or not at all.
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:
            return _create_exclusive(path, text)  # filesystems without hard links
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)
        return True
    except OSError as exc:
        raise ConfigError(f"cannot write encryption key file {path}: {exc.strerror}") from None


def _replace(path: Path, text: str) -> None:
    try:
        tmp = _write_temp(path, text)
        try:
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write encryption key file {path}: {exc.strerror}") from None


def _write_temp(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    _write_exclusive(tmp, text)
    return tmp


def _create_exclusive(path: Path, text: str) -> bool:
    try:
        _write_exclusive(path, text)
    except FileExistsError:
        return False
    return True


def _write_exclusive(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def _locked_dir(directory: Path) -> Iterator[None]:
    # Two rotations at once must not each add a key and keep only their own: lock the
    # directory (no stray lock file beside the key) and re-read the file under the lock.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise ConfigError(f"cannot open {directory}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # platforms that cannot open a directory have nothing to sync
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
