"""The composition of encryption at rest: the KEK file the settings name, and the sealed store."""

from __future__ import annotations

from receiver.crypto import KekSet, load_kek, load_or_create_kek
from receiver.errors import ConfigError
from receiver.settings import Settings
from receiver.store.base import Store
from receiver.store.factory import build_store
from receiver.store.sealed import SealedStore


def load_encryption_keys(settings: Settings) -> KekSet:
    """The KEKs of RECEIVER_ENCRYPTION_KEY_PATH. On SQLite, left unset, the file beside the
    database, created (0600) if missing; on PostgreSQL the setting is required and the file
    is never created: every replica must read the same keys. ConfigError otherwise."""
    path = settings.resolved_encryption_key_path
    if settings.is_sqlite and not settings.encryption_key_path:
        return load_or_create_kek(path)
    if not settings.encryption_key_path:
        raise ConfigError(
            "RECEIVER_ENCRYPTION_KEY_PATH is not set: on PostgreSQL every replica must read "
            "the same key-encryption key file. Create it with `receiver keys create-kek PATH`, "
            "mount it into every replica (web and worker) and set RECEIVER_ENCRYPTION_KEY_PATH"
        )
    if not path.exists():
        raise ConfigError(
            f"RECEIVER_ENCRYPTION_KEY_PATH: {path} does not exist; create it with "
            f"`receiver keys create-kek {path}`, or restore it from its backup: without it "
            "nothing encrypted can be read"
        )
    return load_kek(path)


def build_sealed_store(settings: Settings, keks: KekSet | None = None) -> SealedStore:
    """The configured store behind encryption at rest (not yet opened)."""
    inner: Store = build_store(settings)
    return SealedStore(inner, keks or load_encryption_keys(settings))
