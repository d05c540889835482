"""Every GraphQL document the Shopify connector sends validates against the official schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from returnbridge.connectors.shopify.client import document_names, is_mutation, load_document

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2].parent / "shared/specs/shopify/2026-01.schema.graphql"
)
EXPECTED = {"Locations", "Order", "OrderRefunds", "OrdersSearch", "RefundCreate", "SuggestedRefund"}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    if not SCHEMA_PATH.is_file():
        pytest.skip(f"official schema not found at {SCHEMA_PATH}")
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"), assume_valid=True)


def test_package_ships_every_expected_document() -> None:
    assert set(document_names()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_document_validates_against_official_schema(schema: GraphQLSchema, name: str) -> None:
    errors = validate(schema, parse(load_document(name)))
    assert errors == [], [e.message for e in errors]


def test_refund_create_is_the_only_mutation_and_is_idempotent() -> None:
    assert [n for n in sorted(EXPECTED) if is_mutation(n)] == ["RefundCreate"]
    assert "@idempotent(key: $idempotencyKey)" in load_document("RefundCreate")


def test_unknown_document_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        load_document("NoSuchDocument")
