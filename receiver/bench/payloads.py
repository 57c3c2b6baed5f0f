"""Bench request bodies: Stedi 835 webhooks and Optum callbacks, unique ids, padded to size."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson

BODY_BYTES = 4096
PADDING_FIELD = "bench_padding"

# fixtures/stedi/transaction-processed-v2.inbound-835.webhook.json (ids replaced per request).
_STEDI_DETAIL: dict[str, Any] = {
    "direction": "INBOUND",
    "mode": "test",
    "fileExecutionId": "9d1b3f5a-7c9e-4b1d-a3f5-6e8c0a2b4d95",
    "processedAt": "2025-03-21T08:11:02.771Z",
    "fragments": None,
    "partnership": {
        "partnershipId": "local-clearinghouse-test",
        "partnershipType": "x12",
        "sender": {"profileId": "clearinghouse-test"},
        "receiver": {"profileId": "local"},
    },
    "x12": {
        "metadata": {
            "interchange": {"acknowledgmentRequestedCode": "0", "controlNumber": 330000912},
            "functionalGroup": {
                "controlNumber": 330000912,
                "release": "005010X221A1",
                "date": "2025-03-21",
                "time": "08:10:55",
                "functionalIdentifierCode": "HP",
            },
            "transaction": {"controlNumber": "000000001", "transactionSetIdentifier": "835"},
            "sender": {
                "applicationCode": "SYNCLEARHSE",
                "isa": {"qualifier": "ZZ", "id": "SYNCLEARHSE"},
            },
            "receiver": {
                "applicationCode": "SYNRCVR01",
                "isa": {"qualifier": "ZZ", "id": "SYNRCVR01"},
            },
        }
    },
}

_X12_271 = (
    "ISA*00*          *00*          *ZZ*SYNOPTUM       *ZZ*SYNTPG00000    *250312*1410*^*00501"
    "*551000004*0*T*:~GS*HB*SYNOPTUM*SYNTPG00000*20250312*1410*551000004*X*005010X279A1~ST*271"
    "*0001*005010X279A1~BHT*0022*11*SYNRTE-7781*20250312*1410~HL*1**20*1~NM1*PR*2*SYNTHETIC "
    "COMMERCIAL PLAN*****PI*SYNCOMM1~HL*2*1*21*1~NM1*1P*2*SYNTHETIC FAMILY CLINIC*****XX"
    "*1999999984~HL*3*2*22*0~NM1*IL*1*TESTPATIENT*JORDAN****MI*ZZC998877001~DMG*D8*19750505*U"
    "~EB*1*IND*30**SYNTHETIC GOLD PPO~SE*11*0001~GE*1*551000004~IEA*1*551000004~"
)

# fixtures/optum/coverage-discovery.callback.success.json (task id replaced per request).
_OPTUM_TASK: dict[str, Any] = {
    "status": "success",
    "tenantName": "Synthetic Clinic Group",
    "traceId": "7a9c1e3b-5d7f-4a9c-8e1b-3d5f7a9c1e31",
    "correlationId": "syn-corr-000771",
    "name": "Commercial + HMO + RTCOB",
    "type": "serial",
    "startDateTime": "2025-03-12T14:10:02Z",
    "endDateTime": "2025-03-12T14:10:41Z",
    "realTime": {
        "id": "b1d3f5a7-9c1e-4b3d-8f5a-7c9e1b3d5f42",
        "name": "Real Time",
        "timestamp": "2025-03-12T14:10:01Z",
        "transaction": {
            "id": "c2e4a6b8-0d2f-4c4e-9a6b-8d0f2c4e6a53",
            "status": "patient_unknown",
            "chcPayerId": "SYNMCD1",
        },
    },
    "discoveryPaths": {
        "successful": [
            {
                "id": "d3f5b7c9-1e3a-4d5f-8b7c-9e1a3d5f7b64",
                "name": "Commercial",
                "description": "Commercial payer search",
                "timestamp": "2025-03-12T14:10:40Z",
                "transaction": {
                    "id": "e4a6c8d0-2f4b-4e6a-9c8d-0f2b4e6a8c75",
                    "status": "eligible",
                    "chcPayerId": "SYNCOMM1",
                    "x12-271": _X12_271,
                },
            }
        ],
        "unsuccessful": [
            {
                "id": "f5b7d9e1-3a5c-4f7b-8d9e-1a3c5f7b9d86",
                "name": "HMO",
                "description": "HMO plan lookup",
                "timestamp": "2025-03-12T14:10:20Z",
                "transaction": {
                    "id": "a6c8e0f2-4b6d-4a8c-9e0f-2b4d6a8c0e97",
                    "status": "ineligible",
                    "chcPayerId": "SYNHMO1",
                },
            }
        ],
        "pending": [],
        "skipped": [
            {
                "id": "",
                "name": "RTCOB",
                "reason": "request does not meet path conditions",
                "timestamp": "2025-03-12T14:10:02Z",
            }
        ],
    },
}


def _padded(document: dict[str, Any], size: int) -> bytes:
    """`document` as JSON with a filler field making it `size` bytes (or as small as it gets)."""
    bare = orjson.dumps({**document, PADDING_FIELD: ""})
    return orjson.dumps({**document, PADDING_FIELD: "x" * max(0, size - len(bare))})


def _artifact(transaction_id: str, media_type: str, usage: str, size: int) -> dict[str, Any]:
    url = f"https://core.us.stedi.com/2023-08-01/transactions/{transaction_id}/{usage}"
    return {
        "artifactType": media_type,
        "usage": usage,
        "url": url,
        "sizeBytes": size,
        "model": "transaction",
    }


def stedi_body(event_id: str, transaction_id: str, account_id: str, size: int) -> bytes:
    """A `transaction.processed.v2` inbound-835 webhook with its own event and transaction id."""
    envelope = {
        "version": "0",
        "id": event_id,
        "detail-type": "transaction.processed.v2",
        "source": "stedi.core",
        "account": account_id,
        "time": "2025-03-21T08:11:03Z",
        "region": "us-east-1",
        "resources": [f"https://core.us.stedi.com/2023-08-01/transactions/{transaction_id}"],
        "detail": {
            "transactionId": transaction_id,
            **_STEDI_DETAIL,
            "artifacts": [
                _artifact(transaction_id, "application/edi-x12", "input", 2231),
                _artifact(transaction_id, "application/json", "output", 18734),
            ],
        },
    }
    return _padded({"event": envelope}, size)


def optum_body(task_id: str, size: int) -> bytes:
    """A successful Coverage Discovery task callback with its own task id."""
    return _padded({"id": task_id, **_OPTUM_TASK}, size)


def bodies(
    kind: str,
    count: int,
    *,
    account_id: str = "",
    size: int = BODY_BYTES,
    transaction_ids: Sequence[str] | None = None,
) -> list[bytes]:
    """`count` distinct bodies of `kind` ("stedi" or "optum"): every dedup key is unique.

    Stedi bodies use `transaction_ids` (one per body) when given, else random ones."""
    if kind == "stedi":
        if transaction_ids is None:
            transaction_ids = [str(uuid.uuid4()) for _ in range(count)]
        if len(transaction_ids) != count:
            raise ValueError(f"{len(transaction_ids)} transaction ids for {count} bodies")
        return [
            stedi_body(str(uuid.uuid4()), transaction_id, account_id, size)
            for transaction_id in transaction_ids
        ]
    if kind == "optum":
        return [optum_body(str(uuid.uuid4()), size) for _ in range(count)]
    raise ValueError(f"unknown body kind {kind!r}")
