"""Per-claim facts read from our 837 X12 and Stedi's 277CA and 835 JSON reports, leniently
and purely."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_ACK_CLAIM_PATH = (
    "claimStatusTransactions",
    "claimStatusDetails",
    "patientClaimStatusDetails",
    "claims",
)


@dataclass(frozen=True, slots=True)
class AcknowledgmentClaim:
    """One claim's status in a 277CA, keyed by its patient control number (CLM01)."""

    patient_control_number: str
    status_category_codes: tuple[str, ...]
    status_codes: tuple[str, ...]
    action_code: str | None
    payer_claim_number: str | None
    clearinghouse_trace_number: str | None
    payer_name: str | None


@dataclass(frozen=True, slots=True)
class RemittanceClaim:
    """One claim's payment in an 835 (CLP), with the payment's trace number (TRN02).

    Amounts stay the report's strings so they keep their exact decimal value.
    """

    patient_control_number: str
    claim_status_code: str | None
    charge_amount: str | None
    paid_amount: str | None
    patient_responsibility_amount: str | None
    payer_claim_control_number: str | None
    payment_trace_number: str | None


@dataclass(frozen=True, slots=True)
class SubmissionClaim:
    """One claim we submitted in an 837 (CLM), with its transaction set's references.

    Only identifiers and the amount: no patient, subscriber or provider names or ids.
    """

    patient_control_number: str
    charge_amount: str | None
    transaction_control_number: str | None
    originator_transaction_id: str | None


def submission_claims(segments: Iterable[Sequence[str]]) -> list[SubmissionClaim]:
    """The claims (CLM01 patient control number, CLM02 total charge) of each 837 transaction
    set in `segments`, with that set's ST02 and BHT03; CLMs outside an 837 set or without
    CLM01 are skipped."""
    claims: list[SubmissionClaim] = []
    in_837 = False
    control_number: str | None = None
    originator_id: str | None = None
    for segment in segments:
        tag = segment[0].strip() if segment else ""
        if tag == "ST":
            in_837 = _element(segment, 1) == "837"
            control_number, originator_id = _element(segment, 2), None
        elif tag == "SE":
            in_837 = False
        elif tag == "BHT" and in_837:
            originator_id = _element(segment, 3)
        elif tag == "CLM" and in_837:
            patient_control_number = _element(segment, 1)
            if patient_control_number is None:
                continue
            claims.append(
                SubmissionClaim(
                    patient_control_number=patient_control_number,
                    charge_amount=_element(segment, 2),
                    transaction_control_number=control_number,
                    originator_transaction_id=originator_id,
                )
            )
    return claims


def acknowledgment_claims(report: Mapping[str, object]) -> list[AcknowledgmentClaim]:
    """The claims a 277CA report acknowledges; levels that are missing or odd are skipped."""
    claims: list[AcknowledgmentClaim] = []
    for payer in _walk([report], ("transactions", "payers")):
        payer_name = _text(payer, "organizationName")
        for claim in _walk([payer], _ACK_CLAIM_PATH):
            found = _acknowledgment_claim(_mapping(claim, "claimStatus"), payer_name)
            if found is not None:
                claims.append(found)
    return claims


def _acknowledgment_claim(
    status: Mapping[str, object], payer_name: str | None
) -> AcknowledgmentClaim | None:
    control_number = _text(status, "referencedTransactionTraceNumber") or _text(
        status, "patientAccountNumber"
    )
    if control_number is None:
        return None
    groups = _children(status, "informationClaimStatuses")
    details = list(_walk(groups, ("informationStatuses",)))
    actions = [code for group in groups if (code := _text(group, "statusInformationActionCode"))]
    return AcknowledgmentClaim(
        patient_control_number=control_number,
        status_category_codes=_texts(details, "healthCareClaimStatusCategoryCode"),
        status_codes=_texts(details, "statusCode"),
        action_code=actions[0] if actions else None,
        payer_claim_number=_text(status, "tradingPartnerClaimNumber"),
        clearinghouse_trace_number=_text(status, "clearinghouseTraceNumber"),
        payer_name=payer_name,
    )


def remittance_claims(report: Mapping[str, object]) -> list[RemittanceClaim]:
    """The claims an 835 report pays or denies; levels that are missing or odd are skipped."""
    claims: list[RemittanceClaim] = []
    for transaction in _walk([report], ("transactions",)):
        reassociation = _mapping(transaction, "paymentAndRemitReassociationDetails")
        trace_number = _text(reassociation, "checkOrEFTTraceNumber")
        for payment in _walk([transaction], ("detailInfo", "paymentInfo")):
            info = _mapping(payment, "claimPaymentInfo")
            control_number = _text(info, "patientControlNumber")
            if control_number is None:
                continue
            claims.append(
                RemittanceClaim(
                    patient_control_number=control_number,
                    claim_status_code=_text(info, "claimStatusCode"),
                    charge_amount=_text(info, "totalClaimChargeAmount"),
                    paid_amount=_text(info, "claimPaymentAmount"),
                    patient_responsibility_amount=_text(info, "patientResponsibilityAmount"),
                    payer_claim_control_number=_text(info, "payerClaimControlNumber"),
                    payment_trace_number=trace_number,
                )
            )
    return claims


def _element(segment: Sequence[str], index: int) -> str | None:
    if index >= len(segment):
        return None
    value = segment[index].strip()
    return value or None


def _walk(
    nodes: Iterable[Mapping[str, object]], keys: tuple[str, ...]
) -> list[Mapping[str, object]]:
    level = list(nodes)
    for key in keys:
        level = [child for node in level for child in _children(node, key)]
    return level


def _children(node: object, key: str) -> list[Mapping[str, object]]:
    if not isinstance(node, Mapping):
        return []
    value = node.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _mapping(node: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = node.get(key)
    return value if isinstance(value, Mapping) else {}


def _text(node: Mapping[str, object], key: str) -> str | None:
    value = node.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _texts(nodes: Iterable[Mapping[str, object]], key: str) -> tuple[str, ...]:
    return tuple(text for node in nodes if (text := _text(node, key)) is not None)
