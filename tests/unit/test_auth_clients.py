"""Client records: scopes, names, secrets, rotation with grace, revocation, authentication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from receiver.auth.clients import (
    SCOPES,
    authenticate_client,
    new_client,
    revoke_client,
    rotate_client,
    validate_scopes,
)
from receiver.auth.secrets import hash_secret, new_client_id, new_client_secret, secret_matches
from receiver.errors import ConfigError

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class TestSecrets:
    def test_ids_and_secrets_are_fresh(self) -> None:
        assert new_client_id().startswith("cli_")
        assert new_client_id() != new_client_id()
        secret = new_client_secret()
        assert len(secret) >= 43
        assert secret != new_client_secret()

    def test_hash_and_match(self) -> None:
        hashed = hash_secret("s3cret")
        assert len(hashed) == 64
        assert "s3cret" not in hashed
        assert secret_matches("s3cret", hashed)
        assert not secret_matches("s3cre", hashed)
        assert not secret_matches("s3cret", "not-a-hash-é")


class TestScopesAndNames:
    def test_known_scopes_deduplicated_and_sorted(self) -> None:
        assert validate_scopes(["events:read", "audit:read", "events:read"]) == (
            "audit:read",
            "events:read",
        )

    def test_all_scopes_valid(self) -> None:
        assert set(validate_scopes(SCOPES)) == SCOPES
        assert "callbacks:coverage-discovery" in SCOPES

    def test_unknown_scope_named_with_valid_list(self) -> None:
        with pytest.raises(ConfigError, match="unknown scope events:write") as info:
            validate_scopes(["events:read", "events:write"])
        assert "subscriptions:write" in str(info.value)

    def test_at_least_one_scope(self) -> None:
        with pytest.raises(ConfigError, match="at least one scope"):
            validate_scopes([])

    @pytest.mark.parametrize("name", ["", "a b", "x" * 65, "caf\u00e9", "a/b", "a:b"])
    def test_bad_names(self, name: str) -> None:
        with pytest.raises(ConfigError, match="client name"):
            new_client(name, ["events:read"], NOW)

    @pytest.mark.parametrize("name", ["optum", "a", "ops.tool_1-x", "x" * 64])
    def test_good_names(self, name: str) -> None:
        client, _ = new_client(name, ["events:read"], NOW)
        assert client.name == name


class TestLifecycle:
    def test_new_client_stores_only_the_hash(self) -> None:
        client, secret = new_client("optum", ["callbacks:coverage-discovery"], NOW)
        assert client.secret_hash == hash_secret(secret)
        assert secret not in repr(client)
        assert client.scopes == ("callbacks:coverage-discovery",)
        assert client.created_at == NOW
        assert client.active
        assert authenticate_client(client, secret, NOW)
        assert not authenticate_client(client, secret + "x", NOW)

    def test_rotation_keeps_old_secret_during_grace(self) -> None:
        client, old = new_client("optum", ["events:read"], NOW)
        rotated, new = rotate_client(client, NOW, timedelta(hours=1))
        assert new != old
        assert rotated.client_id == client.client_id
        assert rotated.previous_secret_hash == client.secret_hash
        assert rotated.previous_expires_at == NOW + timedelta(hours=1)
        assert authenticate_client(rotated, new, NOW)
        assert authenticate_client(rotated, old, NOW + timedelta(minutes=59))
        assert not authenticate_client(rotated, old, NOW + timedelta(hours=1))
        assert authenticate_client(rotated, new, NOW + timedelta(days=30))

    def test_rotation_without_grace_drops_old_secret(self) -> None:
        client, old = new_client("optum", ["events:read"], NOW)
        rotated, new = rotate_client(client, NOW, timedelta(0))
        assert rotated.previous_secret_hash is None
        assert not authenticate_client(rotated, old, NOW)
        assert authenticate_client(rotated, new, NOW)

    def test_second_rotation_replaces_previous(self) -> None:
        client, first = new_client("optum", ["events:read"], NOW)
        once, second = rotate_client(client, NOW, timedelta(hours=1))
        twice, third = rotate_client(once, NOW, timedelta(hours=1))
        assert not authenticate_client(twice, first, NOW)
        assert authenticate_client(twice, second, NOW)
        assert authenticate_client(twice, third, NOW)

    def test_rotation_refuses_negative_grace_and_revoked(self) -> None:
        client, _ = new_client("optum", ["events:read"], NOW)
        with pytest.raises(ConfigError, match="negative"):
            rotate_client(client, NOW, timedelta(seconds=-1))
        with pytest.raises(ConfigError, match="revoked"):
            rotate_client(revoke_client(client, NOW), NOW, timedelta(hours=1))

    def test_revoked_client_never_authenticates(self) -> None:
        client, old = new_client("optum", ["events:read"], NOW)
        rotated, new = rotate_client(client, NOW, timedelta(hours=1))
        revoked = revoke_client(rotated, NOW)
        assert revoked.revoked_at == NOW
        assert not revoked.active
        assert not authenticate_client(revoked, new, NOW)
        assert not authenticate_client(revoked, old, NOW)

    def test_revoke_is_idempotent(self) -> None:
        client, _ = new_client("optum", ["events:read"], NOW)
        revoked = revoke_client(client, NOW)
        assert revoke_client(revoked, NOW + timedelta(days=1)).revoked_at == NOW

    def test_unknown_client_is_false(self) -> None:
        assert not authenticate_client(None, "anything", NOW)
        assert not authenticate_client(None, "", NOW)
