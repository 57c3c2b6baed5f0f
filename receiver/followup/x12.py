"""A small X12 reader: delimiters found by walking the ISA, segments, and 271 coverage facts."""

from __future__ import annotations

from dataclasses import dataclass

_BOM = "\ufeff"
_UTF8_BOM = b"\xef\xbb\xbf"
# Only these count as layout between segments. Not str.isspace(): that also matches the
# ASCII separators \x1c-\x1f, which some interchanges use as delimiters.
_BLANKS = " \t\r\n\f\v"
# The fixed widths of ISA01-ISA15. Senders that do not pad are read; a field longer than
# its width means the walk has run past the ISA's own terminator.
_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1)
_REPETITION_VERSION = "00501"  # from 005010 on, ISA11 is the repetition separator


class X12Error(ValueError):
    """The text is not an X12 interchange this reader can split.

    The message says what failed and never quotes the text, which may hold PHI.
    """


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The separators an interchange declares in its ISA segment."""

    element: str
    component: str
    segment: str
    repetition: str | None = None


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a 271 says about coverage, kept to the minimum (no member name or birth date)."""

    payer_name: str | None
    payer_id: str | None
    member_id: str | None
    plan_description: str | None


def read_delimiters(text: str) -> Delimiters:
    """Find the separators by walking the ISA's 16 elements.

    The element separator is the character after "ISA"; ISA16 is the component separator and
    the character right after it ends the segment; in 005010 and later ISA11 is the repetition
    separator. Fields need not be padded to their fixed widths. A leading byte-order mark and
    blanks are skipped.
    """
    text = _from_isa(text)
    if not text.startswith("ISA"):
        raise X12Error("not an X12 interchange: it does not start with an ISA segment")
    if len(text) < 4:
        raise X12Error("ISA segment is truncated")
    element = text[3]
    if element.isalnum() or element in _BLANKS:
        raise X12Error("ISA declares an alphanumeric or blank element separator")
    fields: list[str] = []
    separator = 3
    for number, width in enumerate(_ISA_WIDTHS, start=1):
        following = text.find(element, separator + 1)
        if following < 0:
            raise X12Error("ISA segment is truncated: fewer than 16 elements")
        if following - separator - 1 > width:
            raise X12Error(
                f"ISA segment is malformed: ISA{number:02d} is longer than {width} characters"
            )
        fields.append(text[separator + 1 : following])
        separator = following
    if len(text) < separator + 3:
        raise X12Error("ISA segment is truncated: no component separator or segment terminator")
    component, segment = text[separator + 1], text[separator + 2]
    delimiters = Delimiters(
        element=element,
        component=component,
        segment=segment,
        repetition=_repetition(fields[10], fields[11]),
    )
    _check_distinct(delimiters)
    return delimiters


def _from_isa(text: str) -> str:
    """`text` without a leading byte-order mark and blanks."""
    return text.lstrip(_BLANKS).removeprefix(_BOM).lstrip(_BLANKS)


def _repetition(isa11: str, isa12: str) -> str | None:
    """ISA11 as the repetition separator, if the version (ISA12) makes it one."""
    version = isa12.strip()
    if not version.isdigit() or version < _REPETITION_VERSION:
        return None
    if len(isa11) != 1 or isa11.isalnum() or isa11 in _BLANKS:
        return None
    return isa11


def _check_distinct(delimiters: Delimiters) -> None:
    """X12Error unless the separators differ from each other and from data characters."""
    declared = [delimiters.element, delimiters.component, delimiters.segment]
    if delimiters.repetition is not None:
        declared.append(delimiters.repetition)
    if len(set(declared)) != len(declared):
        raise X12Error("ISA declares clashing delimiters")
    if delimiters.segment.isalnum() or delimiters.component.isalnum():
        raise X12Error("ISA declares an alphanumeric component separator or segment terminator")
    if delimiters.component in _BLANKS:
        raise X12Error("ISA declares a blank component separator")


def parse_segments(text: str) -> list[list[str]]:
    """Split an interchange into segments, each a list of elements (segment id first).

    A leading byte-order mark and blanks (line breaks, indentation) around segments are
    tolerated; components and repetitions are left unsplit. The interchange must end with
    IEA: a cut one is an X12Error, since its last segment may be cut too.
    """
    delimiters = read_delimiters(text)
    segments: list[list[str]] = []
    for raw in _from_isa(text).split(delimiters.segment):
        segment = raw.strip(_BLANKS)
        if segment:
            segments.append(segment.split(delimiters.element))
    if segments[-1][0] != "IEA":
        raise X12Error("interchange is truncated: it does not end with an IEA segment")
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
