"""Message ids follow from what a message describes: the rule, and what each event is about."""

from __future__ import annotations

import dataclasses
import json
import re

from receiver.delivery.message_id import message_id
from receiver.followup.plan import build_result, message_subject
from receiver.upstream.stedi import ReportKind
from tests.conftest import fixture_bytes
from tests.unit.event_builders import (
    NOW,
    REPORT_835,
    WEBHOOK_835,
    WEBHOOK_FILE_FAILED,
    destination,
    optum,
    stedi,
)

TXN_835 = "c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84"
ABOUT = ("stedi-transaction", TXN_835)
TYPE = "claim.remittance.received"


class TestMessageId:
    def test_is_stable_and_shaped_like_a_message_id(self) -> None:
        first = message_id(account="acme", about=ABOUT, message_type=TYPE)
        assert first == message_id(account="acme", about=ABOUT, message_type=TYPE)
        assert re.fullmatch(r"msg_[0-9a-f]{32}", first)

    def test_every_part_counts(self) -> None:
        ids = {
            message_id(account="acme", about=ABOUT, message_type=TYPE),
            message_id(account="other", about=ABOUT, message_type=TYPE),
            message_id(account=None, about=ABOUT, message_type=TYPE),
            message_id(account="acme", about=("stedi-transaction", "t2"), message_type=TYPE),
            message_id(account="acme", about=ABOUT, message_type="stedi.transaction.processed"),
            message_id(account="acme", about=ABOUT, message_type=TYPE, content_digest="ab"),
        }
        assert len(ids) == 6

    def test_parts_cannot_run_into_each_other(self) -> None:
        joined = message_id(account="acme", about=("stedi-transaction:x",), message_type=TYPE)
        split = message_id(account="acme", about=("stedi-transaction", "x"), message_type=TYPE)
        assert joined != split

    def test_the_same_content_digest_keeps_the_id_and_another_changes_it(self) -> None:
        def with_digest(digest: str) -> str:
            return message_id(account="acme", about=ABOUT, message_type=TYPE, content_digest=digest)

        assert with_digest("0" * 64) == with_digest("0" * 64)
        assert with_digest("0" * 64) != with_digest("1" * 64)


class TestMessageSubject:
    def test_a_webhook_and_an_event_destination_of_one_transaction_are_about_it(self) -> None:
        assert message_subject(stedi(WEBHOOK_835)) == ABOUT
        assert message_subject(destination()) == ABOUT

    def test_a_file_failure_is_about_its_file_execution(self) -> None:
        assert message_subject(stedi(WEBHOOK_FILE_FAILED)) == (
            "stedi-file",
            "3c5e7a9b-1d3f-4a5c-b7e9-0f2d4b6a8c06",
        )

    def test_a_coverage_discovery_is_about_its_task_and_status(self) -> None:
        event = optum()
        assert message_subject(event) == (
            "optum-task",
            event.summary["task_id"],
            event.summary["task_status"],
        )

    def test_without_a_valid_id_only_the_event_itself(self) -> None:
        payload = json.loads(fixture_bytes(WEBHOOK_835))
        payload["event"]["detail"]["transactionId"] = "../../evil"
        event = stedi(WEBHOOK_835, body=json.dumps(payload).encode())
        assert message_subject(event) == ("event", event.id)


def test_both_products_publish_the_same_ids_for_one_transaction() -> None:
    webhook, thin = stedi(WEBHOOK_835), destination()
    assert webhook.id != thin.id
    ids = [
        {
            m.type: m.id
            for m in build_result(e, report=REPORT_835, kind=ReportKind.ERA_835, now=NOW).messages
        }
        for e in (webhook, thin)
    ]
    assert ids[0] == ids[1]
    assert set(ids[0]) == {"stedi.transaction.processed", TYPE}
    # Another account's transaction with the same id is another fact.
    elsewhere = dataclasses.replace(webhook, account="other")
    other = build_result(elsewhere, report=REPORT_835, kind=ReportKind.ERA_835, now=NOW)
    assert {m.id for m in other.messages}.isdisjoint(ids[0].values())
