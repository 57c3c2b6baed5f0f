"""X12 reader: delimiters from ISA, segment splitting, and 271 coverage extraction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from receiver.x12 import (
    Coverage,
    Delimiters,
    X12Error,
    parse_interchange,
    parse_segments,
    read_271_coverage,
    read_delimiters,
)

FIXTURES = Path(__file__).parents[2] / "fixtures"
CALLBACK = json.loads((FIXTURES / "optum" / "coverage-discovery.callback.success.json").read_text())
X12_271: str = CALLBACK["discoveryPaths"]["successful"][0]["transaction"]["x12-271"]
ISA = X12_271[:106]


def with_delimiters(text: str, element: str, component: str, segment: str) -> str:
    """Re-spell an interchange that uses `*`, `:` and `~` with other delimiters."""
    return text.replace("*", element).replace(":", component).replace("~", segment)


class TestReadDelimiters:
    def test_reads_the_isa_positions(self) -> None:
        assert read_delimiters(X12_271) == Delimiters(element="*", component=":", segment="~")

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
        text = ISA + "ST*271*0001~NM1*PR*2~SE*3*0001~"
        assert read_271_coverage(text) == Coverage(None, None, None, None)

    def test_rejects_other_transaction_sets(self) -> None:
        with pytest.raises(X12Error):
            read_271_coverage(ISA + "ST*835*0001~SE*2*0001~")

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
