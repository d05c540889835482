"""Idempotency claims of Connectivity API writes, on SQLite and PostgreSQL: a key is claimed
once, replayed when done, refused for another request, busy while running, taken over when
stale, and freed when the platform was unreachable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from returnbridge.store import action_calls
from returnbridge.store.clock import SteppingClock


def test_a_key_is_claimed_once_then_replayed_refused_or_taken_over(
    session_maker: sessionmaker[Session],
    seed_tenant: Callable[..., Any],
    clock: SteppingClock,
) -> None:
    tenant = seed_tenant("Acme")
    digest = action_calls.request_hash(tenant.connection_id, "create_refund", {"order_id": "1"})
    other = action_calls.request_hash(tenant.connection_id, "create_refund", {"order_id": "2"})
    assert digest != other

    def claim(key: str, request: str = digest) -> action_calls.Claim:
        with session_maker.begin() as session:
            return action_calls.claim(
                session,
                tenant_id=tenant.tenant_id,
                connection_id=tenant.connection_id,
                action="create_refund",
                key=key,
                digest=request,
                clock=clock,
            )

    first = claim("k1")
    assert first.kind == "new"
    assert claim("k1").kind == "running"
    assert claim("k1", other).kind == "mismatch"
    with session_maker.begin() as session:
        action_calls.finish(
            session, first.call.id, status_code=201, response={"id": "r1"}, clock=clock
        )
    done = claim("k1")
    assert (done.kind, done.call.response, done.call.status_code) == ("done", {"id": "r1"}, 201)
    assert claim("k1", other).kind == "mismatch"

    stuck = claim("k2")
    assert claim("k2").kind == "running"
    clock.advance(action_calls.STALE_AFTER + timedelta(seconds=1))
    taken = claim("k2")
    assert taken.kind == "stale"
    assert taken.call.id == stuck.call.id  # the same claim, taken over
    assert claim("k2").kind == "running"  # and fresh again

    freed = claim("k3")
    with session_maker.begin() as session:
        action_calls.release(session, freed.call.id)
    assert claim("k3").kind == "new"
