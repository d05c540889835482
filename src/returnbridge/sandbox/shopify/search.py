"""The subset of Shopify search syntax that ``orders(query:)`` understands.

Terms are ``field:value`` (the value may be quoted) or bare words; terms side by side must all
match (``AND`` may be written), ``OR`` offers alternatives, ``NOT`` or a leading ``-`` negates, and
parentheses group. A bare word is a case-insensitive search over name, email and SKUs. Supported
fields: ``name`` (``#`` optional), ``email``, ``sku``, ``id`` (with ``>``, ``>=``, ``<``, ``<=``),
``financial_status`` (the display financial status in lower case: ``paid``,
``partially_refunded``, ``refunded``, ...), ``status`` (``open``, ``closed``, ``cancelled``,
``not_closed``, ``any``), ``created_at`` and ``updated_at`` (a date ``2024-01-31`` or an
ISO 8601 time, optionally quoted, with the same comparators; a bare date compares whole days,
in UTC here where the platform uses the shop's time zone). Other fields match everything and
are reported as warnings, as the platform does.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from returnbridge.sandbox.shopify.state import Order

_TOKEN = re.compile(
    r'\(|\)|-?[A-Za-z_][\w.]*:(?:"(?:[^"\\]|\\.)*"|[^\s()]*)|-?"(?:[^"\\]|\\.)*"|[^\s()]+'
)
SUPPORTED_FIELDS = frozenset(
    {"name", "email", "sku", "id", "created_at", "updated_at", "financial_status", "status"}
)


class SearchSyntaxError(ValueError):
    """A query string the parser cannot read (unbalanced parentheses)."""


@dataclass(frozen=True, slots=True)
class Term:
    """One ``field:value`` or bare-word term."""

    field: str | None
    value: str

    def matches(self, order: Order) -> bool:
        """Whether the order satisfies the term."""
        return _term_matches(order, self)


@dataclass(frozen=True, slots=True)
class Not:
    """A negated expression."""

    inner: Expression

    def matches(self, order: Order) -> bool:
        """Whether the order fails the inner expression."""
        return not self.inner.matches(order)


@dataclass(frozen=True, slots=True)
class All:
    """Expressions that must all match."""

    parts: tuple[Expression, ...]

    def matches(self, order: Order) -> bool:
        """Whether every part matches."""
        return all(p.matches(order) for p in self.parts)


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Alternatives joined by ``OR``."""

    parts: tuple[Expression, ...]

    def matches(self, order: Order) -> bool:
        """Whether some part matches."""
        return any(p.matches(order) for p in self.parts)


Expression = Term | Not | All | AnyOf


def _unquote(text: str) -> str:
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('\\"', '"')
    return text


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _TOKEN.findall(query)
        self.position = 0
        self.terms: list[Term] = []

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        word = self.tokens[self.position]
        self.position += 1
        return str(word)

    def alternatives(self) -> Expression:
        parts = [self.conjunction()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def conjunction(self) -> Expression:
        parts: list[Expression] = []
        while (word := self.peek()) is not None and word not in {")", "OR"}:
            if word == "AND":
                self.take()
                continue
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def unary(self) -> Expression:
        word = self.take()
        if word == "NOT":
            return Not(self.unary())
        if word == "(":
            inner = self.alternatives()
            if self.peek() != ")":
                msg = "unbalanced parentheses"
                raise SearchSyntaxError(msg)
            self.take()
            return inner
        if word.startswith("-") and len(word) > 1:
            return Not(self.term(word[1:]))
        return self.term(word)

    def term(self, word: str) -> Term:
        field, colon, value = word.partition(":")
        if colon and not field.startswith('"'):
            term = Term(field.lower(), _unquote(value))
        else:
            term = Term(None, _unquote(word))
        self.terms.append(term)
        return term


def parse_query(query: str) -> tuple[Expression, list[Term]]:
    """The expression of a search string and the terms it contains."""
    parser = _Parser(query)
    expression = parser.alternatives()
    if parser.peek() is not None:
        msg = "unbalanced parentheses"
        raise SearchSyntaxError(msg)
    return expression, parser.terms


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


_COMPARATORS: dict[str, Callable[[str, str], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _instant(text: str) -> str | None:
    """A date or time as a sortable UTC string: the day alone for a bare date."""
    text = text.strip().strip("'\"")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _date_matches(stamp: str, value: str) -> bool:
    match = re.fullmatch(r"(>=|<=|>|<)?\s*(.+)", value.strip())
    if match is None:
        return False
    wanted = _instant(match.group(2))
    have = _instant(stamp)
    if wanted is None or have is None:
        return False
    if len(wanted) == len("2024-01-31"):
        have = have[: len(wanted)]
    return _COMPARATORS[match.group(1) or "="](have, wanted)


def _status_matches(order: Order, value: str) -> bool:
    """``status:`` open (neither closed nor cancelled), closed, cancelled, not_closed, any."""
    closed = order.closed_at is not None
    cancelled = order.cancelled_at is not None
    return {
        "open": not closed and not cancelled,
        "closed": closed,
        "cancelled": cancelled,
        "not_closed": not closed,
        "any": True,
    }.get(value, False)


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
    if term.field == "financial_status":
        return order.financial_status.lower() == value
    if term.field == "status":
        return _status_matches(order, value)
    if term.field in {"created_at", "updated_at"}:
        stamp = order.created_at if term.field == "created_at" else order.updated_at
        return _date_matches(stamp, term.value)
    if term.field is not None:
        return True
    haystack = [order.name.lower(), (order.email or "").lower(), *skus]
    return any(value.lstrip("#") in text for text in haystack)


def matches(order: Order, expression: Expression | None) -> bool:
    """Whether the order satisfies the expression (an empty query matches everything)."""
    return expression is None or expression.matches(order)
