"""`returnbridge mapping test`: JSON and exit 0, or the failing fields and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from returnbridge.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mappings"
runner = CliRunner()


def _run(mapping: Path, payload: Path) -> tuple[int, str, str]:
    result = runner.invoke(
        app, ["mapping", "test", "--mapping", str(mapping), "--payload", str(payload)]
    )
    return result.exit_code, result.stdout, result.stderr


def test_mapping_test_prints_the_canonical_return_as_json() -> None:
    code, out, _ = _run(EXAMPLES / "helpdesk-ticket.yaml", EXAMPLES / "helpdesk-ticket.json")
    assert code == 0
    printed = json.loads(out)
    assert printed["external_id"] == "35436"
    assert printed["order"]["order_number"] == "#1001"
    assert printed["metadata"]["requested_refund_minor"] == 4990


def test_mapping_test_names_the_failing_field_and_exits_1() -> None:
    code, out, err = _run(
        EXAMPLES / "marketplace-dispute.yaml", EXAMPLES / "marketplace-dispute.broken.json"
    )
    assert code == 1
    assert out == ""
    assert (
        "error: lines[1].quantity (from returnItems[1].returnQuantity): not an integer: 'two'"
        in err
    )
    assert "Traceback" not in err


def test_mapping_test_refuses_a_bad_mapping_file_without_a_traceback(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("name: x\nfields:\n  order.ordr_number: a\n")
    code, _, err = _run(mapping, EXAMPLES / "helpdesk-ticket.json")
    assert code == 2
    assert "fields.order.ordr_number: order has no field 'ordr_number'" in err
    assert "Traceback" not in err


def test_mapping_test_refuses_a_payload_that_is_not_json(tmp_path: Path) -> None:
    payload = tmp_path / "p.json"
    payload.write_text("{not json")
    code, _, err = _run(EXAMPLES / "helpdesk-ticket.yaml", payload)
    assert code == 2
    assert "is not valid JSON" in err
