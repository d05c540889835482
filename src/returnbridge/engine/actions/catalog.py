"""Discovery: each platform with its capabilities, the JSON Schema of its credentials, and
its actions with the JSON Schemas of their input and output (`GET /v1/connectors`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel

from returnbridge.connectors import registry
from returnbridge.connectors.base.connector import Capability, PlatformRefund
from returnbridge.domain.orders import Order
from returnbridge.engine.actions import models as m

OPTIONAL_CREDENTIALS: dict[str, dict[str, str]] = {
    "loop": {"webhook_secret": "secret Loop signs its webhooks with (X-Loop-Signature)"},
}
"""Credentials a platform's connection may carry beside the required ones."""


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    summary: str
    input: type[BaseModel]
    output: type[BaseModel]
    write: bool = False
    """A write changes the platform; it needs an `Idempotency-Key`."""


ACTIONS: tuple[Action, ...] = (
    Action("get_order", "Read one order by the platform's id, normalised.", m.GetOrderIn, Order),
    Action(
        "find_orders",
        "Search orders by number, customer email, SKUs and date (all given must hold).",
        m.FindOrdersIn,
        m.OrderList,
    ),
    Action(
        "list_locations",
        "The places stock can be returned to.",
        m.ListLocationsIn,
        m.LocationList,
    ),
    Action(
        "preview_refund",
        "Plan a refund to the minor unit and show the platform's own calculation beside it; "
        "nothing changes on the platform.",
        m.RefundIn,
        m.RefundPreview,
    ),
    Action(
        "create_refund",
        "Issue the planned refund once (replays of its Idempotency-Key answer the same refund).",
        m.RefundIn,
        PlatformRefund,
        write=True,
    ),
    Action("list_refunds", "The refunds recorded on an order.", m.ListRefundsIn, m.RefundList),
    Action(
        "restock",
        "Put returned goods back into stock at a location (no money moves).",
        m.RestockIn,
        m.RestockOut,
        write=True,
    ),
)
BY_NAME = {action.name: action for action in ACTIONS}


RESTOCKS = frozenset({Capability.RESTOCK, Capability.GOODS_ONLY_REFUND})


def actions_for(platform: str) -> tuple[Action, ...]:
    """The actions a platform's connections run: none for a returns system (its connection
    serves the workflows only); for a store every one, `restock` only where goods can go back
    without money (SHOPLINE restocks only inside a refund: `create_refund` with `restock`)."""
    if platform not in registry.FACTORIES:
        return ()
    restocks = bool(RESTOCKS & registry.capabilities(platform))
    return tuple(a for a in ACTIONS if a.name != "restock" or restocks)


def find_action(platform: str, name: str) -> Action | None:
    action = BY_NAME.get(name)
    return action if action in actions_for(platform) else None


def credentials_schema(platform: str) -> dict[str, Any]:
    """The JSON Schema of a platform's `credentials` object (secrets are write-only)."""
    properties: dict[str, Any] = {}
    for field in registry.credential_fields(platform):
        properties[field.name] = {
            "type": "string",
            "minLength": 1,
            "description": field.label,
            **({"writeOnly": True, "format": "password"} if field.secret else {}),
        }
    for name, label in OPTIONAL_CREDENTIALS.get(platform, {}).items():
        properties[name] = {"type": "string", "description": label, "writeOnly": True}
    return {
        "type": "object",
        "properties": properties,
        "required": [f.name for f in registry.credential_fields(platform)],
        "additionalProperties": False,
    }


@cache
def _schema(model: type[BaseModel], mode: str) -> dict[str, Any]:
    return model.model_json_schema(mode="validation" if mode == "input" else "serialization")


def describe(platform: str) -> dict[str, Any]:
    kind = "returns_system" if registry.is_returns_system(platform) else "store"
    return {
        "platform": platform,
        "kind": kind,
        "capabilities": sorted(str(c) for c in registry.capabilities(platform)),
        "credentials_schema": credentials_schema(platform),
        "actions": [
            {
                "name": action.name,
                "summary": action.summary,
                "write": action.write,
                "idempotency_key": "required" if action.write else "not_used",
                "input_schema": _schema(action.input, "input"),
                "output_schema": _schema(action.output, "output"),
            }
            for action in actions_for(platform)
        ],
    }


def catalog() -> list[dict[str, Any]]:
    return [describe(platform) for platform in registry.platforms()]
