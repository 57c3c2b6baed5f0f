"""The worker's pure parts: which report an event needs, and what finishing its job stores."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest

from receiver.delivery.message_id import message_id
from receiver.enrollment.events import ERA_RESULT_TYPE
from receiver.followup.plan import (
    COVERAGE_KEYS,
    DocumentVersion,
    FetchDocument,
    KillJob,
    ParseProblem,
    UseDocument,
    WantedDocument,
    build_result,
    document_version,
    message_subject,
    needs_body,
    parse_problems,
    plan_fetch,
    plan_report,
    plan_submission,
)
from receiver.models import Document
from receiver.upstream.stedi import ReportKind, TransactionArtifact
from tests.conftest import fixture_bytes
from tests.unit.event_builders import (
    ACCOUNT,
    DESTINATION_BODY,
    NOW,
    OPTUM_BODY,
    REPORT_277,
    REPORT_835,
    WEBHOOK_277,
    WEBHOOK_835,
    WEBHOOK_837,
    WEBHOOK_837_INBOUND,
    WEBHOOK_FILE_FAILED,
    X12_837,
    destination,
    optum,
    stedi,
)

ACK_CLAIM = {
    "patient_control_number": "SYN0001842",
    "status_category_codes": ["A2"],
    "status_codes": ["20"],
    "action_code": None,
    "payer_claim_number": "SYNPCCN77001",
    "clearinghouse_trace_number": "01JPQ7SYNTHETIC0000000001",
    "payer_name": "SYNTHETIC HEALTH PLAN",
}
REMIT_CLAIM = {
    "patient_control_number": "SYN0001842",
    "claim_status_code": "1",
    "charge_amount": "245.00",
    "paid_amount": "132.40",
    "patient_responsibility_amount": "40.00",
    "payer_claim_control_number": "SYNPCCN77001",
    "payment_trace_number": "SYNEFT20250324001",
}


def types(result: Any) -> list[str]:
    return [m.type for m in result.messages]


# -- plan_report -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (WEBHOOK_277, ReportKind.ACK_277),
        (WEBHOOK_835, ReportKind.ERA_835),
        (WEBHOOK_837, None),
        (WEBHOOK_FILE_FAILED, None),
    ],
)
def test_plan_report_for_stedi_webhooks(name: str, expected: ReportKind | None) -> None:
    assert plan_report(stedi(name)) == expected


def test_plan_report_for_event_destination_835() -> None:
    assert plan_report(destination()) == ReportKind.ERA_835


def test_plan_report_for_event_destination_of_another_type() -> None:
    payload = json.loads(fixture_bytes(DESTINATION_BODY))
    payload["type"] = "file.delivered"
    assert plan_report(destination(json.dumps(payload).encode())) is None


def test_plan_report_needs_a_transaction_id() -> None:
    event = dataclasses.replace(stedi(WEBHOOK_835), transaction_id=None)
    assert plan_report(event) is None


def test_plan_report_needs_inbound_direction() -> None:
    event = dataclasses.replace(stedi(WEBHOOK_835), direction="OUTBOUND")
    assert plan_report(event) is None


def test_plan_report_ignores_unknown_sets_and_sources() -> None:
    assert plan_report(dataclasses.replace(stedi(WEBHOOK_835), transaction_set="999")) is None
    assert plan_report(dataclasses.replace(stedi(WEBHOOK_835), source="optum")) is None
    assert plan_report(optum()) is None


def test_plan_report_with_invalid_transaction_id_is_none() -> None:
    payload = json.loads(fixture_bytes(WEBHOOK_835))
    payload["event"]["detail"]["transactionId"] = "../../evil"
    assert plan_report(stedi(WEBHOOK_835, body=json.dumps(payload).encode())) is None


# -- build_result ------------------------------------------------------------------------------


def test_build_result_for_277() -> None:
    event = stedi(WEBHOOK_277)
    about = message_subject(event)
    result = build_result(event, report=REPORT_277, kind=ReportKind.ACK_277, now=NOW)
    assert len(result.documents) == 1
    document = result.documents[0]
    assert (document.kind, document.transaction_id, document.body) == (
        "277",
        event.transaction_id,
        REPORT_277,
    )
    assert [(c.patient_control_number, c.kind, c.data) for c in result.claims] == [
        ("SYN0001842", "acknowledgment", ACK_CLAIM)
    ]
    assert types(result) == ["stedi.transaction.processed", "claim.acknowledgment.received"]
    ack = result.messages[1]
    assert ack.data == {
        "event_id": event.id,
        "transaction_id": event.transaction_id,
        "claims": [ACK_CLAIM],
    }
    assert (ack.account, ack.created_at) == ("acme", NOW)
    assert [m.id for m in result.messages] == [
        message_id(account="acme", about=about, message_type=t) for t in types(result)
    ]
    assert about == ("stedi-transaction", event.transaction_id)
    assert [c.document_kind for c in result.claims] == ["277"]


def test_build_result_for_835() -> None:
    event = stedi(WEBHOOK_835)
    result = build_result(event, report=REPORT_835, kind=ReportKind.ERA_835, now=NOW)
    assert [(d.kind, d.body) for d in result.documents] == [("835", REPORT_835)]
    assert [(c.patient_control_number, c.kind, c.data) for c in result.claims] == [
        ("SYN0001842", "remittance", REMIT_CLAIM)
    ]
    assert result.claims[0].data["paid_amount"] == "132.40"
    assert types(result) == ["stedi.transaction.processed", "claim.remittance.received"]
    assert result.messages[1].data["claims"] == [REMIT_CLAIM]


def test_transaction_message_carries_the_summary_not_the_body() -> None:
    event = stedi(WEBHOOK_835)
    result = build_result(event, report=REPORT_835, kind=ReportKind.ERA_835, now=NOW)
    message = result.messages[0]
    assert message.data == {
        "event_id": event.id,
        "transaction_id": event.transaction_id,
        "transaction_set": "835",
        "direction": "INBOUND",
        "summary": event.summary,
    }
    serialized = json.dumps([m.data for m in result.messages])
    assert "TESTPATIENT" not in serialized  # the report's patient names stay in the document
    assert "artifacts" not in serialized


def test_build_result_for_outbound_837() -> None:
    event = stedi(WEBHOOK_837)
    result = build_result(event, report=None, kind=None, now=NOW)
    assert types(result) == ["stedi.transaction.processed"]
    assert result.documents == ()
    assert result.claims == ()
    assert result.messages[0].data["transaction_set"] == "837"


def test_build_result_for_file_failed() -> None:
    event = stedi(WEBHOOK_FILE_FAILED)
    result = build_result(event, report=None, kind=None, now=NOW)
    assert types(result) == ["claim.file.failed"]
    assert result.messages[0].data == {"event_id": event.id, "fault_codes": ["FAILED_TO_PARSE"]}


def test_build_result_for_other_stedi_types_publishes_nothing() -> None:
    payload = json.loads(fixture_bytes(WEBHOOK_FILE_FAILED))
    payload["event"]["detail-type"] = "file.delivered.v2"
    event = stedi(WEBHOOK_FILE_FAILED, body=json.dumps(payload).encode())
    result = build_result(event, report=None, kind=None, now=NOW)
    assert result.messages == ()


def test_build_result_for_event_destination_835() -> None:
    event = destination()
    result = build_result(event, report=REPORT_835, kind=ReportKind.ERA_835, now=NOW)
    assert types(result) == ["stedi.transaction.processed", "claim.remittance.received"]
    assert [c.kind for c in result.claims] == ["remittance"]


def test_build_result_for_optum_coverage_discovery() -> None:
    event = optum()
    result = build_result(event, report=None, kind=None, now=NOW)
    assert types(result) == ["coverage_discovery.completed"]
    message = result.messages[0]
    assert message.account == "tenant-1"
    assert message.data == {
        "event_id": "evt_optum",
        "task_id": "3e5a7c9e-1b3d-4f5a-8c7e-9a1b3c5d7e20",
        "task_status": "success",
        "coverages": [
            {
                "path": "Commercial",
                "chc_payer_id": "SYNCOMM1",
                "payer_name": "SYNTHETIC COMMERCIAL PLAN",
                "payer_id": "SYNCOMM1",
                "member_id": "ZZC998877001",
                "plan_description": "SYNTHETIC GOLD PPO",
                "parse_error": None,
            }
        ],
    }
    assert "TESTPATIENT" not in json.dumps(message.data)
    assert parse_problems(result) == []


def test_only_a_coverage_discovery_job_reads_the_event_body() -> None:
    assert needs_body(optum())
    assert not needs_body(dataclasses.replace(optum(), type=ERA_RESULT_TYPE))
    for event in (stedi(WEBHOOK_835), stedi(WEBHOOK_837), destination()):
        assert not needs_body(event)
        without = dataclasses.replace(event, body=None)  # what the worker reads for it
        assert build_result(without, report=REPORT_835, kind=ReportKind.ERA_835, now=NOW) == (
            build_result(event, report=REPORT_835, kind=ReportKind.ERA_835, now=NOW)
        )


def test_build_result_for_optum_keeps_every_unreadable_path_with_its_error() -> None:
    payload = json.loads(fixture_bytes(OPTUM_BODY))
    successful = payload["discoveryPaths"]["successful"]
    readable = json.loads(json.dumps(successful[0]))
    x12 = readable["transaction"]["x12-271"]
    successful[0]["transaction"]["x12-271"] = x12[: x12.index("NM1*IL") + 12]  # cut off
    successful.append("junk")
    successful.append({"name": "Medicare", "transaction": {"chcPayerId": "SYNMCR1"}})
    successful.append(readable)
    event = dataclasses.replace(optum(), body=json.dumps(payload).encode())

    result = build_result(event, report=None, kind=None, now=NOW)

    coverages = result.messages[0].data["coverages"]
    assert isinstance(coverages, list)
    assert [(c["path"], c["chc_payer_id"], c["parse_error"]) for c in coverages] == [
        (
            "Commercial",
            "SYNCOMM1",
            "x12-271: interchange is truncated: it does not end with an IEA segment",
        ),
        (None, None, "discovery path is not an object"),
        ("Medicare", "SYNMCR1", "the path's transaction has no x12-271 text"),
        ("Commercial", "SYNCOMM1", None),
    ]
    assert all(set(c) == set(COVERAGE_KEYS) for c in coverages)
    assert coverages[0]["member_id"] is None
    assert coverages[3]["member_id"] == "ZZC998877001"
    assert "ZZC99" not in json.dumps(coverages[:3])  # a cut 271 yields nothing of itself
    assert parse_problems(result) == [
        ParseProblem("271", 0, str(coverages[0]["parse_error"])),
        ParseProblem("271", 1, "discovery path is not an object"),
        ParseProblem("271", 2, "the path's transaction has no x12-271 text"),
    ]


def test_build_result_with_a_report_that_is_not_json_keeps_the_document() -> None:
    event = stedi(WEBHOOK_835)
    result = build_result(event, report=b"[1]", kind=ReportKind.ERA_835, now=NOW)
    assert [d.body for d in result.documents] == [b"[1]"]
    assert result.claims == ()
    assert result.messages[1].data["claims"] == []


# -- plan_submission and the 837 result --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (WEBHOOK_837, TransactionArtifact.OUTPUT),
        (WEBHOOK_837_INBOUND, TransactionArtifact.INPUT),
        (WEBHOOK_277, None),
        (WEBHOOK_835, None),
        (WEBHOOK_FILE_FAILED, None),
    ],
)
def test_plan_submission_for_stedi_webhooks(
    name: str, expected: TransactionArtifact | None
) -> None:
    assert plan_submission(stedi(name)) is expected


def test_plan_submission_takes_the_x12_side_of_the_direction() -> None:
    event = stedi(WEBHOOK_837)
    assert plan_submission(dataclasses.replace(event, direction="INBOUND")) is (
        TransactionArtifact.INPUT
    )
    assert plan_submission(dataclasses.replace(event, direction="UNKNOWN")) is None
    assert plan_submission(dataclasses.replace(event, direction=None)) is None


def test_plan_submission_needs_a_transaction_id_and_the_837_set() -> None:
    event = stedi(WEBHOOK_837)
    assert plan_submission(dataclasses.replace(event, transaction_id=None)) is None
    assert plan_submission(dataclasses.replace(event, transaction_set="835")) is None
    assert plan_submission(dataclasses.replace(event, type="file.delivered.v2")) is None
    assert plan_submission(dataclasses.replace(event, source="optum")) is None


def test_plan_submission_for_event_destinations() -> None:
    payload = json.loads(fixture_bytes(DESTINATION_BODY))
    payload["relatedResources"][0]["type"] = "transaction.x12.837"
    event = destination(json.dumps(payload).encode())
    assert (event.transaction_set, event.direction) == ("837", None)
    assert plan_submission(event) is TransactionArtifact.OUTPUT
    assert plan_report(event) is None
    assert plan_submission(dataclasses.replace(event, direction="INBOUND")) is (
        TransactionArtifact.INPUT
    )
    assert plan_submission(destination()) is None


def test_build_result_for_outbound_837_with_its_x12() -> None:
    event = stedi(WEBHOOK_837)
    result = build_result(event, report=None, kind=None, now=NOW, submission=X12_837)
    assert [(d.kind, d.transaction_id, d.content_type, d.body) for d in result.documents] == [
        ("837", event.transaction_id, "application/edi-x12", X12_837)
    ]
    references = {"transaction_control_number": "0001", "originator_transaction_id": "SYNBATCH0041"}
    assert [(c.patient_control_number, c.kind, c.data) for c in result.claims] == [
        (
            "SYN0001842",
            "submitted",
            {"patient_control_number": "SYN0001842", "charge_amount": "245.00", **references},
        ),
        (
            "SYN0001843",
            "submitted",
            {"patient_control_number": "SYN0001843", "charge_amount": "120.00", **references},
        ),
    ]
    assert types(result) == ["stedi.transaction.processed"]
    plain = build_result(event, report=None, kind=None, now=NOW)
    assert result.messages[0].data == plain.messages[0].data
    assert "TESTPATIENT" not in json.dumps([c.data for c in result.claims])


def test_build_result_with_an_837_that_is_not_x12_keeps_the_document() -> None:
    event = stedi(WEBHOOK_837)
    result = build_result(event, report=None, kind=None, now=NOW, submission=b"junk")
    assert [d.body for d in result.documents] == [b"junk"]
    assert result.claims == ()
    assert types(result) == ["stedi.transaction.processed"]

    assert parse_problems(result) == [ParseProblem("837", 0, parse_problems(result)[0].reason)]
    assert "junk" not in parse_problems(result)[0].reason


# -- plan_fetch --------------------------------------------------------------------------------

KEYED = dataclasses.replace(ACCOUNT, api_key="stedi-key")


def test_plan_fetch_needs_nothing_for_events_without_a_document() -> None:
    assert plan_fetch(optum(), None, stored=None) == UseDocument(None)
    assert plan_fetch(stedi(WEBHOOK_FILE_FAILED), KEYED, stored=None) == UseDocument(None)


def test_plan_fetch_fetches_the_report_with_the_accounts_key() -> None:
    event = stedi(WEBHOOK_835)
    assert event.transaction_id is not None
    assert plan_fetch(event, KEYED, stored=None) == FetchDocument(
        wanted=WantedDocument(
            kind="835", transaction_id=event.transaction_id, report=ReportKind.ERA_835
        ),
        account="acme",
        api_key="stedi-key",
    )


def test_plan_fetch_fetches_the_837_side_its_direction_names() -> None:
    plan = plan_fetch(stedi(WEBHOOK_837_INBOUND), KEYED, stored=None)
    assert isinstance(plan, FetchDocument)
    assert (plan.wanted.kind, plan.wanted.report) == ("837", None)
    assert plan.wanted.artifact is TransactionArtifact.INPUT


def test_plan_fetch_reuses_a_stored_copy_even_without_a_key() -> None:
    """Another event told of the transaction first: its document serves, no key needed."""
    assert plan_fetch(stedi(WEBHOOK_277), None, stored=b"{}") == UseDocument(b"{}")


def test_plan_fetch_kills_with_the_fix_when_the_account_has_no_key() -> None:
    plan = plan_fetch(stedi(WEBHOOK_835), ACCOUNT, stored=None)
    assert plan == KillJob(
        "account acme has no Stedi API key; add one with "
        "receiver accounts rotate acme --api-key-env VAR, then receiver jobs retry"
    )
    assert isinstance(plan_fetch(stedi(WEBHOOK_835), None, stored=None), KillJob)


def stored_copy(body: bytes, revision: int = 0) -> Document:
    return Document(kind="835", transaction_id="txn-1", body=body, revision=revision)


class TestDocumentVersion:
    def test_nothing_stored_or_fetched_is_the_first_version(self) -> None:
        assert document_version(None, b"a") == DocumentVersion()
        assert document_version(stored_copy(b"a"), None) == DocumentVersion()

    def test_the_same_bytes_are_the_stored_version_with_its_digest(self) -> None:
        assert document_version(stored_copy(b"a"), b"a") == DocumentVersion()
        assert document_version(stored_copy(b"a", revision=2), b"a") == DocumentVersion(
            revision=2, content_digest=hashlib.sha256(b"a").hexdigest()
        )

    def test_changed_bytes_are_the_next_revision_with_the_new_documents_sha256(self) -> None:
        assert document_version(stored_copy(b"old", revision=1), b"new") == DocumentVersion(
            revision=2, content_digest=hashlib.sha256(b"new").hexdigest(), changed=True
        )

    def test_a_copy_emptied_by_retention_counts_as_the_same(self) -> None:
        assert document_version(stored_copy(b""), b"a") == DocumentVersion()


def test_a_changed_reports_messages_get_new_ids_the_events_own_keeps_its() -> None:
    event = stedi(WEBHOOK_835)
    first = build_result(event, report=REPORT_835, kind=ReportKind.ERA_835, now=NOW)
    same = build_result(event, report=REPORT_835, kind=ReportKind.ERA_835, now=NOW)
    version = document_version(stored_copy(REPORT_835), REPORT_835 + b" ")
    changed = build_result(
        event,
        report=REPORT_835 + b" ",
        kind=ReportKind.ERA_835,
        now=NOW,
        content_digest=version.content_digest,
        revision=version.revision,
    )
    assert [m.id for m in same.messages] == [m.id for m in first.messages]
    assert types(changed) == ["stedi.transaction.processed", "claim.remittance.received"]
    assert changed.messages[0].id == first.messages[0].id
    assert changed.messages[1].id != first.messages[1].id
    assert [(d.kind, d.revision) for d in changed.documents] == [("835", 1)]
    assert {c.document_kind for c in changed.claims} == {"835"}


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount": 132.40, "n": [1, 2.5e-3, -0.0, 1e308], "s": "caf\\u00e9"}',
        b'{"paid": NaN, "left": Infinity}',  # only json.loads accepts these
        b'{"id": 123456789012345678901234567890}',  # orjson would read it as a float
        b'{"id": -9999999999999999999, "max": 18446744073709551615}',
        b'{"id": 9223372036854775807, "trace": "1234567890123456789012"}',
        b'{"big": 1e400}',
        b'{"s": "\\ud800"}',  # a lone surrogate escape
        '{"utf16": true}'.encode("utf-16"),
        b'{"a": 1, "a": 2}',  # the last one wins in both
        b"[1, 2]",  # not an object
        b"not json",
    ],
)
def test_a_report_parses_as_json_loads_parses_it(raw: bytes) -> None:
    from receiver.followup.plan import _json_object

    try:
        expected = json.loads(raw)
    except ValueError:
        expected = None
    parsed = _json_object(raw)
    assert repr(parsed) == repr(expected if isinstance(expected, dict) else {})  # NaN too
    assert [type(v) for v in parsed.values()] == [
        type(v) for v in (expected.values() if isinstance(expected, dict) else ())
    ]
