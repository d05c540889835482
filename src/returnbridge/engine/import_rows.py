"""Rows of an import file turned into canonical returns, or into the exact fields that failed.

Two formats, read as a stream of bytes so a resumed import can seek to where it stopped:

- **JSON Lines**: one JSON object per line; blank lines are skipped. Without a mapping each
  object is a canonical return (the body of `POST /v1/returns` without `connection_id`); with
  one, each object is a vendor payload the mapping turns into a canonical return.
- **CSV** (UTF-8, a header row): with a mapping, each row is one return, its payload a flat
  object of column -> cell (empty cells left out). Without one, the built-in layout
  (`CSV_COLUMNS`): one returned line per row, and adjacent rows with the same `external_id`
  and `revision` form one return; the return's own columns are read from its first row.

Row numbers are what a person opening the file sees: the line of a JSON Lines file, the row of
a spreadsheet for CSV (the header is row 1).
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from typing import IO, Any, Final, Literal

from jmespath.exceptions import JMESPathError
from pydantic import ValidationError

from returnbridge.domain.returns import CanonicalReturn
from returnbridge.mappings import MappingError, MappingSpec, apply_mapping

Format = Literal["jsonl", "csv"]

MAX_ROW_BYTES: Final = 1024 * 1024
"""A longer row is refused as a row (never read into one giant value)."""

RETURN_COLUMNS: Final = (
    "external_id",
    "revision",
    "channel",
    "requested_at",
    "status",
    "platform_order_id",
    "order_number",
    "customer_email",
    "currency",
    "return_reason",
    "restock",
    "customer_note",
)
"""Built-in CSV layout: columns describing the whole return (read from its first row)."""
LINE_COLUMNS: Final = ("sku", "line_id", "quantity", "reason", "condition", "note")
"""Built-in CSV layout: columns describing the row's returned line."""
CSV_COLUMNS: Final = RETURN_COLUMNS + LINE_COLUMNS

_ORDER_COLUMNS: Final = ("platform_order_id", "order_number", "customer_email")
_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})


class ImportFileError(ValueError):
    """The file as a whole cannot be read in this format (no header, unknown column)."""


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One field of a row that failed, and why; `source` is where a mapping read it."""

    field: str
    reason: str
    source: str | None = None

    def as_json(self) -> dict[str, str]:
        found = {"field": self.field, "reason": self.reason}
        return found | ({"source": self.source} if self.source else {})


@dataclass(frozen=True, slots=True)
class Record:
    """One return to import, from rows `first_row`..`last_row`, or the reasons it cannot be.

    `end_offset` is the byte just after its last row: an import resumed after this record
    starts reading there.
    """

    first_row: int
    last_row: int
    end_offset: int
    external_id: str | None
    canonical: CanonicalReturn | None
    issues: tuple[RowIssue, ...] = ()


@dataclass(frozen=True, slots=True)
class _Row:
    number: int
    end_offset: int
    value: Any
    issue: RowIssue | None = None


class _ExactNumber(float):
    """A JSON number with a fraction or exponent that keeps its text (as the API reads it)."""

    json_text: str

    def __new__(cls, text: str) -> _ExactNumber:
        number = super().__new__(cls, text)
        number.json_text = text
        return number


class _RefusedJsonError(ValueError):
    """JSON the standard parser takes but that would mean something else once stored."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _RefusedJsonError(f"duplicate key {key!r}")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise _RefusedJsonError(f"{name} is not a JSON number")


