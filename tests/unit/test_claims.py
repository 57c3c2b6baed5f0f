"""Per-claim outcomes from Stedi's 277CA and 835 JSON reports."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from receiver.followup.claims import (
    AcknowledgmentClaim,
    RemittanceClaim,
    SubmissionClaim,
    acknowledgment_claims,
    remittance_claims,
    submission_claims,
)
from receiver.followup.x12 import parse_interchange

FIXTURES = Path(__file__).parents[2] / "fixtures" / "stedi"


def load(name: str) -> dict[str, Any]:
    value = json.loads((FIXTURES / name).read_text())
    assert isinstance(value, dict)
    return value


REPORT_277 = load("report-277ca.accepted.json")
REPORT_835 = load("report-835-era.json")

GARBAGE: list[Any] = [
    {},
    {"transactions": None},
    {"transactions": "x"},
    {"transactions": [1, None, "x", []]},
    {"transactions": [{"payers": {"a": 1}, "detailInfo": "x"}]},
    {"transactions": [{"payers": [{"claimStatusTransactions": [{"claimStatusDetails": 7}]}]}]},
    {"transactions": [{"detailInfo": [{"paymentInfo": [{"claimPaymentInfo": []}]}]}]},
    [],
    None,
    "transactions",
]


def ack_status(report: dict[str, Any]) -> dict[str, Any]:
    """The first claimStatus object of a 277CA report, for editing."""
    payer = report["transactions"][0]["payers"][0]
    detail = payer["claimStatusTransactions"][0]["claimStatusDetails"][0]
    status: dict[str, Any] = detail["patientClaimStatusDetails"][0]["claims"][0]["claimStatus"]
    return status


def payment_infos(report: dict[str, Any]) -> list[dict[str, Any]]:
    infos: list[dict[str, Any]] = report["transactions"][0]["detailInfo"][0]["paymentInfo"]
    return infos


class TestAcknowledgmentClaims:
    def test_reads_the_fixture(self) -> None:
        assert acknowledgment_claims(REPORT_277) == [
            AcknowledgmentClaim(
                patient_control_number="SYN0001842",
                status_category_codes=("A2",),
                status_codes=("20",),
                action_code=None,
                payer_claim_number="SYNPCCN77001",
                clearinghouse_trace_number="01JPQ7SYNTHETIC0000000001",
                payer_name="SYNTHETIC HEALTH PLAN",
            )
        ]

    def test_falls_back_to_the_patient_account_number(self) -> None:
        report = copy.deepcopy(REPORT_277)
        del ack_status(report)["referencedTransactionTraceNumber"]
        ack_status(report)["patientAccountNumber"] = "SYN0009999"
        [claim] = acknowledgment_claims(report)
        assert claim.patient_control_number == "SYN0009999"

    def test_skips_claims_without_a_control_number(self) -> None:
        report = copy.deepcopy(REPORT_277)
        status = ack_status(report)
        del status["referencedTransactionTraceNumber"]
        status["patientAccountNumber"] = ""
        assert acknowledgment_claims(report) == []

    def test_reads_a_rejection_with_its_action_code(self) -> None:
        report = copy.deepcopy(REPORT_277)
        group = ack_status(report)["informationClaimStatuses"][0]
        group["statusInformationActionCode"] = "U"
        group["informationStatuses"] = [
            {"healthCareClaimStatusCategoryCode": "A3", "statusCode": "21"},
            {"healthCareClaimStatusCategoryCode": "A7", "statusCode": "562"},
            "odd",
        ]
        [claim] = acknowledgment_claims(report)
        assert claim.status_category_codes == ("A3", "A7")
        assert claim.status_codes == ("21", "562")
        assert claim.action_code == "U"

    def test_two_claims_give_two(self) -> None:
        report = copy.deepcopy(REPORT_277)
        payer = report["transactions"][0]["payers"][0]
        claims = payer["claimStatusTransactions"][0]["claimStatusDetails"][0][
            "patientClaimStatusDetails"
        ][0]["claims"]
        second = copy.deepcopy(claims[0])
        second["claimStatus"]["referencedTransactionTraceNumber"] = "SYN0001843"
        claims.append(second)
        numbers = [c.patient_control_number for c in acknowledgment_claims(report)]
        assert numbers == ["SYN0001842", "SYN0001843"]

    @pytest.mark.parametrize("report", GARBAGE)
    def test_garbage_gives_nothing(self, report: Any) -> None:
        assert acknowledgment_claims(report) == []


class TestRemittanceClaims:
    def test_reads_the_fixture(self) -> None:
        assert remittance_claims(REPORT_835) == [
            RemittanceClaim(
                patient_control_number="SYN0001842",
                claim_status_code="1",
                charge_amount="245.00",
                paid_amount="132.40",
                patient_responsibility_amount="40.00",
                payer_claim_control_number="SYNPCCN77001",
                payment_trace_number="SYNEFT20250324001",
            )
        ]

    def test_two_claims_give_two(self) -> None:
        report = copy.deepcopy(REPORT_835)
        infos = payment_infos(report)
        reversal = copy.deepcopy(infos[0])
        reversal["claimPaymentInfo"].update(claimStatusCode="22", claimPaymentAmount="-132.40")
        infos.append(reversal)
        claims = remittance_claims(report)
        assert [(c.claim_status_code, c.paid_amount) for c in claims] == [
            ("1", "132.40"),
            ("22", "-132.40"),
        ]

    def test_skips_claims_without_a_control_number(self) -> None:
        report = copy.deepcopy(REPORT_835)
        payment_infos(report)[0]["claimPaymentInfo"]["patientControlNumber"] = None
        assert remittance_claims(report) == []

    def test_missing_trace_and_amounts_are_none(self) -> None:
        report = {
            "transactions": [
                {
                    "paymentAndRemitReassociationDetails": "odd",
                    "detailInfo": [
                        {"paymentInfo": [{"claimPaymentInfo": {"patientControlNumber": "P1"}}]}
                    ],
                }
            ]
        }
        assert remittance_claims(report) == [
            RemittanceClaim("P1", None, None, None, None, None, None)
        ]

    def test_odd_typed_amounts_are_dropped_not_rounded(self) -> None:
        report = copy.deepcopy(REPORT_835)
        info = payment_infos(report)[0]["claimPaymentInfo"]
        info.update(claimPaymentAmount=132.4, totalClaimChargeAmount=True, claimStatusCode=1)
        [claim] = remittance_claims(report)
        assert (claim.paid_amount, claim.charge_amount, claim.claim_status_code) == (
            None,
            None,
            "1",
        )

    @pytest.mark.parametrize("report", GARBAGE)
    def test_garbage_gives_nothing(self, report: Any) -> None:
        assert remittance_claims(report) == []


SEGMENTS_837 = parse_interchange((FIXTURES / "transaction-837p.x12").read_bytes())


class TestSubmissionClaims:
    def test_reads_each_clm_of_the_fixture(self) -> None:
        assert submission_claims(SEGMENTS_837) == [
            SubmissionClaim("SYN0001842", "245.00", "0001", "SYNBATCH0041"),
            SubmissionClaim("SYN0001843", "120.00", "0001", "SYNBATCH0041"),
        ]

    def test_keeps_no_names_or_member_ids(self) -> None:
        text = repr(submission_claims(SEGMENTS_837))
        for phi in ("TESTPATIENT", "JANE", "ZZT000123401", "19800101", "SYNTHETIC LANE"):
            assert phi not in text

    def test_each_transaction_set_keeps_its_own_references(self) -> None:
        segments = [
            ["ST", "837", "0001", "005010X222A1"],
            ["BHT", "0019", "00", "B1"],
            ["CLM", "P1", "10.00"],
            ["SE", "4", "0001"],
            ["ST", "837", "0002"],
            ["CLM", " P2 ", ""],
            ["SE", "3", "0002"],
        ]
        assert submission_claims(segments) == [
            SubmissionClaim("P1", "10.00", "0001", "B1"),
            SubmissionClaim("P2", None, "0002", None),
        ]

    def test_skips_clm_outside_an_837_set_or_without_clm01(self) -> None:
        segments = [
            ["CLM", "BEFORE", "1.00"],
            ["ST", "835", "0001"],
            ["CLM", "IN835", "2.00"],
            ["SE", "3", "0001"],
            ["ST", "837", "0002"],
            ["CLM", ""],
            ["CLM"],
            ["CLM", "OK", "3.00"],
            ["SE", "5", "0002"],
            ["CLM", "AFTER", "4.00"],
        ]
        assert submission_claims(segments) == [SubmissionClaim("OK", "3.00", "0002", None)]

    @pytest.mark.parametrize("segments", [[], [[]], [[""]], [["ST"], ["BHT"], ["CLM"]]])
    def test_odd_segments_give_nothing(self, segments: list[list[str]]) -> None:
        assert submission_claims(segments) == []
