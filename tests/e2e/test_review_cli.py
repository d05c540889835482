"""The review queue from the CLI: list, show and resolve against a running gateway.

The CLI runs as its own process on the gateway's database; the resolve it records is picked
up by the gateway's worker, as with `returnbridge up` beside an operator's terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from support.gateway import Gateway, Sandbox, simple_order

pytestmark = pytest.mark.timeout(240)


def _cli(gateway: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    settings = gateway.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    env |= {
        "RETURNBRIDGE_DATA_DIR": str(settings.data_dir),
        "RETURNBRIDGE_DATABASE_URL": settings.resolved_database_url,
        "RETURNBRIDGE_SYSTEM_DATABASE_URL": settings.resolved_system_database_url,
        "RETURNBRIDGE_TENANT": gateway.tenant_id,
        "RETURNBRIDGE_LOG_LEVEL": "WARNING",
        "LOGNAME": "ann",
        "USER": "ann",
        "COLUMNS": "250",
    }
    return subprocess.run(
        [sys.executable, "-m", "returnbridge.cli.main", "returns", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _ambiguous(gateway: Gateway, sandbox: Sandbox, external_id: str) -> dict[str, Any]:
    sandbox.seed_order(simple_order(5001, email="lee@example.com"))
    sandbox.seed_order(simple_order(5002, email="lee@example.com"))
    event = {
        "external_id": external_id,
        "order": {"customer_email": "lee@example.com"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert body["status"] == "needs_review"
    return body


def test_an_operator_lists_shows_and_resolves_a_return_from_the_cli(
    gateway: Gateway, sandbox: Sandbox
) -> None:
    parked = _ambiguous(gateway, sandbox, "CLI-1")

    listed = _cli(gateway, "list", "--status", "needs_review")
    assert listed.returncode == 0, listed.stderr
    assert parked["id"] in listed.stdout
    assert "order_ambiguous" in listed.stdout
    assert "#5001 70" in listed.stdout

    shown = _cli(gateway, "show", parked["id"])
    assert shown.returncode == 0, shown.stderr
    assert "candidate orders" in shown.stdout
    assert "+40 customer email is lee@example.com" in shown.stdout

    resolved = _cli(gateway, "resolve", parked["id"], "--order", "#5002", "--reason", "receipt")
    assert resolved.returncode == 0, resolved.stderr
    assert f"{parked['id']}: matched" in resolved.stdout
    done = gateway.wait_for_status(parked["id"], "completed")

    assert len(sandbox.refunds_created()) == 1
    assert done["matched_order_id"] == "gid://shopify/Order/5002"
    event = next(e for e in done["timeline"] if e["event"] == "order_resolved")
    assert (event["actor"], event["reason"]) == ("cli:ann", "receipt")


def test_the_cli_refuses_a_decision_with_one_sentence(gateway: Gateway, sandbox: Sandbox) -> None:
    parked = _ambiguous(gateway, sandbox, "CLI-2")

    refused = _cli(gateway, "approve", parked["id"])
    assert refused.returncode == 1
    assert "NOT_AWAITING_APPROVAL" in refused.stderr
    assert "Traceback" not in refused.stderr

    cancelled = _cli(gateway, "cancel", parked["id"], "--actor", "ops:bo")
    assert cancelled.returncode == 0, cancelled.stderr
    body = gateway.api.get(f"/v1/returns/{parked['id']}").json()
    assert body["status"] == "cancelled"
    assert body["timeline"][-1]["actor"] == "ops:bo"
    assert sandbox.refunds_created() == []