def _unstorable(value: Any, path: str) -> RowIssue | None:
    """The first text a database cannot keep (NUL characters), where it is."""
    if isinstance(value, str):
        return (
            RowIssue(path or "(row)", "text must not contain NUL characters")
            if ("\x00" in value)
            else None
        )
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unstorable(key, path) or _unstorable(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _lines(stream: IO[bytes], *, row: int, offset: int) -> Iterator[tuple[int, int, bytes]]:
    """(row number, end offset, raw bytes) of each line from `offset`; row counts from `row`."""
    for raw in stream:
        row += 1
        offset += len(raw)
        yield row, offset, raw


def read_jsonl(
    stream: IO[bytes], *, exact: Literal["float", "decimal"], row: int = 0, offset: int = 0
) -> Iterator[_Row]:
    """Each non-blank line as a JSON value (numbers as the API or a mapping reads them)."""
    parse_float: Any = _ExactNumber if exact == "float" else Decimal
    for number, end, raw in _lines(stream, row=row, offset=offset):
        if len(raw) > MAX_ROW_BYTES:
            yield _Row(number, end, None, RowIssue("(row)", f"longer than {MAX_ROW_BYTES} bytes"))
            continue
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            yield _Row(number, end, None, RowIssue("(row)", "not valid UTF-8"))
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(
                text,
                object_pairs_hook=_unique_keys,
                parse_float=parse_float,
                parse_constant=_no_constant,
            )
        except _RefusedJsonError as exc:
            yield _Row(number, end, None, RowIssue("(row)", str(exc)))
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = (
                f"not valid JSON: {exc}" if isinstance(exc, json.JSONDecodeError) else "too deep"
            )
            yield _Row(number, end, None, RowIssue("(row)", reason))
        else:
            if not isinstance(value, dict):
                yield _Row(number, end, None, RowIssue("(row)", "not a JSON object"))
            else:
                yield _Row(number, end, value, _unstorable(value, ""))


def csv_header(stream: IO[bytes]) -> tuple[list[str], int]:
    """The header's column names and the byte offset just after it."""
    first = stream.readline(MAX_ROW_BYTES)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError("the CSV header is not valid UTF-8") from exc
    names = next(csv.reader([text]), [])
    columns = [name.strip() for name in names]
    if not any(columns):
        raise ImportFileError("the CSV file has no header row")
    blank = [str(index + 1) for index, name in enumerate(columns) if not name]
    if blank:
        raise ImportFileError(f"the CSV header has blank column names (column {blank[0]})")
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise ImportFileError(f"the CSV header names {repeated[0]!r} twice")
    return columns, len(first)


def check_builtin_columns(columns: list[str]) -> None:
    """Refuse a column the built-in layout does not know: its data would be dropped."""
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    if unknown:
        raise ImportFileError(
            f"unknown CSV column {unknown[0]!r} (without --mapping the columns are: "
            f"{', '.join(CSV_COLUMNS)}); give a mapping to read other columns"
        )
    if "external_id" not in columns:
        raise ImportFileError("the CSV header has no external_id column")


def read_csv(
    stream: IO[bytes], columns: list[str], *, row: int = 1, offset: int = 0
) -> Iterator[_Row]:
    """Each CSV row after the header as {column: cell}, empty cells left out."""
    position = {"row": row, "offset": offset}

    def text_lines() -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        for _number, end, raw in _lines(stream, row=0, offset=offset):
            position["offset"] = end
            yield decoder.decode(raw)

    reader = csv.reader(text_lines(), strict=True)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            position["row"] += 1
            yield _Row(position["row"], position["offset"], None, RowIssue("(row)", str(exc)))
            continue
        position["row"] += 1
        number, end = position["row"], position["offset"]
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(columns):
            reason = f"{len(cells)} cells for {len(columns)} columns"
            yield _Row(number, end, None, RowIssue("(row)", reason))
            continue
        value = {
            name: cell for name, cell in zip(columns, cells, strict=False) if cell.strip() != ""
        }
        issue = _unstorable(value, "")
        if issue is None and any(_has_surrogates(cell) for cell in cells):
            issue = RowIssue("(row)", "not valid UTF-8")
        yield _Row(number, end, value, issue)


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)


def _issues_of(error: ValidationError, *, field_name: Any = None) -> tuple[RowIssue, ...]:
    found = []
    for detail in error.errors():
        loc = tuple(part for part in detail["loc"] if part not in ("function-after",))
        name = field_name(loc) if field_name else _dotted(loc)
        found.append(RowIssue(name, detail["msg"].removeprefix("Value error, ")))
    return tuple(found) or (RowIssue("(row)", str(error)),)


def _dotted(loc: tuple[Any, ...]) -> str:
    name = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return name.removeprefix(".") or "(return)"


def _external_id(value: Any) -> str | None:
    if isinstance(value, dict):
        found = value.get("external_id")
        if isinstance(found, str | int) and not isinstance(found, bool):
            return str(found)[:200]
    return None


def canonical_record(row: _Row) -> Record:
    """A row that should already be a canonical return."""
    external_id = _external_id(row.value)
    if row.issue is not None:
        return Record(row.number, row.number, row.end_offset, external_id, None, (row.issue,))
    try:
        canonical = CanonicalReturn.model_validate(row.value)
    except ValidationError as exc:
        return Record(row.number, row.number, row.end_offset, external_id, None, _issues_of(exc))
    return Record(row.number, row.number, row.end_offset, canonical.external_id, canonical)


def mapped_record(row: _Row, spec: MappingSpec) -> Record:
    """A vendor payload turned into a canonical return by `spec`."""
    if row.issue is not None:
        return Record(row.number, row.number, row.end_offset, None, None, (row.issue,))
    try:
        canonical = apply_mapping(spec, row.value)
    except MappingError as exc:
        issues = tuple(RowIssue(i.field, i.reason, i.source) for i in exc.issues)
        external_id = _mapped_external_id(spec, row.value)
        return Record(row.number, row.number, row.end_offset, external_id, None, issues)
    return Record(row.number, row.number, row.end_offset, canonical.external_id, canonical)


