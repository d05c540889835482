"""Deciding which order a return belongs to, and which order lines it names.

The connector finds candidates; this module scores them. Every clue the vendor gave (order
name with the store's prefix/suffix variants, email, phone, postal code, SKUs, the request date)
adds points with a reason, or rules a candidate out when it contradicts the clue. The best
candidate is the match only when it reaches the connection's threshold and no other candidate
comes within the tie margin; otherwise a human decides (`needs_review`) with every candidate,
its score and its reasons. docs/matching.md lists the points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from returnbridge.domain.errors import DomainError
from returnbridge.domain.orders import Order, OrderLine, OrderSummary
from returnbridge.domain.returns import OrderReference, ReturnLine

MAX_SCORE = 100
# Points per clue (docs/matching.md). A platform id is proof; a name is nearly so; an email
# alone is enough for a single candidate; SKUs, phone and postal code tell candidates apart.
POINTS_ID = 100
POINTS_NAME = 60
POINTS_NAME_VARIANT = 55
POINTS_EMAIL = 40
POINTS_PHONE = 30
POINTS_SKUS = 30
POINTS_POSTAL = 15
PENALTY_PHONE = -20
PENALTY_POSTAL = -10
PENALTY_OUTSIDE_WINDOW = -20
CLOCK_SKEW = timedelta(days=1)
"""An order placed this long after the request still counts as placed before it."""

DEFAULT_THRESHOLD = POINTS_EMAIL
DEFAULT_TIE_MARGIN = 10
DEFAULT_DATE_WINDOW_DAYS = 365


def normalise_order_name(name: str) -> str:
    """'#1001', '1001' and ' #1001 ' all name the same order."""
    return name.strip().lstrip("#").strip().casefold()


def normalise_email(email: str) -> str:
    return email.strip().casefold()


def normalise_phone(phone: str) -> str:
    """Digits only, at most the last 10: '+1 (555) 010-0199' and '555 010 0199' agree."""
    return re.sub(r"\D", "", phone)[-10:]


def normalise_postal_code(code: str) -> str:
    """'SW1A 1AA' and 'sw1a1aa' are the same postal code."""
    return re.sub(r"[\s-]", "", code).casefold()


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """A connection's matching options (`connections.settings`, docs/matching.md)."""

    threshold: int = DEFAULT_THRESHOLD
    tie_margin: int = DEFAULT_TIE_MARGIN
    name_prefixes: tuple[str, ...] = ()
    name_suffixes: tuple[str, ...] = ()
    date_window_days: int = DEFAULT_DATE_WINDOW_DAYS

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> MatchPolicy:
        """Read `match_threshold`, `match_tie_margin`, `order_name_prefix`, `order_name_suffix`
        and `match_date_window_days`; anything absent keeps its default."""
        settings = settings or {}
        return cls(
            threshold=_setting_int(settings, "match_threshold", DEFAULT_THRESHOLD, 0, MAX_SCORE),
            tie_margin=_setting_int(settings, "match_tie_margin", DEFAULT_TIE_MARGIN, 0, MAX_SCORE),
            name_prefixes=_setting_strings(settings, "order_name_prefix"),
            name_suffixes=_setting_strings(settings, "order_name_suffix"),
            date_window_days=_setting_int(
                settings, "match_date_window_days", DEFAULT_DATE_WINDOW_DAYS, 1, 3650
            ),
        )


