"""CSV with one eligibility check per row, read into the request dicts the rules check.

The header names the fields by their JSON paths (case and surrounding spaces do not matter):

    submitterTransactionIdentifier, controlNumber, tradingPartnerServiceId, tradingPartnerName,
    externalPatientId, portalUsername, portalPassword,
    provider.organizationName, provider.firstName, provider.lastName, provider.npi,
    provider.taxId, provider.ssn,
    subscriber.memberId, subscriber.firstName, subscriber.middleName, subscriber.lastName,
    subscriber.dateOfBirth, subscriber.gender, subscriber.groupNumber,
    dependent.firstName, dependent.middleName, dependent.lastName, dependent.dateOfBirth,
    dependent.gender, dependent.individualRelationshipCode   (the one `dependents[0]`),
    encounter.serviceTypeCodes (codes separated by `;`), encounter.dateOfService,
    encounter.beginningDateOfService, encounter.endDateOfService

Every cell is text (leading zeros survive); empty cells are left out. Rows are numbered as a
spreadsheet shows them: the header is row 1. A UTF-8 byte order mark is ignored, blank rows
are skipped, and more than `max_rows` data rows are refused outright.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from receiver.eligibility.fields import Issue, JsonObject

MAX_ROWS = 10_000
COLUMNS = (
    "submitterTransactionIdentifier",
    "controlNumber",
    "tradingPartnerServiceId",
    "tradingPartnerName",
    "externalPatientId",
    "portalUsername",
    "portalPassword",
    "provider.organizationName",
    "provider.firstName",
    "provider.lastName",
    "provider.npi",
    "provider.taxId",
    "provider.ssn",
    "subscriber.memberId",
    "subscriber.firstName",
    "subscriber.middleName",
    "subscriber.lastName",
    "subscriber.dateOfBirth",
    "subscriber.gender",
    "subscriber.groupNumber",
    "dependent.firstName",
    "dependent.middleName",
    "dependent.lastName",
    "dependent.dateOfBirth",
    "dependent.gender",
    "dependent.individualRelationshipCode",
    "encounter.serviceTypeCodes",
    "encounter.dateOfService",
    "encounter.beginningDateOfService",
    "encounter.endDateOfService",
)
_BY_LOWER = {column.lower(): column for column in COLUMNS}
_LIST_COLUMNS = frozenset({"encounter.serviceTypeCodes"})
_ITEM_PATH = re.compile(r"items\[(\d+)\](?:\.(.*))?")


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A problem located in the file: its row (header = 1; None for the whole file) and
    column (None for the whole row)."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        where += [f"column {self.column}"] if self.column is not None else []
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass(frozen=True, slots=True)
class CsvChecks:
    """The checks read from a CSV file, the row each came from, and what stopped the read."""

    checks: tuple[JsonObject, ...]
    rows: tuple[int, ...]
    errors: tuple[RowIssue, ...]

    @property
    def ok(self) -> bool:
        """True when every row was read."""
        return not self.errors

    def locate(self, issue: Issue) -> RowIssue:
        """Where in the file a `check_batch` issue (path `items[i]...`) points: the row of item
        `i` and the column for the rest of its path."""
        match = _ITEM_PATH.fullmatch(issue.path)
        if match is None or int(match.group(1)) >= len(self.rows):
            return RowIssue(None, None, str(issue))
        rest = match.group(2)
        column = None if rest is None else _column_of(rest)
        return RowIssue(self.rows[int(match.group(1))], column, issue.message)


def read_checks(data: str | bytes, *, max_rows: int = MAX_ROWS) -> CsvChecks:
    """Read one check per CSV row. Never raises on bad input: a file that cannot be read is
    returned with its errors and no checks."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return _failed(RowIssue(None, None, f"the file is not UTF-8 (byte {exc.start})"))
    # strict: a stray or unterminated quote is an error, not a silently merged cell.
    reader = csv.reader(io.StringIO(data.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            return _failed(RowIssue(1, None, "the header row is missing"))
        columns, errors = _columns(header)
        if errors:
            return CsvChecks((), (), tuple(errors))
        return _read_rows(reader, columns, max_rows)
    except csv.Error as exc:
        return _failed(
            RowIssue(None, None, f"the file is not valid CSV near line {reader.line_num}: {exc}")
        )


def _read_rows(reader: Iterable[list[str]], columns: Sequence[str], max_rows: int) -> CsvChecks:
    checks: list[JsonObject] = []
    rows: list[int] = []
    errors: list[RowIssue] = []
    for row_number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(checks) + len(errors) >= max_rows:
            return _failed(
                RowIssue(None, None, f"the file has more than {max_rows} rows; split it")
            )
        if len(cells) > len(columns):
            errors.append(
                RowIssue(row_number, None, f"has {len(cells)} cells; the header has {len(columns)}")
            )
            continue
        checks.append(_check_of(columns, cells))
        rows.append(row_number)
    if not checks and not errors:
        return _failed(RowIssue(None, None, "the file has no data rows"))
    return CsvChecks(tuple(checks), tuple(rows), tuple(errors))


def _columns(header: Sequence[str]) -> tuple[list[str], list[RowIssue]]:
    if not any(cell.strip().lower() in _BY_LOWER for cell in header):
        # Most likely a data row: name no cell, it may be a patient's name or birth date.
        return [], [RowIssue(1, None, "is not a header: it names no known column")]
    columns: list[str] = []
    errors: list[RowIssue] = []
    for cell in header:
        name = cell.strip()
        column = _BY_LOWER.get(name.lower())
        if column is None:
            errors.append(RowIssue(1, name or "(empty)", "is not a known column"))
        elif column in columns:
            errors.append(RowIssue(1, column, "appears twice"))
        columns.append(column or name)
    return columns, errors


def _check_of(columns: Sequence[str], cells: Sequence[str]) -> JsonObject:
    check: JsonObject = {}
    sections: dict[str, JsonObject] = {}
    for column, cell in zip(columns, cells, strict=False):
        text = cell if column == "portalPassword" else cell.strip()
        if not text:
            continue
        value: object = text
        if column in _LIST_COLUMNS:
            value = [code.strip() for code in text.split(";") if code.strip()]
        group, _, name = column.rpartition(".")
        if group:
            sections.setdefault(group, {})[name] = value
        else:
            check[name] = value
    for group, fields in sections.items():
        if group == "dependent":
            check["dependents"] = [fields]
        else:
            check[group] = fields
    return check


def _column_of(path: str) -> str:
    """The CSV column for a request path: `dependents[0].x` is `dependent.x`, and a list
    element `encounter.serviceTypeCodes[2]` is its list's column."""
    path = re.sub(r"^dependents\[0\]", "dependent", path)
    return re.sub(r"\[\d+\]$", "", path)


def _failed(issue: RowIssue) -> CsvChecks:
    return CsvChecks((), (), (issue,))
