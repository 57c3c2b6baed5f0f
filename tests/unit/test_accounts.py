"""Account identifiers: local names, and the forms of Stedi's account id an event may carry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from receiver.auth.accounts import (
    check_account_name,
    check_stedi_account_id,
    names_stedi_account,
    parse_stedi_account_uuid,
)
from receiver.models import Account

UUID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"
NOW = datetime(2026, 3, 14, tzinfo=UTC)


def account(stedi_id: str = "123456789012", uuid: str | None = UUID) -> Account:
    return Account(name="acme", stedi_account_id=stedi_id, created_at=NOW, stedi_account_uuid=uuid)


class TestCheckAccountName:
    @pytest.mark.parametrize("name", ["acme", "9", "a-b_c", "x" * 63])
    def test_accepts(self, name: str) -> None:
        assert check_account_name(name) == name

    @pytest.mark.parametrize("name", ["", "-a", "_a", "a/b", "a b", "a.b", "ä", "x" * 64, "a\n"])
    def test_refuses(self, name: str) -> None:
        with pytest.raises(ValueError, match="1 to 63 lower-case letters"):
            check_account_name(name)

    def test_upper_case_gets_a_hint(self) -> None:
        with pytest.raises(ValueError, match="use 'acme-east'"):
            check_account_name("ACME-East")


class TestStediAccountIds:
    @pytest.mark.parametrize("value", ["123456789012", UUID, "X"])
    def test_webhook_ids(self, value: str) -> None:
        assert check_stedi_account_id(value) == value

    @pytest.mark.parametrize("value", ["", "a b", "a/b", "x" * 65, "é"])
    def test_bad_webhook_ids(self, value: str) -> None:
        with pytest.raises(ValueError, match="1 to 64 letters"):
            check_stedi_account_id(value)

    def test_uuid_is_canonical(self) -> None:
        assert parse_stedi_account_uuid(UUID.upper()) == UUID

    @pytest.mark.parametrize("value", ["", UUID[:-1], UUID.replace("-", ""), "g" + UUID[1:]])
    def test_bad_uuids(self, value: str) -> None:
        with pytest.raises(ValueError, match="xxxxxxxx-xxxx"):
            parse_stedi_account_uuid(value)


class TestNamesStediAccount:
    def test_the_webhook_id_exactly(self) -> None:
        assert names_stedi_account("123456789012", account())
        assert not names_stedi_account("123456789013", account())

    def test_the_uuid_in_any_case(self) -> None:
        assert names_stedi_account(UUID, account())
        assert names_stedi_account(UUID.upper(), account())
        assert not names_stedi_account(UUID.replace("7c", "7d", 1), account())

    def test_no_uuid_configured(self) -> None:
        assert not names_stedi_account(UUID, account(uuid=None))
        assert names_stedi_account(UUID, account(stedi_id=UUID, uuid=None))

    @pytest.mark.parametrize("value", [123456789012, None, ["123456789012"], {"id": UUID}])
    def test_only_strings_name_an_account(self, value: object) -> None:
        assert not names_stedi_account(value, account())
