"""PHI-free summaries of Stedi eligibility responses and batches: status, plan dates, AAA errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from receiver.eligibility.summary import (
    AaaError,
    BatchSummary,
    CheckSummary,
    CoverageStatus,
    coverage_status,
    plan_dates,
    summarize_batch,
    summarize_check,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "stedi"


def load(name: str) -> dict[str, Any]:
    value = json.loads((FIXTURES / name).read_text())
    assert isinstance(value, dict)
    return value


ACTIVE = load("eligibility-check.active.response.json")
REJECTED = load("eligibility-check.aaa-error.response.json")
POLL = load("batch-eligibility.poll.response.json")
PHI_FIELDS = ("memberId", "firstName", "lastName", "dateOfBirth")


def phi_values(document: dict[str, Any]) -> set[str]:
    """Every member name, birth date and member id in a response (subscriber and dependents)."""
    people = [document.get("subscriber") or {}, *(document.get("dependents") or [])]
    return {person[key] for person in people for key in PHI_FIELDS if key in person}


class TestSummarizeCheck:
    def test_an_active_real_time_response(self):
        assert summarize_check(ACTIVE) == CheckSummary(
            eligibility_check_id="ec_2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e83",
            control_number="440000101",
            trading_partner_service_id="SYNPAYER01",
            batch_id=None,
            submitter_transaction_identifier=None,
            status=CoverageStatus.ACTIVE,
            plan_dates={"planBegin": "20250101", "eligibilityBegin": "20240115"},
            errors=(),
        )

    def test_a_rejected_real_time_response_lists_its_aaa_errors(self):
        summary = summarize_check(REJECTED)
        assert summary.status is CoverageStatus.ERROR
        assert summary.errors == (
            AaaError(
                "72",
                "Invalid/Missing Subscriber/Insured ID",
                "Please Correct and Resubmit",
                "Loop 2100C",
            ),
            AaaError(
                "73",
                "Invalid/Missing Subscriber/Insured Name",
                "Please Correct and Resubmit",
                "Loop 2100C",
            ),
        )

    def test_batch_poll_items_carry_their_batch_ids(self):
        active, failed = (summarize_check(item) for item in POLL["items"])
        assert (active.status, active.batch_id, active.submitter_transaction_identifier) == (
            CoverageStatus.ACTIVE,
            "01958a3c-7e21-7b4d-9c0a-2f4e6a8c0b13",
            "SYNSTI000001",
        )
        assert active.eligibility_check_id == "ec_0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c61"
        assert active.plan_dates == {"planBegin": "20250101"}
        assert failed.status is CoverageStatus.ERROR
        assert failed.errors == (
            AaaError(
                "79", "Invalid Participant Identification", "Please Correct and Resubmit", "2100A"
            ),
        )
        assert failed.plan_dates == {}

    @pytest.mark.parametrize(
        "document", [ACTIVE, REJECTED, POLL["items"][0], POLL["items"][1]], ids=lambda d: d["id"]
    )
    def test_no_member_name_birth_date_member_id_or_resolution_text_leaks(self, document):
        data = json.dumps(summarize_check(document).to_data())
        leaked = {value for value in phi_values(document) if value in data}
        assert leaked == set()
        assert "possibleResolutions" not in data
        assert "Check the member ID" not in data

    def test_to_data_is_plain_json(self):
        data = summarize_check(REJECTED).to_data()
        assert json.loads(json.dumps(data)) == data
        assert data["status"] == "error"
        assert data["errors"][0] == {
            "code": "72",
            "description": "Invalid/Missing Subscriber/Insured ID",
            "followup_action": "Please Correct and Resubmit",
            "location": "Loop 2100C",
        }

    @pytest.mark.parametrize(
        "garbage",
        [
            None,
            [],
            "x",
            {},
            {"errors": "x", "benefitsInformation": {"code": "1"}, "planStatus": "1"},
            {"errors": [None, 3], "benefitsInformation": [None, {"code": 1}, {"code": None}]},
            {"id": 5, "controlNumber": ["1"], "planDateInformation": ["20250101"]},
            {"id": "   ", "batchId": ""},
        ],
    )
    def test_garbage_is_summarized_without_raising(self, garbage):
        summary = summarize_check(garbage)
        assert summary.status is CoverageStatus.UNKNOWN
        assert summary.eligibility_check_id is None
        assert summary.batch_id is None
        assert summary.control_number is None
        assert summary.errors == ()
        assert summary.plan_dates == {}

    def test_ids_are_trimmed(self):
        assert summarize_check({"id": " ec_1 "}).eligibility_check_id == "ec_1"


class TestCoverageStatus:
    @pytest.mark.parametrize(
        ("codes", "status"),
        [
            (["1"], CoverageStatus.ACTIVE),
            (["2"], CoverageStatus.ACTIVE),
            (["5", "C"], CoverageStatus.ACTIVE),
            (["6"], CoverageStatus.INACTIVE),
            (["7", "B"], CoverageStatus.INACTIVE),
            (["8"], CoverageStatus.INACTIVE),
            (["6", "1"], CoverageStatus.ACTIVE),
            (["B", "C", "V"], CoverageStatus.UNKNOWN),
            ([], CoverageStatus.UNKNOWN),
            ([" 1 "], CoverageStatus.ACTIVE),
            (["11"], CoverageStatus.UNKNOWN),
        ],
    )
    def test_benefit_codes(self, codes, status):
        response = {"benefitsInformation": [{"code": code} for code in codes]}
        assert coverage_status(response) is status

    @pytest.mark.parametrize(
        ("code", "status"),
        [
            ("1", CoverageStatus.ACTIVE),
            ("6", CoverageStatus.INACTIVE),
            ("X", CoverageStatus.UNKNOWN),
        ],
    )
    def test_the_deprecated_plan_status_counts_when_benefits_are_silent(self, code, status):
        assert coverage_status({"planStatus": [{"statusCode": code}]}) is status

    def test_an_active_plan_status_beats_inactive_benefits(self):
        response = {"planStatus": [{"statusCode": "1"}], "benefitsInformation": [{"code": "6"}]}
        assert coverage_status(response) is CoverageStatus.ACTIVE

    @pytest.mark.parametrize(
        "marker",
        [
            {"errors": [{"code": "42"}]},
            {"status": "ERROR"},
            {"status": "error"},
            {"implementationTransactionSetSyntaxError": "1"},
        ],
    )
    def test_errors_win_over_active_codes(self, marker):
        response = {"benefitsInformation": [{"code": "1"}], **marker}
        assert coverage_status(response) is CoverageStatus.ERROR

    def test_an_empty_errors_list_or_another_status_is_not_an_error(self):
        response = {"errors": [], "status": "SUCCESS", "benefitsInformation": [{"code": "1"}]}
        assert coverage_status(response) is CoverageStatus.ACTIVE


class TestPlanDates:
    def test_only_plan_dates_of_the_right_shape_are_kept(self):
        response = {
            "planDateInformation": {
                "plan": "20250101-20251231",
                "planEnd": "20251231",
                "eligibilityEnd": "2025-12-31",
                "policyExpiration": 20251231,
                "dateOfDeath": "20250301",
                "service": "20250301",
                "latestVisitOrConsultation": "20250201",
            }
        }
        assert plan_dates(response) == {"plan": "20250101-20251231", "planEnd": "20251231"}

    def test_the_fixture_keeps_its_order(self):
        assert list(plan_dates(ACTIVE)) == ["planBegin", "eligibilityBegin"]


class TestSummarizeBatch:
    def test_counts_by_status(self):
        statuses = ["1", "1", "6", None, "V"]
        checks = [
            summarize_check({"benefitsInformation": [{"code": code}]} if code else {"errors": [{}]})
            for code in statuses
        ]
        assert summarize_batch("b1", checks) == BatchSummary(
            batch_id="b1", total=5, active=2, inactive=1, errors=1, unknown=1
        )

    def test_the_poll_fixture(self):
        summary = summarize_batch(
            POLL["items"][0]["batchId"], (summarize_check(item) for item in POLL["items"])
        )
        assert summary.to_data() == {
            "batch_id": "01958a3c-7e21-7b4d-9c0a-2f4e6a8c0b13",
            "total": 2,
            "active": 1,
            "inactive": 0,
            "errors": 1,
            "unknown": 0,
        }

    def test_no_checks(self):
        assert summarize_batch(None, []) == BatchSummary(None, 0, 0, 0, 0, 0)

    def test_the_input_is_not_mutated(self):
        before = copy.deepcopy(ACTIVE)
        summarize_batch("b", [summarize_check(ACTIVE)])
        assert before == ACTIVE
