"""`receiver accounts`: which local names are accepted, and the two forms of Stedi's id."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from tests.unit.cli_support import Cli, assert_clean_error

SECRET = "acme-inbound-secret-7f3c2a9d41b8e6"
UUID = "7c1f3e2a-5b4d-4c6e-8f90-a1b2c3d4e5f6"
LEGACY_ID = "123456789012"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def add(cli: Cli, name: str, *extra: str, stedi_id: str = LEGACY_ID) -> Result:
    return cli(
        "accounts", "add", "--stedi-account-id", stedi_id,
        "--inbound-header", "x-api-key", "--inbound-secret-env", "IN", *extra, "--", name,
        env={"IN": SECRET},
    )  # fmt: skip


class TestNames:
    @pytest.mark.parametrize("name", ["acme", "a", "acme-east_2", "0clinic", "x" * 63])
    def test_names_a_webhook_path_can_reach_are_accepted(self, cli: Cli, name: str) -> None:
        added = add(cli, name)
        assert added.exit_code == 0, added.output
        assert f"/webhooks/stedi/{name}" in added.stdout
        assert [a["name"] for a in cli.json("accounts", "list")] == [name]

    @pytest.mark.parametrize(
        "name",
        [
            "acme/east",  # a second path segment: /webhooks/stedi/acme/east is another route
            "acme east",
            "acme%2Feast",
            "..",
            "-acme",
            "_acme",
            "acme.east",
            "acme:east",
            "acme?x=1",
            "acme#x",
            "acmé",
            "",
            "x" * 64,
        ],
    )
    def test_names_no_webhook_could_reach_are_a_usage_error(self, cli: Cli, name: str) -> None:
        result = add(cli, name)
        assert_clean_error(result, 2, "Invalid value for 'NAME'", "/webhooks/stedi/{account}")
        assert cli.json("accounts", "list") == []

    def test_upper_case_is_refused_with_the_name_to_use(self, cli: Cli) -> None:
        result = add(cli, "Acme")
        assert_clean_error(result, 2, "account names are lower case: use 'acme'")
        assert cli.json("accounts", "list") == []


class TestStediAccountIds:
    def test_add_with_both_forms_and_list_shows_them(self, cli: Cli) -> None:
        added = add(cli, "acme", "--stedi-account-uuid", UUID.upper())
        assert added.exit_code == 0, added.output
        (account,) = cli.json("accounts", "list")
        assert (account["stedi_account_id"], account["stedi_account_uuid"]) == (LEGACY_ID, UUID)
        header, row = cli.ok("accounts", "list").stdout.splitlines()
        assert header.split() == ["NAME", "STEDI", "ACCOUNT", "CREDENTIALS", "STEDI", "UUID"] + [
            "CREATED"
        ]
        assert row.split()[:4] == ["acme", LEGACY_ID, "header", UUID]
        assert row.index(UUID) == header.index("STEDI UUID")  # aligned under its header

    def test_without_a_uuid_list_shows_none(self, cli: Cli) -> None:
        assert add(cli, "acme", stedi_id=UUID).exit_code == 0
        (account,) = cli.json("accounts", "list")
        assert account["stedi_account_uuid"] is None
        _header, row = cli.ok("accounts", "list").stdout.splitlines()
        assert row.split()[:4] == ["acme", UUID, "header", "-"]

    @pytest.mark.parametrize(
        "value",
        [
            "not-a-uuid",
            UUID + "0",
            UUID.replace("-", ""),  # only the hyphenated form Stedi writes
            "{" + UUID + "}",
            UUID.replace("7c", "zz", 1),
            f" {UUID}",
        ],
    )
    def test_a_uuid_that_is_not_one_is_a_usage_error(self, cli: Cli, value: str) -> None:
        result = add(cli, "acme", "--stedi-account-uuid", value)
        assert_clean_error(result, 2, "--stedi-account-uuid", "xxxxxxxx-xxxx-xxxx-xxxx")
        assert cli.json("accounts", "list") == []

    @pytest.mark.parametrize("value", ["", "acct 1", "acct/1", "x" * 65, "12345678901\n"])
    def test_a_webhook_id_of_another_shape_is_a_usage_error(self, cli: Cli, value: str) -> None:
        assert_clean_error(add(cli, "acme", stedi_id=value), 2, "--stedi-account-id")
        assert cli.json("accounts", "list") == []

    def test_rotate_sets_the_uuid_and_keeps_the_rest(self, cli: Cli) -> None:
        assert add(cli, "acme").exit_code == 0
        rotated = cli.ok("accounts", "rotate", "acme", "--stedi-account-uuid", UUID)
        assert f"events naming Stedi account {UUID} are accepted" in rotated.stdout
        (account,) = cli.json("accounts", "list")
        assert (account["stedi_account_id"], account["stedi_account_uuid"]) == (LEGACY_ID, UUID)
        assert [(c["name"], c["expires_at"]) for c in account["credentials"]] == [
            ("x-api-key", None)  # the credential is not rotated out by a UUID change
        ]

    def test_rotate_refuses_a_bad_uuid(self, cli: Cli) -> None:
        assert add(cli, "acme").exit_code == 0
        result = cli("accounts", "rotate", "acme", "--stedi-account-uuid", "nope")
        assert_clean_error(result, 2, "--stedi-account-uuid")
        assert cli.json("accounts", "list")[0]["stedi_account_uuid"] is None
