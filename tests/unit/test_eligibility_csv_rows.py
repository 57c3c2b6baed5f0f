"""CSV with one eligibility check per row: messy files read into request dicts, errors located."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from receiver.eligibility.csv_rows import COLUMNS, RowIssue, read_checks
from receiver.eligibility.fields import Issue
from receiver.eligibility.rules import check_batch

EXAMPLE = Path(__file__).parents[2] / "fixtures" / "stedi" / "eligibility-batch.checks.csv"
TODAY = date(2025, 3, 12)
HEADER = "submitterTransactionIdentifier,tradingPartnerServiceId,provider.npi,subscriber.memberId"


class TestReadChecks:
    def test_the_messy_example_file(self):
        """BOM, CRLF, header case and spaces, trailing spaces, a blank row, a quoted comma,
        lowercase `;`-separated codes and a dependent."""
        read = read_checks(EXAMPLE.read_bytes())
        assert read.ok, read.errors
        assert read.rows == (2, 3, 5)
        first, second, third = read.checks
        assert first == {
            "submitterTransactionIdentifier": "SYNSTI000001",
            "tradingPartnerServiceId": "SYNPAYER01",
            "provider": {"organizationName": "SYNTHETIC FAMILY CLINIC", "npi": "1999999984"},
            "subscriber": {
                "memberId": "ZZT000123401",
                "firstName": "ALEX",
                "lastName": "TESTPATIENT",
                "dateOfBirth": "19800101",
            },
            "encounter": {"serviceTypeCodes": ["30"], "dateOfService": "20250312"},
        }
        assert second["dependents"] == [
            {"firstName": "SAM", "lastName": "TESTPATIENT", "dateOfBirth": "20150704"}
        ]
        assert second["encounter"] == {"serviceTypeCodes": ["30", "mh"]}
        assert third["provider"]["organizationName"] == "SYNTHETIC FAMILY CLINIC, WEST"
        assert third["encounter"] == {"serviceTypeCodes": ["al"]}

    def test_the_example_passes_the_batch_rules_once_cleaned(self):
        read = read_checks(EXAMPLE.read_text(encoding="utf-8"))
        result = check_batch(list(read.checks), today=TODAY)
        assert result.ok, result.errors
        assert result.items[1]["subscriber"]["lastName"] == "O'TESTPATIENT"
        assert result.items[1]["encounter"]["serviceTypeCodes"] == ["30", "MH"]
        assert result.items[2]["encounter"]["serviceTypeCodes"] == ["AL"]
        assert [read.locate(issue) for issue in result.warnings] == [
            RowIssue(3, "subscriber.lastName", "backticks were replaced with apostrophes"),
            RowIssue(
                3,
                "encounter.serviceTypeCodes",
                "holds more than one code; not all payers support that",
            ),
        ]

    def test_a_str_with_a_bom_reads_like_bytes(self):
        text = "\ufeff" + HEADER + "\nS1,SYNPAYER01,1999999984,ZZT1\n"
        assert read_checks(text).checks == read_checks(text.encode()).checks
        assert read_checks(text).checks[0]["submitterTransactionIdentifier"] == "S1"

    def test_every_column_maps_to_its_request_path(self):
        header = ",".join(COLUMNS)
        row = ",".join(f"v{index}" for index in range(len(COLUMNS)))
        (check,) = read_checks(f"{header}\n{row}\n").checks
        for index, column in enumerate(COLUMNS):
            group, _, name = column.rpartition(".")
            if not group:
                found = check[name]
            elif group == "dependent":
                found = check["dependents"][0][name]
            else:
                found = check[group][name]
            expected = [f"v{index}"] if column == "encounter.serviceTypeCodes" else f"v{index}"
            assert found == expected, column

    def test_cells_stay_text_with_their_leading_zeros(self):
        read = read_checks("controlNumber,tradingPartnerServiceId\n000123,00540\n")
        assert read.checks == ({"controlNumber": "000123", "tradingPartnerServiceId": "00540"},)

    def test_empty_cells_and_short_rows_leave_fields_out(self):
        read = read_checks(HEADER + "\nS1,,1999999984\n")
        assert read.checks == (
            {"submitterTransactionIdentifier": "S1", "provider": {"npi": "1999999984"}},
        )

    def test_the_password_cell_keeps_its_spaces(self):
        read = read_checks("portalPassword,portalUsername\n pin 42 , user \n")
        assert read.checks == ({"portalPassword": " pin 42 ", "portalUsername": "user"},)

    def test_codes_split_on_semicolons_and_empty_codes_vanish(self):
        read = read_checks("encounter.serviceTypeCodes\n30;;  mh ; \n")
        assert read.checks[0]["encounter"] == {"serviceTypeCodes": ["30", "mh"]}

    def test_quoted_multiline_cells_count_as_one_row(self):
        read = read_checks(
            'provider.organizationName,subscriber.memberId\n"TWO\nLINES",ZZT1\nONE,ZZT2\n'
        )
        assert read.rows == (2, 3)
        assert read.checks[0]["provider"] == {"organizationName": "TWO\nLINES"}


class TestReadErrors:
    @pytest.mark.parametrize("data", ["", b"", "\ufeff", "\n", " , \nS1\n"])
    def test_a_missing_header(self, data):
        assert read_checks(data).errors == (RowIssue(1, None, "the header row is missing"),)

    def test_a_header_without_rows(self):
        assert read_checks(HEADER + "\n\n , ,\n").errors == (
            RowIssue(None, None, "the file has no data rows"),
        )

    def test_unknown_and_duplicate_columns_are_named(self):
        read = read_checks("subscriber.memberID,subscriber.memberId,subscriber.ssnx,,\nA,B,C\n")
        assert read.checks == ()
        assert [str(issue) for issue in read.errors] == [
            "row 1, column subscriber.memberId: appears twice",
            "row 1, column subscriber.ssnx: is not a known column",
            "row 1, column (empty): is not a known column",
            "row 1, column (empty): is not a known column",
        ]

    def test_a_file_without_a_header_echoes_none_of_its_cells(self):
        read = read_checks("ALEX,TESTPATIENT,19800101\n")
        assert [str(issue) for issue in read.errors] == [
            "row 1: is not a header: it names no known column"
        ]

    def test_a_row_with_too_many_cells_is_named_and_the_others_kept(self):
        read = read_checks(HEADER + "\nS1,P,1999999984,Z1\nS2,P,1999999984,Z2,EXTRA\nS3,P\n")
        assert read.errors == (RowIssue(3, None, "has 5 cells; the header has 4"),)
        assert read.rows == (2, 4)
        assert not read.ok

    def test_more_rows_than_allowed_are_refused(self):
        rows = "".join(f"S{n},P,1999999984,Z{n}\n" for n in range(4))
        assert read_checks(HEADER + "\n" + rows, max_rows=4).ok
        read = read_checks(HEADER + "\n" + rows + "S9,P,1,Z\n", max_rows=4)
        assert read.checks == ()
        assert [str(issue) for issue in read.errors] == ["the file has more than 4 rows; split it"]

    def test_bytes_that_are_not_utf8(self):
        read = read_checks(HEADER.encode() + b"\nS1,P\xe9,1,Z\n")
        offset = len(HEADER) + len("\nS1,P")
        assert [str(issue) for issue in read.errors] == [f"the file is not UTF-8 (byte {offset})"]

    @pytest.mark.parametrize(
        ("tail", "message"),
        [
            ('S1,"unterminated\n', "the file is not valid CSV near line 3: unexpected end of data"),
            ('S1,"P"X,1,Z\n', "the file is not valid CSV near line 3: ',' expected after '\"'"),
        ],
    )
    def test_malformed_csv_is_an_error_not_an_exception(self, tail, message):
        read = read_checks(HEADER + "\nS0,P,1,Z\n" + tail)
        assert read.checks == ()
        assert [str(issue) for issue in read.errors] == [message]


class TestLocate:
    read = read_checks(EXAMPLE.read_bytes())

    @pytest.mark.parametrize(
        ("path", "row", "column"),
        [
            ("items[0].subscriber.dateOfBirth", 2, "subscriber.dateOfBirth"),
            ("items[1].dependents[0].firstName", 3, "dependent.firstName"),
            ("items[2].encounter.serviceTypeCodes[0]", 5, "encounter.serviceTypeCodes"),
            ("items[2].submitterTransactionIdentifier", 5, "submitterTransactionIdentifier"),
            ("items[1].provider", 3, "provider"),
            ("items[1]", 3, None),
        ],
    )
    def test_an_item_path_becomes_a_row_and_column(self, path, row, column):
        assert self.read.locate(Issue(path, "msg")) == RowIssue(row, column, "msg")

    @pytest.mark.parametrize("path", ["items", "items[3].provider", "provider.npi", ""])
    def test_other_paths_stay_whole(self, path):
        issue = Issue(path, "msg")
        assert self.read.locate(issue) == RowIssue(None, None, str(issue))

    def test_row_issues_read_as_sentences(self):
        assert str(RowIssue(3, "provider.npi", "bad")) == "row 3, column provider.npi: bad"
        assert str(RowIssue(3, None, "bad")) == "row 3: bad"
        assert str(RowIssue(None, None, "bad")) == "bad"
