"""Returns repository: idempotent ingest (also under concurrency), transitions, listing."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.event import listen, remove
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import Money
from returnbridge.store import returns
from returnbridge.store.clock import SteppingClock
from returnbridge.store.errors import (
    IdempotencyConflictError,
    RecordNotFoundError,
    TransitionForbiddenError,
)
from returnbridge.store.ids import SequentialIds
from returnbridge.store.returns import IngestResult
from returnbridge.store.tables import Return, ReturnRevision, TimelineEvent

if TYPE_CHECKING:
    from conftest import SeededTenant

PAYLOAD: dict[str, Any] = {
    "lines": [{"sku": "TEE-M", "quantity": 1, "reason": "too_small"}],
    "refund": {"method": "original"},
}


def ingest(
    session: Session,
    seeded: SeededTenant,
    *,
    external_id: str = "RMA-1",
    revision: int = 1,
    key: str | None = None,
    payload: dict[str, Any] | None = None,
    channel: str = "helpdesk",
    ids: SequentialIds | None = None,
    clock: Callable[[], datetime] | None = None,
) -> IngestResult:
    options: dict[str, Any] = {}
    if ids is not None:
        options["ids"] = ids
    if clock is not None:
        options["clock"] = clock
    return returns.ingest_return(
        session,
        seeded.tenant_id,
        connection_id=seeded.connection_id,
        channel=channel,
        source="api",
        external_id=external_id,
        revision=revision,
        idempotency_key=key or f"{external_id}:{revision}",
        payload=PAYLOAD if payload is None else payload,
        order_ref={"name": "#1001"},
        currency="USD",
        **options,
    )


def counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(Return)) or 0,
        session.scalar(select(func.count()).select_from(ReturnRevision)) or 0,
        session.scalar(select(func.count()).select_from(TimelineEvent)) or 0,
    )


def test_ingest_stores_return_revision_and_received_event(
    session: Session, seed_tenant: Callable[[str], SeededTenant], ids: SequentialIds
) -> None:
    seeded = seed_tenant("Acme")
    result = ingest(session, seeded, ids=ids)
    session.commit()

    assert result.outcome == "created"
    record = returns.get_return(session, result.record.id, tenant_id=seeded.tenant_id)
    assert record.id.startswith("ret_")
    assert (record.status, record.revision, record.external_id) == ("received", 1, "RMA-1")
    assert record.payload == PAYLOAD
    assert record.payload_hash == returns.payload_hash(PAYLOAD)
    events = returns.timeline(session, record.id, tenant_id=seeded.tenant_id)
    assert [(e.event, e.from_status, e.to_status, e.actor) for e in events] == [
        ("received", None, "received", "api")
    ]
    assert counts(session) == (1, 1, 1)


def test_duplicate_delivery_by_idempotency_key_returns_existing_without_writing(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    first = ingest(session, seeded, key="delivery-1")
    session.commit()
    again = ingest(session, seeded, key="delivery-1")
    session.commit()

    assert again.is_duplicate
    assert again.payload_matches
    assert again.record.id == first.record.id
    assert counts(session) == (1, 1, 1)


def test_same_external_id_and_revision_under_a_new_key_is_a_duplicate(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    first = ingest(session, seeded, key="a")
    session.commit()
    again = ingest(session, seeded, key="b", payload={**PAYLOAD, "note": "changed"})

    assert again.is_duplicate
    assert again.record.id == first.record.id
    assert not again.payload_matches
    assert counts(session) == (1, 1, 1)


def test_reusing_a_key_for_another_return_is_a_conflict(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    ingest(session, seeded, external_id="RMA-1", key="k")
    session.commit()
    with pytest.raises(IdempotencyConflictError):
        ingest(session, seeded, external_id="RMA-2", key="k")


def test_new_revision_updates_the_return_and_keeps_history(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    first = ingest(session, seeded, revision=1)
    session.commit()
    revised_payload = {**PAYLOAD, "lines": [{"sku": "TEE-M", "quantity": 2}]}
    second = ingest(session, seeded, revision=2, payload=revised_payload)
    session.commit()

    assert second.outcome == "new_revision"
    assert second.record.id == first.record.id
    record = returns.get_return(session, first.record.id, tenant_id=seeded.tenant_id)
    assert (record.revision, record.payload, record.idempotency_key) == (
        2,
        revised_payload,
        "RMA-1:2",
    )
    history = returns.return_revisions(session, record.id, tenant_id=seeded.tenant_id)
    assert [(r.revision, r.payload) for r in history] == [(1, PAYLOAD), (2, revised_payload)]
    events = returns.timeline(session, record.id, tenant_id=seeded.tenant_id)
    assert [e.event for e in events] == ["received", "revision_received"]
    assert events[1].data == {"revision": 2, "previous_revision": 1, "applied": True}


def test_late_older_revision_is_kept_but_not_applied(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    ingest(session, seeded, revision=3, payload={"v": 3})
    session.commit()
    late = ingest(session, seeded, revision=2, payload={"v": 2})
    session.commit()

    assert late.outcome == "stale_revision"
    record = returns.get_return(session, late.record.id, tenant_id=seeded.tenant_id)
    assert (record.revision, record.payload) == (3, {"v": 3})
    assert counts(session) == (1, 2, 2)


def test_tenants_never_see_each_others_returns(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    acme, globex = seed_tenant("Acme"), seed_tenant("Globex")
    mine = ingest(session, acme, external_id="RMA-1", key="same")
    theirs = ingest(session, globex, external_id="RMA-1", key="same")
    session.commit()

    assert mine.outcome == theirs.outcome == "created"
    assert mine.record.id != theirs.record.id
    with pytest.raises(RecordNotFoundError):
        returns.get_return(session, theirs.record.id, tenant_id=acme.tenant_id)
    with pytest.raises(RecordNotFoundError):
        returns.timeline(session, theirs.record.id, tenant_id=acme.tenant_id)
    with pytest.raises(RecordNotFoundError):
        returns.record_transition(
            session,
            theirs.record.id,
            tenant_id=acme.tenant_id,
            to_status="cancelled",
            event="cancelled",
            actor="api",
        )
    page = returns.list_returns(session, acme.tenant_id)
    assert [r.id for r in page.items] == [mine.record.id]
    assert returns.find_return(session, globex.tenant_id, external_id="RMA-1") is not None
    assert returns.get_return(session, theirs.record.id, tenant_id=globex.tenant_id).status == (
        "received"
    )


def test_ingest_refuses_another_tenants_connection(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    acme, globex = seed_tenant("Acme"), seed_tenant("Globex")
    borrowed = dataclasses.replace(acme, connection_id=globex.connection_id)
    with pytest.raises(RecordNotFoundError):
        ingest(session, borrowed)
    assert counts(session) == (0, 0, 0)


RACERS = 16
"""Concurrent deliveries in the race test, each on its own thread, session and connection."""


def _hold_off_writers(gate: Session, backend: str) -> None:
    """Make every ingest wait, in the gate's transaction, before it can write.

    PostgreSQL: a SHARE lock on ``returns`` lets the duplicate checks (plain and FOR UPDATE
    selects) through but holds the first insert. SQLite: the write session's BEGIN IMMEDIATE
    takes the database's write lock, so the racers queue on the busy timeout at their BEGIN.
    """
    if backend == "postgresql":
        gate.execute(text(f"LOCK TABLE {Return.__tablename__} IN SHARE MODE"))
    else:
        gate.execute(text("SELECT 1"))


@contextmanager
def _integrity_errors(engine: Engine) -> Iterator[list[BaseException]]:
    """Collect, while active, each IntegrityError the database raised to a statement."""
    seen: list[BaseException] = []

    def record(context: ExceptionContext) -> None:
        if isinstance(context.sqlalchemy_exception, IntegrityError):
            seen.append(context.original_exception)

    listen(engine, "handle_error", record)
    try:
        yield seen
    finally:
        remove(engine, "handle_error", record)


def _wait_until_blocked_on_a_lock(
    session_maker: sessionmaker[Session], backend: str, *, waiting: int = 1
) -> None:
    """On PostgreSQL, poll (bounded) until `waiting` other backends wait on a lock. SQLite:
    no-op (its lock waits are a busy loop inside the driver, invisible from outside)."""
    if backend != "postgresql":
        return
    deadline = time.monotonic() + 20
    blocked = 0
    with session_maker() as observer:
        while time.monotonic() < deadline:
            blocked = (
                observer.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
                or 0
            )
            observer.rollback()
            if blocked >= waiting:
                return
            time.sleep(0.02)
    pytest.fail(f"expected {waiting} deliveries blocked on a lock, saw {blocked}")


def test_concurrent_duplicate_deliveries_store_one_return(
    session_maker: sessionmaker[Session],
    store_engine: Engine,
    seed_tenant: Callable[[str], SeededTenant],
    db_backend: str,
) -> None:
    """Sixteen deliveries of one return, released together while writers are held off.

    On PostgreSQL all of them have passed the duplicate check before any insert runs, so the
    unique constraints alone must turn fifteen into duplicates. On SQLite they all queue on the
    write lock and each must find the return its predecessor committed.
    """
    seeded = seed_tenant("Acme")
    barrier = threading.Barrier(RACERS + 1)

    def deliver() -> IngestResult:
        with session_maker() as session:
            barrier.wait(timeout=30)
            result = ingest(session, seeded)
            session.commit()
            return result

    # Exit order matters: the gate's transaction ends before the pool waits for its threads.
    with (
        _integrity_errors(store_engine) as seen,
        ThreadPoolExecutor(max_workers=RACERS) as pool,
        session_maker() as gate,
    ):
        _hold_off_writers(gate, db_backend)
        pending = [pool.submit(deliver) for _ in range(RACERS)]
        barrier.wait(timeout=30)
        _wait_until_blocked_on_a_lock(session_maker, db_backend, waiting=RACERS)
        gate.commit()
        results = [future.result(timeout=120) for future in pending]

    assert sorted(r.outcome for r in results) == ["created"] + ["duplicate"] * (RACERS - 1)
    assert len({r.record.id for r in results}) == 1
    assert len({r.revision.id for r in results}) == 1
    with session_maker() as session:
        assert counts(session) == (1, 1, 1)
    if db_backend == "postgresql":
        # The premise of the test: every loser got past the duplicate check and was stopped
        # by a unique constraint, not by seeing the winner's row first.
        assert len(seen) == RACERS - 1, seen


@pytest.mark.parametrize(("first_revision", "second_revision"), [(1, 1), (1, 2)])
def test_delivery_racing_an_uncommitted_insert_resolves_to_one_return(
    session_maker: sessionmaker[Session],
    seed_tenant: Callable[[str], SeededTenant],
    db_backend: str,
    first_revision: int,
    second_revision: int,
) -> None:
    """The second insert hits the unique constraint only once the first commits (PostgreSQL),
    or waits for the write lock (SQLite); either way it ends up on the first one's return."""
    seeded = seed_tenant("Acme")
    with session_maker() as first_session:
        first = ingest(first_session, seeded, revision=first_revision)
        with ThreadPoolExecutor(max_workers=1) as pool:

            def second_delivery() -> IngestResult:
                with session_maker() as session:
                    result = ingest(session, seeded, revision=second_revision)
                    session.commit()
                    return result

            pending = pool.submit(second_delivery)
            _wait_until_blocked_on_a_lock(session_maker, db_backend)
            first_session.commit()
            second = pending.result(timeout=60)

    assert first.outcome == "created"
    assert second.record.id == first.record.id
    expected = "duplicate" if second_revision == first_revision else "new_revision"
    assert second.outcome == expected
    with session_maker() as session:
        revisions = 1 if second_revision == first_revision else 2
        assert counts(session) == (1, revisions, revisions)


