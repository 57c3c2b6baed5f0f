"""X12 reader: delimiters from ISA, segment splitting, and 271 coverage extraction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from receiver.followup.claims import submission_claims
from receiver.followup.x12 import (
    Coverage,
    Delimiters,
    X12Error,
    parse_interchange,
    parse_segments,
    read_271_coverage,
    read_delimiters,
)
from receiver.upstream.stedi import looks_like_interchange

FIXTURES = Path(__file__).parents[2] / "fixtures"
CALLBACK = json.loads((FIXTURES / "optum" / "coverage-discovery.callback.success.json").read_text())
X12_271: str = CALLBACK["discoveryPaths"]["successful"][0]["transaction"]["x12-271"]
ISA = X12_271[:106]


def with_delimiters(text: str, element: str, component: str, segment: str) -> str:
    """Re-spell an interchange that uses `*`, `:` and `~` with other delimiters."""
    return text.replace("*", element).replace(":", component).replace("~", segment)


class TestReadDelimiters:
    def test_reads_the_isa_positions(self) -> None:
        assert read_delimiters(X12_271) == Delimiters(
            element="*", component=":", segment="~", repetition="^"
        )

    def test_before_005010_isa11_is_not_a_repetition_separator(self) -> None:
        isa_4010 = ISA.replace("*^*00501*", "*U*00401*")
        assert read_delimiters(isa_4010).repetition is None

    @pytest.mark.parametrize("text", ["", "GS*HB*X~", "ISA*00*short~", "XISA" + ISA])
    def test_rejects_text_without_a_complete_isa(self, text: str) -> None:
        with pytest.raises(X12Error):
            read_delimiters(text)

    def test_rejects_clashing_delimiters(self) -> None:
        with pytest.raises(X12Error):
            read_delimiters(ISA[:104] + "~~")

    def test_rejects_alphanumeric_delimiters(self) -> None:
        with pytest.raises(X12Error):
            read_delimiters(ISA.replace("*", "A"))

    def test_is_a_value_error(self) -> None:
        assert issubclass(X12Error, ValueError)


class TestParseSegments:
    def test_splits_segments_and_elements(self) -> None:
        segments = parse_segments(X12_271)
        assert [s[0] for s in segments][:4] == ["ISA", "GS", "ST", "BHT"]
        assert segments[-1] == ["IEA", "1", "551000004"]
        assert len(segments[0]) == 17
        assert segments[0][16] == ":"

    def test_tolerates_line_breaks_after_terminators(self) -> None:
        assert parse_segments(X12_271.replace("~", "~\r\n")) == parse_segments(X12_271)

    def test_tolerates_leading_whitespace(self) -> None:
        assert parse_segments("\n  " + X12_271) == parse_segments(X12_271)

    def test_uses_the_declared_delimiters(self) -> None:
        other = parse_segments(with_delimiters(X12_271, "|", ">", "\n"))
        assert other[0][16] == ">"
        assert other[1:] == parse_segments(X12_271)[1:]


class TestRead271Coverage:
    def test_reads_the_fixture(self) -> None:
        assert read_271_coverage(X12_271) == Coverage(
            payer_name="SYNTHETIC COMMERCIAL PLAN",
            payer_id="SYNCOMM1",
            member_id="ZZC998877001",
            plan_description="SYNTHETIC GOLD PPO",
        )

    def test_keeps_no_member_name(self) -> None:
        coverage = read_271_coverage(X12_271)
        assert "TESTPATIENT" not in repr(coverage)

    def test_missing_facts_are_none(self) -> None:
        text = ISA + "ST*271*0001~NM1*PR*2~SE*3*0001~IEA*1*551000004~"
        assert read_271_coverage(text) == Coverage(None, None, None, None)

    def test_rejects_other_transaction_sets(self) -> None:
        with pytest.raises(X12Error):
            read_271_coverage(ISA + "ST*835*0001~SE*2*0001~IEA*1*551000004~")

    def test_with_other_delimiters(self) -> None:
        coverage = read_271_coverage(with_delimiters(X12_271, "|", ">", "\n"))
        assert coverage.member_id == "ZZC998877001"


class TestParseInterchange:
    def test_parses_bytes_like_text(self) -> None:
        assert parse_interchange(X12_271.encode()) == parse_segments(X12_271)

    def test_reads_the_837_fixture(self) -> None:
        segments = parse_interchange((FIXTURES / "stedi" / "transaction-837p.x12").read_bytes())
        assert segments[0][13] == "100000041"
        assert [s[0] for s in segments][:4] == ["ISA", "GS", "ST", "BHT"]
        assert segments[-1] == ["IEA", "1", "100000041"]
        se = next(s for s in segments if s[0] == "SE")
        st_index = next(i for i, s in enumerate(segments) if s[0] == "ST")
        assert int(se[1]) == segments.index(se) - st_index + 1

    def test_undecodable_bytes_do_not_fail_the_file(self) -> None:
        segments = parse_interchange(X12_271.encode().replace(b"SYNCOMM1", b"SYN\xffOMM1", 1))
        assert len(segments) == len(parse_segments(X12_271))
        assert any("SYN\ufffdOMM1" in element for segment in segments for element in segment)

    def test_rejects_bytes_that_are_not_x12(self) -> None:
        with pytest.raises(X12Error):
            parse_interchange(b'{"not": "x12"}')


# -- interchanges as they come in practice: one set of shapes, read by both readers ----------

X12_837 = (FIXTURES / "stedi" / "transaction-837p.x12").read_text()


def short_isa(text: str) -> str:
    """The interchange with its ISA fields unpadded: empty ISA02/ISA04, ISA06/ISA08 without
    their trailing blanks and a two-digit ISA13 (as in Optum's published 271 examples)."""
    isa, terminator, rest = text.partition("~")
    fields = isa.split("*")
    fields[2] = fields[4] = ""
    fields[6], fields[8] = fields[6].strip(), fields[8].strip()
    fields[13] = "41"
    return "*".join(fields) + terminator + rest


def one_line(text: str) -> str:
    """The interchange with no line breaks between segments."""
    return text.replace("~\n", "~")


SHAPES: dict[str, object] = {
    "short ISA fields": short_isa,
    "UTF-8 byte-order mark": lambda text: "\ufeff" + text,
    "CRLF between segments": lambda text: one_line(text).replace("~", "~\r\n"),
    "newline and indent between segments": lambda text: one_line(text).replace("~", "~\n    "),
    "newline as segment terminator": lambda text: one_line(text).replace("~", "\n"),
    "pipe as segment terminator": lambda text: one_line(text).replace("~", "|"),
    "all of it at once": lambda text: "\ufeff" + short_isa(one_line(text)).replace("~", "~\r\n  "),
}


def reshape(name: str, text: str) -> str:
    shape = SHAPES[name]
    assert callable(shape)
    result = shape(text)
    assert isinstance(result, str)
    assert result != text
    return result


class TestShapes:
    """Every reader reads the same facts from every shape an interchange is found in."""

    def test_the_isa_of_a_short_interchange_is_shorter_than_106(self) -> None:
        assert len(short_isa(X12_271).partition("~")[0]) < 105

    @pytest.mark.parametrize("name", list(SHAPES))
    def test_271_coverage(self, name: str) -> None:
        assert read_271_coverage(reshape(name, X12_271)) == read_271_coverage(X12_271)

    @pytest.mark.parametrize("name", list(SHAPES))
    def test_837_claims(self, name: str) -> None:
        raw = reshape(name, X12_837).encode()
        claims = submission_claims(parse_interchange(raw))
        assert claims == submission_claims(parse_interchange(X12_837.encode()))
        assert [c.patient_control_number for c in claims] == ["SYN0001842", "SYN0001843"]

    @pytest.mark.parametrize("name", list(SHAPES))
    def test_segments_are_the_same(self, name: str) -> None:
        segments = parse_segments(reshape(name, X12_271))
        assert segments[1:] == parse_segments(X12_271)[1:]

    def test_a_bom_encoded_837_passes_the_download_check(self) -> None:
        assert looks_like_interchange(b"\xef\xbb\xbf\r\n" + X12_837.encode())
        assert not looks_like_interchange(b'\xef\xbb\xbf{"heading": {}}')


TRUNCATED = {
    "inside the ISA": lambda text: text[:60],
    "right after ISA16": lambda text: text[: text.index("~")],
    "before the IEA": lambda text: text[: text.index("IEA")],
    "inside a segment": lambda text: (
        text[: text.index("CLM*") + 9] if "CLM*" in text else text[: text.index("NM1*IL") + 9]
    ),
}


class TestTruncated:
    """A cut interchange is an X12Error naming what is missing, never a partial read."""

    @pytest.mark.parametrize("where", list(TRUNCATED))
    @pytest.mark.parametrize("text", [X12_271, X12_837], ids=["271", "837"])
    def test_is_an_error(self, where: str, text: str) -> None:
        cut = TRUNCATED[where](text)
        with pytest.raises(X12Error, match="truncated|malformed") as caught:
            parse_interchange(cut.encode())
        assert "TESTPATIENT" not in str(caught.value)
        if text is X12_271:
            with pytest.raises(X12Error):
                read_271_coverage(cut)

    def test_an_isa_missing_an_element_is_not_read_past_its_terminator(self) -> None:
        missing_isa11 = X12_271.replace("*^*00501*", "*00501*", 1)
        with pytest.raises(X12Error, match="ISA11 is longer than 1 characters"):
            read_delimiters(missing_isa11)

    def test_an_overlong_isa_field_is_malformed(self) -> None:
        with pytest.raises(X12Error, match="ISA06 is longer than 15"):
            read_delimiters(X12_271.replace("*SYNOPTUM       *", "*SYNOPTUM        *", 1))
