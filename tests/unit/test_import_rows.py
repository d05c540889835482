"""Rows of an import file: canonical returns, or the field that failed and why; row numbers
as a person opening the file sees them; byte offsets a resumed import can seek to."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from returnbridge.engine.import_rows import (
    ImportFileError,
    Record,
    builtin_records,
    canonical_record,
    check_builtin_columns,
    csv_header,
    mapped_record,
    read_csv,
    read_jsonl,
)
from returnbridge.mappings import load_mapping

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def good(external_id: str = "R-1", **changes: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "order": {"order_number": "#1001"},
        "lines": [{"sku": "BOOT-42", "quantity": 1}],
    } | changes


def jsonl_records(text: str, *, offset: int = 0, row: int = 0) -> list[Record]:
    stream = io.BytesIO(text.encode())
    stream.seek(offset)
    return [
        canonical_record(item) for item in read_jsonl(stream, exact="float", row=row, offset=offset)
    ]


def csv_records(text: str) -> list[Record]:
    stream = io.BytesIO(text.encode())
    columns, _ = csv_header(stream)
    check_builtin_columns(columns)
    return list(builtin_records(read_csv(stream, columns, offset=stream.tell())))


def issues(record: Record) -> list[tuple[str, str]]:
    return [(issue.field, issue.reason) for issue in record.issues]


def test_a_valid_line_is_a_canonical_return_numbered_by_its_line() -> None:
    text = json.dumps(good()) + "\n\n" + json.dumps(good("R-2")) + "\n"

    first, second = jsonl_records(text)

    assert first.canonical is not None
    assert first.canonical.external_id == "R-1"
    assert (first.first_row, second.first_row) == (1, 3)  # the blank line 2 is skipped
    assert second.end_offset == len(text.encode())


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{oops", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"external_id": "A", "external_id": "B"}', "duplicate key 'external_id'"),
        ('{"external_id": "A", "metadata": {"x": NaN}}', "NaN is not a JSON number"),
        ('{"external_id": "A\\u0000"}', "text must not contain NUL characters"),
    ],
)
def test_a_line_that_is_not_a_storable_object_is_one_bad_row(line: str, reason: str) -> None:
    (record,) = jsonl_records(line + "\n")

    assert record.canonical is None
    assert any(reason in why for _field, why in issues(record)), issues(record)


def test_a_bad_field_is_named_with_the_external_id() -> None:
    (record,) = jsonl_records(json.dumps(good(lines=[{"sku": "A", "quantity": "2"}])) + "\n")

    assert record.external_id == "R-1"
    assert issues(record) == [("lines[0].quantity", "Input should be a valid integer")]


def test_reading_from_a_records_end_offset_gives_the_rest_with_their_row_numbers() -> None:
    text = "".join(json.dumps(good(f"R-{n}")) + "\n" for n in range(1, 6))
    records = jsonl_records(text)

    rest = jsonl_records(text, offset=records[1].end_offset, row=records[1].last_row)

    assert [r.first_row for r in rest] == [3, 4, 5]
    assert [r.external_id for r in rest] == ["R-3", "R-4", "R-5"]


def test_adjacent_csv_rows_of_one_return_become_its_lines() -> None:
    records = csv_records(
        "external_id,order_number,sku,quantity,condition\n"
        "A,#1,BOOT,1,New\n"
        "A,#1,SOCK,2,\n"
        "B,#2,HAT,,\n"
    )

    first, second = records
    assert first.canonical is not None
    assert (first.first_row, first.last_row) == (2, 3)
    assert [(line.sku, line.quantity) for line in first.canonical.lines] == [
        ("BOOT", 1),
        ("SOCK", 2),
    ]
    assert first.canonical.lines[0].condition == "new"
    assert second.canonical is not None
    assert second.canonical.lines[0].quantity == 1  # an empty quantity means one unit


def test_a_bad_csv_cell_is_named_by_its_row_and_column() -> None:
    (record,) = csv_records("external_id,order_number,sku,quantity\nA,#1,BOOT,1\nA,#1,SOCK,x\n")

    assert record.canonical is None
    assert issues(record) == [("row 3: quantity", "not a whole number: 'x'")]


def test_a_return_column_that_changes_within_one_return_is_refused() -> None:
    (record,) = csv_records("external_id,order_number,sku\nA,#1,BOOT\nA,#2,SOCK\n")

    assert issues(record) == [("row 3: order_number", "differs from row 2 of this return")]


def test_a_csv_return_without_an_order_clue_names_the_order_columns() -> None:
    (record,) = csv_records("external_id,order_number,sku\nA,,BOOT\n")

    assert issues(record)[0][0] == "platform_order_id/order_number/customer_email"


def test_a_broken_csv_row_is_one_bad_row_and_the_next_rows_are_read() -> None:
    records = csv_records('external_id,order_number,sku\nA,"#1"x,BOOT\nB,#2,HAT\n')

    assert [r.first_row for r in records] == [2, 3]
    assert records[0].canonical is None
    assert records[1].canonical is not None


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("external_id,colour\n", "unknown CSV column 'colour'"),
        ("order_number,sku\n", "no external_id column"),
        ("external_id,sku,sku\n", "names 'sku' twice"),
        ("\n", "no header row"),
    ],
)
def test_a_header_the_builtin_layout_cannot_read_is_refused(header: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        csv_records(header + "A,B\n")


def test_a_mapped_csv_row_is_a_flat_object_of_its_cells() -> None:
    spec = load_mapping(EXAMPLES / "import" / "marketplace-export.yaml")
    stream = (EXAMPLES / "import" / "marketplace-export.csv").open("rb")
    with stream:
        columns, _ = csv_header(stream)
        records = [
            mapped_record(row, spec) for row in read_csv(stream, columns, offset=stream.tell())
        ]

    assert [r.external_id for r in records[:2]] == ["MP-9001", "MP-9002"]
    assert records[0].canonical is not None
    assert records[0].canonical.lines[0].sku == "BOOT-TRAIL-42"
    bad = records[2]
    assert bad.first_row == 4
    assert bad.external_id == "MP-9003"
    assert [(i.field, i.source) for i in bad.issues] == [("lines[0].quantity", "[@][0].Qty")]
