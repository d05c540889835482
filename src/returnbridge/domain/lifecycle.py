"""The lifecycle of a return (DESIGN.md §3) as an explicit transition table.

The main path is received -> matched -> planned -> refunded -> restocked -> synced -> notified ->
completed. A step that does not apply is still walked through and recorded as skipped, so every
return reaches `completed` along the same path. Any unfinished state may fall to `needs_review`
or `failed`; `needs_review` resumes at the step it stopped before, `failed` restarts on retry.
Only returns whose money has not moved can be cancelled.
"""

from __future__ import annotations

from itertools import pairwise
from types import MappingProxyType

from returnbridge.domain.errors import DomainError
from returnbridge.domain.returns import ReturnStatus as S

MAIN_PATH: tuple[S, ...] = (
    S.RECEIVED,
    S.MATCHED,
    S.PLANNED,
    S.REFUNDED,
    S.RESTOCKED,
    S.SYNCED,
    S.NOTIFIED,
    S.COMPLETED,
)

_UNFINISHED = (S.RECEIVED, S.MATCHED, S.PLANNED, S.REFUNDED, S.RESTOCKED, S.SYNCED, S.NOTIFIED)
_CANCELLABLE = frozenset({S.RECEIVED, S.MATCHED, S.PLANNED})


def _table() -> dict[S, frozenset[S]]:
    table: dict[S, set[S]] = {state: set() for state in S}
    for here, nxt in pairwise(MAIN_PATH):
        table[here].add(nxt)
    for state in _UNFINISHED:
        table[state] |= {S.NEEDS_REVIEW, S.FAILED}
    for state in _CANCELLABLE:
        table[state].add(S.CANCELLED)
    # A human resolves a review: back onto the main path where work remains.
    # RESTOCKED: a return waiting on its returns system (Loop) resumes at the sync step.
    table[S.NEEDS_REVIEW] |= {S.RECEIVED, S.MATCHED, S.PLANNED, S.REFUNDED, S.RESTOCKED, S.FAILED}
    table[S.FAILED] |= {S.RECEIVED}  # operator retry starts over (steps are idempotent)
    return {state: frozenset(targets) for state, targets in table.items()}


TRANSITIONS = MappingProxyType(_table())
TERMINAL = frozenset(state for state, targets in TRANSITIONS.items() if not targets)


def can_transition(current: S | str, target: S | str) -> bool:
    return S(target) in TRANSITIONS[S(current)]


def check_transition(current: S | str, target: S | str) -> None:
    """Raise `DomainError(INVALID_TRANSITION)` unless the table allows current -> target."""
    if not can_transition(current, target):
        raise DomainError(
            "INVALID_TRANSITION", f"a return cannot go from {S(current)} to {S(target)}"
        )
