"""The demo's packaged fixtures are the repository's, byte for byte, and its stage lines."""

from __future__ import annotations

import orjson

from receiver.demo import packaged_fixtures
from receiver.demo.stages import describe_delivery, describe_event, describe_fetch
from tests.conftest import FIXTURES


def test_packaged_fixtures_are_copies_of_the_repository_fixtures() -> None:
    packaged = packaged_fixtures()
    names = [
        f"{folder.name}/{entry.name}"
        for folder in packaged.iterdir()
        if folder.is_dir()
        for entry in folder.iterdir()
    ]
    assert len(names) >= 8
    for name in names:
        assert (packaged / name).read_bytes() == (FIXTURES / name).read_bytes(), name


class TestDescribeFetch:
    def test_a_report_names_its_kind_and_transaction(self) -> None:
        line = describe_fetch("/change/medicalnetwork/reports/v2/txn-1/835")
        assert line == "fetched    the 835 ERA report of transaction txn-1 from Stedi"

    def test_the_837_output_and_its_download(self) -> None:
        assert describe_fetch("/transactions/txn-2/output") == (
            "fetched    the 837's output of transaction txn-2: a redirect"
        )
        assert describe_fetch("/download/txn-2") == (
            "fetched    the 837 X12 of transaction txn-2 from its download URL"
        )

    def test_a_poll_is_not_a_stage(self) -> None:
        assert describe_fetch("/polling/transactions") is None


class TestDescribeEvent:
    def test_a_webhook_event(self) -> None:
        event = {
            "id": "evt_1",
            "source": "stedi",
            "type": "transaction.processed.v2",
            "transaction_set": "835",
            "direction": "INBOUND",
            "summary": {},
        }
        assert describe_event(event) == (
            "received   stedi transaction.processed.v2, INBOUND 835: stored as evt_1"
        )

    def test_a_reconciled_event_says_how_it_was_found(self) -> None:
        event = {"id": "evt_2", "source": "stedi", "type": "t", "summary": {"reconciled": True}}
        assert describe_event(event).endswith(
            "found by reconciliation (poll-transactions) as evt_2"
        )


class TestDescribeDelivery:
    def test_a_remittance_shows_the_paid_amount(self) -> None:
        claim = {"patient_control_number": "PCN1", "paid_amount": "10.00", "charge_amount": "12"}
        body = orjson.dumps({"type": "claim.remittance.received", "data": {"claims": [claim]}})
        assert describe_delivery(body, verified=True) == (
            "delivered  claim.remittance.received (signature verified): "
            "claim PCN1 paid 10.00 of 12 charged"
        )

    def test_an_acknowledgment_shows_the_status_categories(self) -> None:
        claim = {"patient_control_number": "PCN1", "status_category_codes": ["A1", "A2"]}
        body = orjson.dumps({"type": "claim.acknowledgment.received", "data": {"claims": [claim]}})
        assert describe_delivery(body, verified=False).endswith(
            "(SIGNATURE NOT VERIFIED): claim PCN1 status category A1,A2"
        )

    def test_a_coverage_result_counts_what_was_found_without_member_ids(self) -> None:
        coverage = {"payer_name": "PAYER", "member_id": "M123"}
        data = {"task_id": "t1", "task_status": "success", "coverages": [coverage]}
        line = describe_delivery(
            orjson.dumps({"type": "coverage_discovery.completed", "data": data}), verified=True
        )
        assert line.endswith("task t1 success: 1 coverage found (PAYER)")
        assert "M123" not in line

    def test_a_body_that_is_not_json(self) -> None:
        assert describe_delivery(b"nope", verified=True) == "delivered  a body that is not JSON"
