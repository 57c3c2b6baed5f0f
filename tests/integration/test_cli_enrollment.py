"""`receiver optum ...` and `receiver era-enrollment ...` through click's CliRunner, against a
real SQLite file and the mock Optum over real HTTP: secrets from the environment or stdin and
never printed, records named by field, a submission's status, an accepted record refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from receiver.enrollment.submissions import EraSubmission, SubmissionStatus
from tests.conftest import FIXTURES
from tests.integration.builders import on_store
from tests.mocks.optum import TOKEN_PATHS, MockOptumState, serve_mock_optum
from tests.unit.cli_support import assert_clean_error
from tests.unit.test_cli import Cli

CLIENT_ID = "syn-client-id"
SECRET = "syn-secret-Zq8!x:7"
TENANT = "TESTWINH"
RECORDS = json.loads((FIXTURES / "optum/era-enrollment.submission.request.json").read_bytes())


@pytest.fixture
def state() -> MockOptumState:
    return MockOptumState(client_id=CLIENT_ID, client_secret=SECRET, tenant_id=TENANT)


@pytest.fixture
def cli(tmp_path: Path, state: MockOptumState) -> Iterator[Cli]:
    with serve_mock_optum(FIXTURES, state) as url:
        runner = Cli(tmp_path)
        runner.env["RECEIVER_OPTUM_BASE_URL"] = url
        runner.env["RECEIVER_OPTUM_TOKEN_URL"] = url + TOKEN_PATHS[0]
        saved = structlog.get_config()  # the command points the logs at its own stderr
        try:
            yield runner
        finally:
            structlog.configure(**saved)


def _add(cli: Cli) -> dict[str, object]:
    added: dict[str, object] = cli.json(
        "optum",
        "add",
        "acme",
        "--tenant-id",
        TENANT,
        "--client-id-env",
        "OPTUM_ID",
        "--client-secret-env",
        "-",
        env={"OPTUM_ID": CLIENT_ID},
        input=SECRET + "\n",
    )
    return added


def test_connections_never_show_their_secret(cli: Cli) -> None:
    added = _add(cli)
    assert added["tenant_id"] == TENANT
    assert SECRET not in json.dumps(added)
    listed = cli.ok("optum", "list", "--json").stdout
    assert [c["name"] for c in json.loads(listed)] == ["acme"]
    assert SECRET not in listed
    assert SECRET not in cli.ok("optum", "list").stdout
    rotated = cli.ok("optum", "rotate", "acme", "--client-secret-env", "NEW", env={"NEW": "n3w"})
    assert "n3w" not in rotated.stdout
    assert (
        cli(
            "optum",
            "add",
            "acme",
            "--tenant-id",
            TENANT,
            "--client-id-env",
            "X",
            "--client-secret-env",
            "Y",
            env={"X": "a", "Y": "b"},
        ).exit_code
        != 0
    )
    missing = cli(
        "optum",
        "add",
        "b",
        "--tenant-id",
        TENANT,
        "--client-id-env",
        "UNSET_ID",
        "--client-secret-env",
        "UNSET_SECRET",
    )
    assert missing.exit_code == 2
    assert "UNSET_ID" in missing.output
    assert cli("optum", "remove", "acme").exit_code == 1  # not a terminal, no --yes
    assert cli.json("optum", "remove", "acme", "--yes") == {"name": "acme", "removed": True}
    assert cli("optum", "remove", "acme", "--yes").exit_code == 1


def test_submit_names_bad_records_then_submits_polls_and_refuses_them_again(
    cli: Cli, tmp_path: Path, state: MockOptumState
) -> None:
    _add(cli)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(RECORDS))
    refused = cli("era-enrollment", "submit", str(bad), "--optum", "acme")
    assert refused.exit_code == 1
    assert "records[1].providerIdentifiers.npi" in refused.output
    assert state.submissions == {}

    good = tmp_path / "good.json"
    good.write_text(json.dumps(RECORDS[:1]))
    submitted = cli.json("era-enrollment", "submit", str(good), "--optum", "acme")
    assert submitted["status"] == "polling"
    assert list(state.submissions) == [submitted["payloadId"]]
    shown = cli.json("era-enrollment", "status", submitted["id"])
    assert shown["payloadId"] == submitted["payloadId"]
    again = cli("era-enrollment", "submit", str(good), "--optum", "acme")
    assert again.exit_code == 1
    assert f"of submission {submitted['id']}" in again.output
    assert len(state.submissions) == 1
    assert cli("era-enrollment", "status", "era_nope").exit_code == 1


def test_release_frees_the_records_of_a_lost_submission_once(cli: Cli) -> None:
    lost = EraSubmission(
        id="era_lost",
        connection="acme",
        record_count=1,
        created_at=datetime.now(UTC),
        status=SubmissionStatus.UNKNOWN,
    )
    on_store(cli.db, lambda store: store.add_era_submission(lost, ["fp-lost"]))
    assert_clean_error(cli("era-enrollment", "release", "era_lost"), 1, "pass --yes")
    released = cli.json("era-enrollment", "release", "era_lost", "--yes")
    assert (released["status"], released["id"]) == ("dead", "era_lost")
    assert "released by cli:" in str(released["reason"])
    assert on_store(cli.db, lambda store: store.find_live_records(["fp-lost"])) == []
    again = cli("era-enrollment", "release", "era_lost", "--yes")
    assert_clean_error(again, 1, "is dead")
    (row,) = cli.json("audit", "list", "--action", "era_submission.release")["items"]
    assert (row["target"], row["counts"]) == ("era_lost", {"records": 1})
    assert_clean_error(cli("era-enrollment", "release", "era_nope", "--yes"), 1, "no ERA")