def _mapped_external_id(spec: MappingSpec, payload: Any) -> str | None:
    """The row's external id as the mapping reads it, for the report of a row that failed."""
    rule = spec.fields.get("external_id")
    if rule is None or rule.compiled is None:
        return None
    try:
        found = rule.compiled.search(payload)
    except JMESPathError:
        return None
    return _external_id({"external_id": found})


def _group_key(row: _Row) -> tuple[Any, ...]:
    """Adjacent rows with the same key form one return; a bad row stands alone."""
    if row.issue is not None or not isinstance(row.value, dict):
        return ("bad", row.number)
    return ("return", row.value.get("external_id"), row.value.get("revision", "1").strip())


def builtin_records(rows: Iterable[_Row]) -> Iterator[Record]:
    """Built-in CSV layout: adjacent rows of one return grouped, each a line of it."""
    for _key, grouped in groupby(rows, key=_group_key):
        group = list(grouped)
        if group[0].issue is not None:
            row = group[0]
            assert row.issue is not None
            yield Record(row.number, row.number, row.end_offset, None, None, (row.issue,))
            continue
        yield _builtin_record(group)


def _builtin_record(group: list[_Row]) -> Record:
    first, last = group[0], group[-1]
    cells: dict[str, str] = first.value
    external_id = cells.get("external_id")
    issues: list[RowIssue] = []
    data: dict[str, Any] = {}
    for name in ("external_id", "channel", "requested_at", "status", "customer_note"):
        if name in cells:
            data[name] = cells[name]
    if "return_reason" in cells:
        data["reason"] = cells["return_reason"]
    order = {name: cells[name].strip() for name in _ORDER_COLUMNS if name in cells}
    data["order"] = order
    if "currency" in cells:
        data["refund"] = {"currency": cells["currency"].strip().upper()}
    for name, convert in (("revision", _integer), ("restock", _boolean)):
        if name in cells:
            try:
                data[name] = convert(cells[name])
            except ValueError as exc:
                issues.append(RowIssue(name, str(exc)))
    issues.extend(_differing(group))
    data["lines"] = [_line(row, issues) for row in group]
    if issues:
        return Record(first.number, last.number, last.end_offset, external_id, None, tuple(issues))
    try:
        canonical = CanonicalReturn.model_validate(data)
    except ValidationError as exc:
        named = _issues_of(exc, field_name=lambda loc: _column_of(loc, group))
        return Record(first.number, last.number, last.end_offset, external_id, None, named)
    return Record(first.number, last.number, last.end_offset, canonical.external_id, canonical)


def _differing(group: list[_Row]) -> list[RowIssue]:
    """Return columns must not change within one return: which value would be right?"""
    first = group[0]
    return [
        RowIssue(f"row {row.number}: {name}", f"differs from row {first.number} of this return")
        for row in group[1:]
        for name in RETURN_COLUMNS
        if name in row.value and row.value[name] != first.value.get(name)
    ]


def _line(row: _Row, issues: list[RowIssue]) -> dict[str, Any]:
    cells: dict[str, str] = row.value
    line: dict[str, Any] = {
        name: cells[name] for name in ("sku", "line_id", "reason", "note") if name in cells
    }
    if "condition" in cells:
        line["condition"] = cells["condition"].strip().lower()
    try:
        line["quantity"] = _integer(cells["quantity"]) if "quantity" in cells else 1
    except ValueError as exc:
        issues.append(RowIssue(f"row {row.number}: quantity", str(exc)))
    return line


_CANONICAL_COLUMN: Final = {
    ("reason",): "return_reason",
    ("refund", "currency"): "currency",
    ("order",): "platform_order_id/order_number/customer_email",
}


def _column_of(loc: tuple[Any, ...], group: list[_Row]) -> str:
    """The CSV column (and row, for a line's cell) a canonical field came from."""
    if len(loc) >= 3 and loc[0] == "lines" and isinstance(loc[1], int) and loc[1] < len(group):
        return f"row {group[loc[1]].number}: {loc[2]}"
    if len(loc) >= 2 and loc[0] == "order":
        return str(loc[1])
    return _CANONICAL_COLUMN.get(tuple(loc), _dotted(loc))


def _integer(text: str) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        raise ValueError(f"not a whole number: {text!r}")
    return int(value)


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"not true or false: {text!r}")