def test_transition_writes_status_and_timeline_event_together(
    session: Session, seed_tenant: Callable[[str], SeededTenant], clock: SteppingClock
) -> None:
    seeded = seed_tenant("Acme")
    created = ingest(session, seeded, clock=clock)
    event = returns.record_transition(
        session,
        created.record.id,
        tenant_id=seeded.tenant_id,
        to_status="matched",
        event="order_matched",
        actor="engine",
        reason="matched by order name",
        data={"order_id": "gid://shopify/Order/1"},
        clock=clock,
    )
    session.commit()

    record = returns.get_return(session, created.record.id, tenant_id=seeded.tenant_id)
    assert record.status == "matched"
    assert record.updated_at == event.at
    assert (event.from_status, event.to_status, event.reason, event.data) == (
        "received",
        "matched",
        "matched by order name",
        {"order_id": "gid://shopify/Order/1"},
    )


def test_transition_the_lifecycle_forbids_writes_nothing(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    created = ingest(session, seeded)
    session.commit()

    def allowed(from_status: str, to_status: str) -> bool:
        return (from_status, to_status) == ("received", "matched")

    with pytest.raises(TransitionForbiddenError) as raised:
        returns.record_transition(
            session,
            created.record.id,
            tenant_id=seeded.tenant_id,
            to_status="refunded",
            event="refund_created",
            actor="engine",
            allowed=allowed,
        )
    assert raised.value.details["from_status"] == "received"
    session.rollback()
    assert returns.get_return(session, created.record.id, tenant_id=seeded.tenant_id).status == (
        "received"
    )
    assert len(returns.timeline(session, created.record.id, tenant_id=seeded.tenant_id)) == 1
    returns.record_transition(
        session,
        created.record.id,
        tenant_id=seeded.tenant_id,
        to_status="matched",
        event="order_matched",
        actor="engine",
        allowed=allowed,
    )


def test_rolled_back_transition_leaves_no_event(
    session_maker: sessionmaker[Session], seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    with session_maker.begin() as session:
        return_id = ingest(session, seeded).record.id
    with session_maker() as session:
        returns.record_transition(
            session,
            return_id,
            tenant_id=seeded.tenant_id,
            to_status="matched",
            event="order_matched",
            actor="engine",
        )
        session.rollback()
    with session_maker() as session:
        assert returns.get_return(session, return_id, tenant_id=seeded.tenant_id).status == (
            "received"
        )
        assert len(returns.timeline(session, return_id, tenant_id=seeded.tenant_id)) == 1


def test_timeline_lists_events_in_the_order_they_were_written(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    # A clock that runs backwards: order must come from writes, not timestamps.
    instants = iter(datetime(2026, 1, 1, tzinfo=UTC) - timedelta(minutes=n) for n in range(10))
    backwards = instants.__next__
    return_id = ingest(session, seeded, clock=backwards).record.id
    steps = [("matched", "order_matched"), ("planned", "plan_computed")]
    for status, event in steps:
        returns.record_transition(
            session,
            return_id,
            tenant_id=seeded.tenant_id,
            to_status=status,
            event=event,
            actor="engine",
            clock=backwards,
        )
    returns.record_event(
        session,
        return_id,
        tenant_id=seeded.tenant_id,
        event="step_skipped",
        actor="engine",
        reason="no restock for refund-only returns",
        clock=backwards,
    )
    session.commit()

    events = returns.timeline(session, return_id, tenant_id=seeded.tenant_id)
    assert [e.event for e in events] == [
        "received",
        "order_matched",
        "plan_computed",
        "step_skipped",
    ]
    assert (events[-1].from_status, events[-1].to_status) == ("planned", "planned")


def test_matching_results_are_stored_on_the_return(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    return_id = ingest(session, seeded).record.id
    candidates = [{"id": "gid://shopify/Order/1", "name": "#1001"}, {"id": "2", "name": "#1002"}]
    returns.set_candidates(session, return_id, tenant_id=seeded.tenant_id, candidates=candidates)
    returns.set_matched_order(
        session, return_id, tenant_id=seeded.tenant_id, order_id="2", order_name="#1002"
    )
    returns.set_refund_total(
        session, return_id, tenant_id=seeded.tenant_id, total=Money(1999, "EUR")
    )
    returns.set_workflow_id(session, return_id, tenant_id=seeded.tenant_id, workflow_id="wf-1")
    session.commit()
    session.expunge_all()

    record = returns.get_return(session, return_id, tenant_id=seeded.tenant_id)
    assert record.candidates == candidates
    assert (record.matched_order_id, record.matched_order_name) == ("2", "#1002")
    assert (record.refund_total, record.currency, record.workflow_id) == (1999, "EUR", "wf-1")


def _seed_returns(
    session: Session, seeded: SeededTenant, clock: Callable[[], datetime], count: int
) -> list[str]:
    ids = []
    for n in range(count):
        channel = "helpdesk" if n % 2 == 0 else "marketplace"
        ids.append(
            ingest(session, seeded, external_id=f"RMA-{n}", channel=channel, clock=clock).record.id
        )
    session.commit()
    return ids


def _all_pages(session: Session, tenant_id: str, **filters: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = returns.list_returns(session, tenant_id, cursor=cursor, **filters)
        pages.append([r.id for r in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_cursor_pagination_walks_every_return_once_in_creation_order(
    session: Session, seed_tenant: Callable[[str], SeededTenant], clock: SteppingClock
) -> None:
    seeded = seed_tenant("Acme")
    created = _seed_returns(session, seeded, clock, 7)
    ingest(session, seed_tenant("Globex"), external_id="RMA-other")
    session.commit()

    assert _all_pages(session, seeded.tenant_id, limit=3) == [
        created[0:3],
        created[3:6],
        created[6:7],
    ]
    newest = _all_pages(session, seeded.tenant_id, limit=3, newest_first=True)
    assert [i for page in newest for i in page] == created[::-1]


def test_pagination_breaks_ties_on_equal_timestamps_by_id(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    frozen = SteppingClock(datetime(2026, 2, 1, tzinfo=UTC), step=timedelta(0))
    ids = SequentialIds(start=1000)
    for n in range(5):
        ingest(session, seeded, external_id=f"RMA-{n}", clock=frozen, ids=ids)
    session.commit()

    pages = _all_pages(session, seeded.tenant_id, limit=2)
    flat = [i for page in pages for i in page]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert flat == sorted(flat)
    assert len(set(flat)) == 5


def test_list_filters_by_status_channel_and_created_range(
    session: Session, seed_tenant: Callable[[str], SeededTenant], clock: SteppingClock
) -> None:
    seeded = seed_tenant("Acme")
    start = clock()
    created = _seed_returns(session, seeded, clock, 6)
    returns.record_transition(
        session,
        created[1],
        tenant_id=seeded.tenant_id,
        to_status="needs_review",
        event="no_order_found",
        actor="engine",
    )
    session.commit()

    def listed(**filters: Any) -> list[str]:
        return [r.id for r in returns.list_returns(session, seeded.tenant_id, **filters).items]

    assert listed(status="needs_review") == [created[1]]
    assert listed(status=["received", "needs_review"]) == created
    assert listed(channel="marketplace") == created[1::2]
    assert listed(channel="marketplace", status="received") == [created[3], created[5]]
    # The seed clock ticks once per return after `start`: [from, to) selects returns 2 and 3.
    window = {
        "created_from": start + timedelta(seconds=3),
        "created_to": start + timedelta(seconds=5),
    }
    assert listed(**window) == created[2:4]


def test_malformed_cursor_and_limit_are_rejected(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    with pytest.raises(DomainError) as bad_cursor:
        returns.list_returns(session, seeded.tenant_id, cursor="not-a-cursor")
    assert bad_cursor.value.code == "INVALID_CURSOR"
    with pytest.raises(DomainError):
        returns.list_returns(session, seeded.tenant_id, limit=0)


def test_cursor_round_trips() -> None:
    at = datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    cursor = returns.encode_cursor(at, "ret_1", newest_first=True)
    assert returns.decode_cursor(cursor) == (at, "ret_1", True)
