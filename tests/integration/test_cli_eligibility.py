"""`receiver eligibility submit|status|follow` through click's CliRunner, on a real SQLite
file, against the mock of Stedi's eligibility endpoints over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.mocks.stedi_eligibility import MockEligibilityState, mock_stedi_eligibility
from tests.unit.test_cli import Cli, add_acme, assert_clean_error

API_KEY = "acme-stedi-key-0a1b2c3d"
CSV_FIXTURE = FIXTURES / "stedi" / "eligibility-batch.checks.csv"


@pytest.fixture
def served() -> Iterator[tuple[str, MockEligibilityState]]:
    with mock_stedi_eligibility(MockEligibilityState(api_key=API_KEY)) as found:
        yield found


@pytest.fixture
def stedi(served: tuple[str, MockEligibilityState]) -> MockEligibilityState:
    return served[1]


@pytest.fixture
def cli(tmp_path: Path, served: tuple[str, MockEligibilityState]) -> Cli:
    runner = Cli(tmp_path)
    url = served[0]
    runner.env.update({"RECEIVER_STEDI_MANAGER_URL": url, "RECEIVER_STEDI_HEALTHCARE_URL": url})
    added = add_acme(runner, "--api-key-env", "ACME_KEY", env={"ACME_KEY": API_KEY})
    assert added.exit_code == 0, added.output
    return runner


def test_submit_a_csv_file_then_show_its_progress(cli: Cli, stedi: MockEligibilityState) -> None:
    answer = cli.json("eligibility", "submit", str(CSV_FIXTURE), "--account", "acme")

    assert answer["items"] == 3
    assert len(answer["batch_ids"]) == 1
    (sent,) = stedi.submitted
    assert [item["submitterTransactionIdentifier"] for item in sent] == [
        "SYNSTI000001",
        "SYNSTI000002",
        "SYNSTI000003",
    ]
    assert sent[1]["subscriber"]["lastName"] == "O'TESTPATIENT"
    assert sent[1]["dependents"][0]["firstName"] == "SAM"
    assert "subscriber.lastName" in json.dumps(answer["warnings"])

    shown = cli.json("eligibility", "status", answer["id"])
    assert (shown["status"], shown["expected"], shown["stored"]) == ("polling", 3, 0)
    plain = cli.ok("eligibility", "status", answer["id"]).stdout
    assert plain.splitlines()[0].startswith(f"{answer['id']} polling 0/3")
    assert answer["batch_ids"][0] in plain


def test_a_bad_row_is_named_by_row_and_column_and_nothing_is_sent(
    cli: Cli, stedi: MockEligibilityState, tmp_path: Path
) -> None:
    lines = CSV_FIXTURE.read_text(encoding="utf-8-sig").splitlines()
    lines[2] = lines[2].replace("1999999984", "1999999985")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")

    result = cli("eligibility", "submit", str(bad), "--account", "acme")

    assert_clean_error(result, 1, "bad.csv: row 3, column provider.npi", "nothing was sent")
    assert stedi.requests == []


def test_submit_a_json_file(cli: Cli, stedi: MockEligibilityState, tmp_path: Path) -> None:
    check = json.loads((FIXTURES / "stedi" / "eligibility-check.request.json").read_text())
    items = [{**check, "submitterTransactionIdentifier": f"STI{n}"} for n in range(3)]
    path = tmp_path / "checks.json"
    path.write_text(json.dumps({"items": items}))

    answer = cli.json("eligibility", "submit", str(path), "--account", "acme")

    assert answer["items"] == 3
    assert [len(batch) for batch in stedi.submitted] == [3]


def test_follow_a_batch_submitted_elsewhere(cli: Cli, stedi: MockEligibilityState) -> None:
    stedi.batch_totals["01958a3c-7e21-7b4d-9c0a-2f4e6a8c0b13"] = 42

    shown = cli.json(
        "eligibility", "follow", "01958a3c-7e21-7b4d-9c0a-2f4e6a8c0b13", "--account", "acme"
    )

    assert (shown["origin"], shown["expected"], shown["status"]) == ("follow", 42, "polling")
    assert [b["batch_id"] for b in shown["batches"]] == ["01958a3c-7e21-7b4d-9c0a-2f4e6a8c0b13"]
    again = cli(
        "eligibility", "follow", "01958a3c-7e21-7b4d-9c0a-2f4e6a8c0b13", "--account", "acme"
    )
    assert_clean_error(again, 1, "already followed")
    unknown = cli("eligibility", "follow", "nope-batch", "--account", "acme")
    assert_clean_error(unknown, 1, "HTTP 404")
