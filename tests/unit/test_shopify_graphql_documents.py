"""Every GraphQL document the Shopify connector sends validates against the official schema.

The schema is the repo's reduced copy of Shopify's Admin API 2026-01 SDL (specs/README.md).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from returnbridge.connectors.shopify.client import document_names, is_mutation, load_document

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "specs" / "shopify" / "2026-01.schema.graphql"
EXPECTED = {
    "Locations",
    "Order",
    "OrderRefunds",
    "OrderReturns",
    "OrdersSearch",
    "RefundCreate",
    "Return",
    "ReturnCreate",
    "ReturnProcess",
    "SuggestedRefund",
}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"), assume_valid=True)


def test_package_ships_every_expected_document() -> None:
    assert set(document_names()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_document_validates_against_official_schema(schema: GraphQLSchema, name: str) -> None:
    errors = validate(schema, parse(load_document(name)))
    assert errors == [], [e.message for e in errors]


def test_refund_create_is_the_only_idempotent_mutation() -> None:
    # returnCreate/returnProcess are not documented as idempotent in 2026-01: the connector
    # finds its return by the key in returnReasonNote instead (connectors/shopify/returns.py)
    mutations = [n for n in sorted(EXPECTED) if is_mutation(n)]
    assert mutations == ["RefundCreate", "ReturnCreate", "ReturnProcess"]
    assert "@idempotent(key: $idempotencyKey)" in load_document("RefundCreate")
    assert "@idempotent" not in load_document("ReturnCreate")
    assert "@idempotent" not in load_document("ReturnProcess")


def test_unknown_document_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        load_document("NoSuchDocument")


def test_schema_copy_is_the_reducers_output() -> None:
    """The copy has no descriptions left: reducing it again changes nothing."""
    spec = importlib.util.spec_from_file_location("specs_reduce", REPO_ROOT / "specs/reduce.py")
    assert spec is not None
    assert spec.loader is not None
    reducer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reducer)
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    assert reducer.reduce_sdl(text) == text