def _setting_int(settings: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DomainError(
            "INVALID_SETTING",
            f"connection setting {key} must be an integer {low}..{high}",
            field=key,
        )
    return value


def _setting_strings(settings: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = settings.get(key)
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise DomainError(
            "INVALID_SETTING",
            f"connection setting {key} must be a string or a list of strings",
            field=key,
        )
    return tuple(values)


def order_number_core(name: str, policy: MatchPolicy) -> str:
    """The order number without '#' and without the store's prefix or suffix, normalised."""
    core = normalise_order_name(name)
    for prefix in sorted(policy.name_prefixes, key=len, reverse=True):
        folded = normalise_order_name(prefix)
        if folded and core.startswith(folded) and len(core) > len(folded):
            core = core[len(folded) :]
            break
    for suffix in sorted(policy.name_suffixes, key=len, reverse=True):
        folded = suffix.strip().casefold()
        if folded and core.endswith(folded) and len(core) > len(folded):
            core = core[: -len(folded)]
            break
    return core


def order_name_variants(name: str, policy: MatchPolicy) -> tuple[str, ...]:
    """The names a store may give the order the vendor calls `name`, for one search.

    '1001' with prefix 'EU-' and suffix '-A' gives '1001', '#1001', 'EU-1001', 'EU-1001-A',
    '1001-A' (and the name as written). Shopify's name search is loose, so every hit is still
    checked exactly (`score_candidate`).
    """
    core = order_number_core(name, policy)
    prefixes = ("", "#", *policy.name_prefixes)
    suffixes = ("", *policy.name_suffixes)
    variants = [name.strip()] + [f"{p}{core}{s}" for p in prefixes for s in suffixes]
    return tuple(dict.fromkeys(v for v in variants if v.lstrip("#")))


@dataclass(frozen=True, slots=True)
class Reason:
    """One clue's verdict on a candidate: points added (or taken) and why."""

    clue: str
    points: int
    text: str

    def __str__(self) -> str:
        return f"{self.points:+d} {self.text}"


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    """A search hit with its score (0..100) and the reasons for it.

    `ruled_out` names the clue it contradicts; such a candidate is shown but never chosen.
    """

    order: OrderSummary
    score: int
    reasons: tuple[Reason, ...]
    ruled_out: str | None = None

    @property
    def viable(self) -> bool:
        return self.ruled_out is None


@dataclass(frozen=True, slots=True)
class MatchClues:
    """What the vendor told us about the order, beyond the reference itself."""

    skus: tuple[str, ...] = ()
    requested_at: datetime | None = None


def score_candidate(
    reference: OrderReference,
    candidate: OrderSummary,
    *,
    clues: MatchClues = MatchClues(),
    policy: MatchPolicy = MatchPolicy(),
) -> ScoredCandidate:
    """Score one candidate against every clue given; a contradicted name or email rules it out."""
    reasons: list[Reason] = []
    ruled_out: str | None = None

    def rule_out(clue: str, text: str) -> None:
        nonlocal ruled_out
        reasons.append(Reason(clue, 0, text))
        ruled_out = ruled_out or clue

    if reference.platform_order_id:
        if candidate.id == reference.platform_order_id:
            reasons.append(Reason("id", POINTS_ID, f"platform order id is {candidate.id}"))
        else:
            rule_out("id", f"platform order id {candidate.id} is not {reference.platform_order_id}")
    if reference.order_number:
        _score_name(reference.order_number, candidate, policy, reasons, rule_out)
    if reference.customer_email:
        wanted = normalise_email(reference.customer_email)
        if candidate.email and normalise_email(candidate.email) == wanted:
            reasons.append(Reason("email", POINTS_EMAIL, f"customer email is {candidate.email}"))
        else:
            rule_out("email", f"customer email {candidate.email or 'missing'} is not {wanted}")
    if reference.customer_phone and candidate.phone:
        if normalise_phone(candidate.phone) == normalise_phone(reference.customer_phone):
            reasons.append(Reason("phone", POINTS_PHONE, f"phone {candidate.phone} agrees"))
        else:
            reasons.append(Reason("phone", PENALTY_PHONE, f"phone {candidate.phone} differs"))
    if reference.postal_code and candidate.postal_code:
        if normalise_postal_code(candidate.postal_code) == normalise_postal_code(
            reference.postal_code
        ):
            reasons.append(
                Reason("postal_code", POINTS_POSTAL, f"postal code {candidate.postal_code} agrees")
            )
        else:
            reasons.append(
                Reason(
                    "postal_code", PENALTY_POSTAL, f"postal code {candidate.postal_code} differs"
                )
            )
    if clues.skus:
        reasons.append(_score_skus(clues.skus, candidate))
    if clues.requested_at and candidate.created_at:
        _score_date(clues.requested_at, candidate.created_at, policy, reasons, rule_out)
    score = max(0, min(MAX_SCORE, sum(r.points for r in reasons)))
    return ScoredCandidate(candidate, 0 if ruled_out else score, tuple(reasons), ruled_out)


def _score_name(
    wanted: str,
    candidate: OrderSummary,
    policy: MatchPolicy,
    reasons: list[Reason],
    rule_out: Callable[[str, str], None],
) -> None:
    name = candidate.name or ""
    if name and normalise_order_name(name) == normalise_order_name(wanted):
        reasons.append(Reason("name", POINTS_NAME, f"order name {name} is the reference {wanted}"))
    elif name and order_number_core(name, policy) == order_number_core(wanted, policy):
        reasons.append(
            Reason(
                "name",
                POINTS_NAME_VARIANT,
                f"order name {name} is {wanted} with the store's prefix or suffix",
            )
        )
    else:
        rule_out("name", f"order name {name or 'missing'} is not {wanted}")


def _score_skus(skus: tuple[str, ...], candidate: OrderSummary) -> Reason:
    asked = set(skus)
    found = asked & set(candidate.skus)
    if not candidate.skus_complete and found != asked:
        # The missing SKUs may sit on lines the search did not read: not held against it.
        return Reason(
            "skus", POINTS_SKUS, f"{len(found)} of {len(asked)} SKUs seen; not all lines were read"
        )
    points = POINTS_SKUS * len(found) // len(asked)
    return Reason("skus", points, f"{len(found)} of {len(asked)} returned SKUs are on the order")


def _score_date(
    requested_at: datetime,
    created_at: datetime,
    policy: MatchPolicy,
    reasons: list[Reason],
    rule_out: Callable[[str, str], None],
) -> None:
    if created_at > requested_at + CLOCK_SKEW:
        rule_out("date", f"placed {created_at.date()}, after the return was requested")
        return
    days = max(0, (requested_at - created_at).days)
    if days > policy.date_window_days:
        reasons.append(
            Reason(
                "date",
                PENALTY_OUTSIDE_WINDOW,
                f"placed {days} days before the request, outside the"
                f" {policy.date_window_days}-day window",
            )
        )
    else:
        reasons.append(Reason("date", 0, f"placed {days} days before the request"))


@dataclass(frozen=True, slots=True)
class MatchDecision:
    """Outcome of matching: an order id, or the reason a human must decide.

    `candidates` are the orders still in the running (every hit when none is); `scored` holds
    every hit with its score and reasons, best first; `detail` says how the scores decided.
    """

    order_id: str | None
    reason: str
    candidates: tuple[OrderSummary, ...] = field(default=())
    scored: tuple[ScoredCandidate, ...] = field(default=())
    detail: str = ""

    @property
    def matched(self) -> bool:
        return self.order_id is not None


def decide_match(
    reference: OrderReference,
    candidates: list[OrderSummary],
    *,
    skus: tuple[str, ...] = (),
    requested_at: datetime | None = None,
    policy: MatchPolicy = MatchPolicy(),
) -> MatchDecision:
    """Score every hit; match the best only above the threshold and clear of a near tie."""
    clues = MatchClues(skus=skus, requested_at=requested_at)
    scored = [score_candidate(reference, c, clues=clues, policy=policy) for c in candidates]
    ranked = tuple(sorted(scored, key=lambda s: (not s.viable, -s.score)))
    viable = [s for s in ranked if s.viable]
    if not viable:
        return MatchDecision(
            None, "no order matches the reference", tuple(candidates), ranked, "no candidate"
        )
    best = viable[0]
    survivors = tuple(s.order for s in viable)
    if best.score < policy.threshold:
        detail = f"best score {best.score} is below the threshold {policy.threshold}"
        reason = (
            f"the only candidate scores {best.score}, below the threshold {policy.threshold}"
            if len(viable) == 1
            else f"{len(viable)} orders match the reference; {detail}"
        )
        return MatchDecision(None, reason, survivors, ranked, detail)
    if len(viable) == 1:
        detail = f"score {best.score} reaches the threshold {policy.threshold}"
        return MatchDecision(best.order.id, "single candidate", survivors, ranked, detail)
    runner_up = viable[1]
    lead = best.score - runner_up.score
    if lead < policy.tie_margin or lead == 0:
        detail = (
            f"scores {best.score} and {runner_up.score} are within the tie margin"
            f" {policy.tie_margin}"
        )
        return MatchDecision(
            None, f"{len(viable)} orders match the reference", survivors, ranked, detail
        )
    detail = f"score {best.score} leads the next candidate by {lead}"
    return MatchDecision(best.order.id, "best candidate", survivors, ranked, detail)


@dataclass(frozen=True, slots=True)
class ResolvedLine:
    """A return line pinned to one order line."""

    line: OrderLine
    quantity: int
    source: ReturnLine


def resolve_lines(order: Order, lines: tuple[ReturnLine, ...]) -> list[ResolvedLine]:
    """Pin each return line to an order line, by platform line id or by SKU.

    A SKU that appears on several lines is taken from the first line with enough units left;
    a line that cannot be pinned raises `DomainError(UNRESOLVED_LINE)` (a human decides).
    """
    taken: dict[str, int] = {}
    resolved: list[ResolvedLine] = []
    for index, item in enumerate(lines):
        line = _find_line(order, item, taken)
        if line is None:
            what = f"line id {item.line_id}" if item.line_id else f"sku {item.sku}"
            raise DomainError(
                "UNRESOLVED_LINE",
                f"lines[{index}]: {what} is not on order {order.name or order.id}"
                " with enough returnable units",
                field=f"lines[{index}]",
            )
        taken[line.id] = taken.get(line.id, 0) + item.quantity
        resolved.append(ResolvedLine(line=line, quantity=item.quantity, source=item))
    return resolved


def _find_line(order: Order, item: ReturnLine, taken: dict[str, int]) -> OrderLine | None:
    def remaining(line: OrderLine) -> int:
        return line.quantity - line.already_returned_quantity - taken.get(line.id, 0)

    if item.line_id:
        line = order.line(item.line_id)
        return line if line is not None and remaining(line) >= item.quantity else None
    for line in order.line_items:
        if item.sku and line.sku == item.sku and remaining(line) >= item.quantity:
            return line
    return None
