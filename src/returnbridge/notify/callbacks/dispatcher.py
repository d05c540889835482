"""Turning status changes into callbacks and delivering them, one round at a time.

A round first scans the timeline of each subscription's tenant since its cursor (less
`LATE_COMMIT`, for transactions that committed late) and inserts the missing deliveries;
then it leases the due deliveries (so no other worker sends them meanwhile), sends each one
signed, logs the attempt, and schedules the next one on failure (`schedule.py`). An endpoint
whose attempts keep failing (`DisablePolicy`) is disabled; its deliveries wait, pending,
until the tenant enables it again. A delivery's `webhook-id` is the same on every attempt
and replay, so the receiver can drop repeats.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from returnbridge.notify.callbacks import payload
from returnbridge.notify.callbacks.schedule import DisablePolicy, next_attempt_at
from returnbridge.notify.callbacks.sender import post
from returnbridge.observability import get_logger
from returnbridge.standard_webhooks import sign
from returnbridge.store import callbacks as store
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.ids import new_id
from returnbridge.store.tables import CallbackDelivery, CallbackSubscription

log = get_logger(__name__)

LEASE = timedelta(minutes=5)
"""A claimed delivery is not due again for this long: far longer than an attempt takes."""
SEND_BUDGET = LEASE / 4
"""An endpoint's callbacks of one round stop being sent after this long (the rest stay
leased and wait for a later round), so none is sent after its lease ran out."""


@dataclass(frozen=True, slots=True)
class _Claimed:
    delivery_id: str
    subscription_id: str
    url: str
    secrets: tuple[str, ...]
    """The current signing secret, and the previous one while a rotation overlaps."""
    message_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Round:
    created: int
    delivered: int
    failed: int


@dataclass
class CallbackDispatcher:
    sessions: sessionmaker[Session]
    cipher: CredentialCipher
    allow_private: bool = False
    disable: DisablePolicy = field(default_factory=DisablePolicy)
    timeout: float = 10.0
    rng: random.Random = field(default_factory=random.Random)
    client: httpx.Client | None = None
    reads: sessionmaker[Session] | None = None
    """Read-only sessions (never wait for a writer); default: `sessions`."""
    parallel: int = 8
    """Endpoints sent to at once in a round."""
    scan_limit: int = 500
    """Status changes a round records per subscription at most (the rest in later rounds)."""

    def _reader(self) -> Session:
        return (self.reads or self.sessions)()

    def run_round(self, now: datetime) -> Round:
        with self._reader() as session:
            if not store.any_subscription(session):
                return Round(0, 0, 0)  # the common case: one indexed look a tick
        created = self.scan(now)
        delivered, failed = self.deliver(now)
        return Round(created, delivered, failed)

    def scan(self, now: datetime) -> int:
        """Insert a delivery for every new status change each subscription wants (a disabled
        one's wait, pending, until it is enabled again). Reads first: the write (which holds
        SQLite's write lock) happens only when there is something new."""
        work: list[tuple[str, list[dict[str, Any]], datetime]] = []
        with self._reader() as session:
            for subscription in store.all_subscriptions(session):
                found = self._new_deliveries(session, subscription)
                if found is not None:
                    work.append((subscription.id, *found))
        if not work:
            return 0
        with self.sessions.begin() as session:
            for subscription_id, rows, newest in work:
                row = session.get(CallbackSubscription, subscription_id)
                if row is None:
                    continue  # deleted since the read
                store.add_deliveries(session, rows)
                row.cursor_at = max(row.cursor_at, newest)
        return sum(len(rows) for _, rows, _ in work)

    def _new_deliveries(
        self, session: Session, subscription: CallbackSubscription
    ) -> tuple[list[dict[str, Any]], datetime] | None:
        """The deliveries to record for `subscription` and its new cursor; None: nothing."""
        since = max(subscription.created_at, subscription.cursor_at - store.LATE_COMMIT)
        statuses = {t.removeprefix("return.") for t in subscription.event_types or ()}
        changes = store.undelivered_changes(
            session, subscription, since=since, statuses=statuses, limit=self.scan_limit
        )
        if len(changes) == self.scan_limit:
            newest: datetime | None = changes[-1][0].at  # more wait: the next round goes on
        else:
            newest = store.newest_change_at(session, subscription.tenant_id, since=since)
        rows = [
            {
                "id": new_id("cbd"),
                "tenant_id": subscription.tenant_id,
                "subscription_id": subscription.id,
                "event_id": event.id,
                "return_id": record.id,
                "message_id": new_id("msg"),
                "event_type": payload.event_type(event),
                "payload": payload.build(event, record),
                "status": store.PENDING,
                "attempts": 0,
                "next_attempt_at": event.at,
                "last_error": None,
                "created_at": event.at,
                "delivered_at": None,
            }
            for event, record in changes
        ]
        if not rows and (newest is None or newest <= subscription.cursor_at):
            return None
        return rows, max(newest or subscription.cursor_at, subscription.cursor_at)

    def deliver(self, now: datetime, *, limit: int = 50) -> tuple[int, int]:
        """Send the due deliveries; (delivered, failed attempts).

        Endpoints are served side by side (up to `parallel`), each one's callbacks in order,
        one at a time. After a failed attempt, or `SEND_BUDGET`, the endpoint's other
        callbacks of this round are left for a later one (their lease runs out): a dead
        endpoint costs one attempt a round, not a timeout per callback, and holds up no other.
        """
        with self._reader() as session:
            if not store.any_due(session, now=now):
                return 0, 0
        by_endpoint: dict[str, list[_Claimed]] = {}
        with self.sessions.begin() as session:
            for delivery, subscription in store.claim_due(
                session, now=now, lease=LEASE, limit=limit
            ):
                by_endpoint.setdefault(subscription.id, []).append(
                    _Claimed(
                        delivery.id,
                        subscription.id,
                        subscription.url,
                        store.signing_secrets(subscription, cipher=self.cipher, now=now),
                        delivery.message_id,
                        json.dumps(delivery.payload, separators=(",", ":")).encode(),
                    )
                )
        if not by_endpoint:
            return 0, 0
        client = self.client or httpx.Client(timeout=self.timeout)
        try:
            with ThreadPoolExecutor(
                max_workers=min(self.parallel, len(by_endpoint)),
                thread_name_prefix="returnbridge-callback",
            ) as pool:
                results = list(
                    pool.map(partial(self._send_in_order, client, now=now), by_endpoint.values())
                )
        finally:
            if self.client is None:
                client.close()
        return sum(d for d, _ in results), sum(f for _, f in results)

    def _send_in_order(
        self, client: httpx.Client, items: list[_Claimed], *, now: datetime
    ) -> tuple[int, int]:
        started = time.monotonic()
        delivered = 0
        for item in items:
            elapsed = timedelta(seconds=time.monotonic() - started)
            if elapsed > SEND_BUDGET:
                break
            # signed when sent, not when the round began: a receiver refuses a stale timestamp
            if not self._send(client, item, now + elapsed):
                return delivered, 1
            delivered += 1
        return delivered, 0

    def _send(self, client: httpx.Client, item: _Claimed, now: datetime) -> bool:
        headers = sign(item.body, secrets=item.secrets, webhook_id=item.message_id, at=now)
        attempt = post(
            client, item.url, item.body, headers.as_dict(), allow_private=self.allow_private
        )
        with self.sessions.begin() as session:
            delivery = session.get(CallbackDelivery, item.delivery_id, with_for_update=True)
            subscription = session.get(CallbackSubscription, item.subscription_id)
            if delivery is None or subscription is None:
                return attempt.ok  # deleted meanwhile
            store.add_attempt(
                session,
                delivery,
                at=now,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
                excerpt=attempt.excerpt,
            )
            delivery.attempts += 1
            if attempt.ok:
                delivery.status = store.DELIVERED
                delivery.delivered_at = now
                delivery.next_attempt_at = None
                delivery.last_error = None
                subscription.failing_since = None
                return True
            delivery.last_error = attempt.error
            delivery.next_attempt_at = next_attempt_at(delivery.attempts, now=now, rng=self.rng)
            if delivery.next_attempt_at is None:
                delivery.status = store.FAILED
            self._note_failure(session, subscription, now)
        log.info("callback attempt failed", delivery_id=item.delivery_id, error=attempt.error)
        return False

    def _note_failure(
        self, session: Session, subscription: CallbackSubscription, now: datetime
    ) -> None:
        if subscription.failing_since is None:
            subscription.failing_since = now
        if subscription.status != store.ACTIVE:
            return
        since = subscription.failing_since
        failures = store.failures_since(session, subscription.id, since=since)
        if self.disable.should_disable(failing_since=since, failures=failures, now=now):
            subscription.status = store.DISABLED
            subscription.disabled_reason = (
                f"all {failures} attempts since {since.isoformat()} failed; fix the endpoint,"
                " then enable the subscription again (its deliveries wait, pending)"
            )
            subscription.updated_at = now
            log.warning("callback endpoint disabled", subscription_id=subscription.id)


class CallbackWorker:
    """Runs dispatcher rounds in a daemon thread every `tick` seconds until stopped."""

    def __init__(
        self, dispatcher: CallbackDispatcher, *, tick: float, clock: Callable[[], datetime]
    ) -> None:
        self._dispatcher = dispatcher
        self._tick = tick
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="returnbridge-callbacks")
        self._thread.daemon = True

    def start(self) -> CallbackWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._dispatcher.run_round(self._clock())
            except Exception as error:  # a bad round (database down) must not end the thread
                log.error("callback round failed", error=str(error))
            self._stop.wait(self._tick)
