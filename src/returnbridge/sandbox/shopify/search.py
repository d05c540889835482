"""The subset of Shopify search syntax that ``orders(query:)`` understands.

Terms are separated by spaces and all must match (``AND`` is accepted and ignored); a term is
``field:value`` with an optional quoted value, ``-field:value`` negates it, and a bare word is
a case-insensitive search over name, email and SKUs. Supported fields: ``name`` (``#`` optional),
``email``, ``sku``, ``id`` (with ``>``, ``>=``, ``<``, ``<=``). Other fields are ignored and
reported as warnings, as the platform does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from returnbridge.sandbox.shopify.state import Order

_TOKEN = re.compile(r'(-?)(?:([A-Za-z_][\w.]*):)?(?:"((?:[^"\\]|\\.)*)"|(\S+))')
SUPPORTED_FIELDS = frozenset({"name", "email", "sku", "id"})


@dataclass(frozen=True, slots=True)
class Term:
    """One search term."""

    field: str | None
    value: str
    negated: bool


def parse_query(query: str) -> list[Term]:
    """Split a search string into terms."""
    terms = []
    for match in _TOKEN.finditer(query):
        negated, field, quoted, bare = match.groups()
        value = quoted.replace('\\"', '"') if quoted is not None else bare
        if field is None and value.upper() == "AND":
            continue
        terms.append(Term(field.lower() if field else None, value, negated == "-"))
    return terms


def warnings(terms: list[Term]) -> list[dict[str, str]]:
    """Warnings for fields the sandbox does not filter on."""
    return [
        {"field": t.field, "message": "Invalid search field for this query."}
        for t in terms
        if t.field is not None and t.field not in SUPPORTED_FIELDS
    ]


def _name_key(value: str) -> str:
    return value.strip().lstrip("#").lower()


def _id_matches(order: Order, value: str) -> bool:
    match = re.fullmatch(r"(>=|<=|>|<)?\s*(\d+)", value)
    if match is None:
        return False
    comparator, number = match.group(1) or "=", int(match.group(2))
    checks: dict[str, Callable[[int, int], bool]] = {
        "=": lambda a, b: a == b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }
    return checks[comparator](order.id, number)


def _term_matches(order: Order, term: Term) -> bool:
    value = term.value.lower()
    skus = [(li.sku or "").lower() for li in order.line_items]
    if term.field == "name":
        return _name_key(order.name) == _name_key(term.value)
    if term.field == "email":
        return (order.email or "").lower() == value
    if term.field == "sku":
        return value in skus
    if term.field == "id":
        return _id_matches(order, term.value)
    if term.field is not None:
        return True
    haystack = [order.name.lower(), (order.email or "").lower(), *skus]
    return any(value.lstrip("#") in text for text in haystack)


def matches(order: Order, terms: list[Term]) -> bool:
    """Whether the order satisfies every term."""
    return all(_term_matches(order, t) != t.negated for t in terms)
