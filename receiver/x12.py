"""A small X12 reader: delimiters from the ISA segment, segments, and 271 coverage facts."""

from __future__ import annotations

from dataclasses import dataclass

_ISA_LENGTH = 106
_LINE_BREAKS = "\r\n"


class X12Error(ValueError):
    """The text is not an X12 interchange this reader can split."""


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The separators an interchange declares in its fixed-width ISA segment."""

    element: str
    component: str
    segment: str


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a 271 says about coverage, kept to the minimum (no member name or birth date)."""

    payer_name: str | None
    payer_id: str | None
    member_id: str | None
    plan_description: str | None


def read_delimiters(text: str) -> Delimiters:
    """Read the element, component and segment separators from the ISA segment."""
    text = text.lstrip()
    if not text.startswith("ISA") or len(text) < _ISA_LENGTH:
        raise X12Error("not an X12 interchange: no complete ISA segment")
    delimiters = Delimiters(element=text[3], component=text[104], segment=text[105])
    if len({delimiters.element, delimiters.component, delimiters.segment}) != 3:
        raise X12Error("ISA declares clashing delimiters")
    if delimiters.element.isalnum() or delimiters.segment.isalnum():
        raise X12Error("ISA declares alphanumeric delimiters")
    return delimiters


def parse_segments(text: str) -> list[list[str]]:
    """Split an interchange into segments, each a list of elements (segment id first).

    Line breaks after segment terminators are tolerated; components are left unsplit.
    """
    delimiters = read_delimiters(text)
    segments: list[list[str]] = []
    for raw in text.lstrip().split(delimiters.segment):
        segment = raw.strip(_LINE_BREAKS)
        if segment:
            segments.append(segment.split(delimiters.element))
    return segments


def parse_interchange(raw: bytes) -> list[list[str]]:
    """`parse_segments` for an interchange's raw bytes (X12 text is ASCII; a byte that is not
    UTF-8 becomes U+FFFD rather than failing the whole file)."""
    return parse_segments(raw.decode("utf-8", errors="replace"))


def read_271_coverage(text: str) -> Coverage:
    """Extract the payer, member id and plan description from a 271 interchange.

    Takes the first NM1*PR (payer), the first NM1*IL (subscriber) and the first EB segment;
    a fact that is absent is None.
    """
    segments = parse_segments(text)
    transaction = _first(segments, "ST")
    if transaction is not None and _element(transaction, 1) not in (None, "271"):
        raise X12Error("not a 271 transaction set")
    payer = _first(segments, "NM1", "PR")
    member = _first(segments, "NM1", "IL")
    benefit = _first(segments, "EB")
    return Coverage(
        payer_name=_element(payer, 3),
        payer_id=_element(payer, 9),
        member_id=_element(member, 9),
        plan_description=_element(benefit, 5),
    )


def _first(segments: list[list[str]], tag: str, qualifier: str | None = None) -> list[str] | None:
    for segment in segments:
        if segment[0] == tag and (qualifier is None or _element(segment, 1) == qualifier):
            return segment
    return None


def _element(segment: list[str] | None, index: int) -> str | None:
    if segment is None or index >= len(segment):
        return None
    value = segment[index].strip()
    return value or None
