"""The storage schema: SQLAlchemy 2 typed ORM tables, identical on SQLite and PostgreSQL.

Every row of tenant data carries ``tenant_id``; repositories filter on it in every query.
Money is a BigInteger of minor units beside a currency column. Timestamps are timezone-aware
UTC (stored naive-UTC on SQLite, ``timestamptz`` on PostgreSQL, always read back aware).
``versions/0001_initial.py`` mirrors this module; a test checks there is no drift.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a timezone-aware UTC one is required")
        value = value.astimezone(UTC)
        # SQLite has no timezone type: keep UTC wall time, which also sorts correctly as text.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base for all returnbridge tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Tenant(Base):
    """One merchant of the ISV; owns every other row."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"Tenant(id={self.id!r}, name={self.name!r})"


class Connection(Base):
    """A tenant's account on a platform; credentials are a Fernet token, never plaintext."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(500))
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    def __repr__(self) -> str:
        return (
            f"Connection(id={self.id!r}, tenant_id={self.tenant_id!r}, "
            f"platform={self.platform!r}, name={self.name!r})"
        )


class Return(Base):
    """A canonical return request, one row per (tenant, external id); holds the latest revision."""

    __tablename__ = "returns"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        # One row per external id; revisions are unique per return in return_revisions.
        UniqueConstraint("tenant_id", "external_id"),
        Index("ix_returns_tenant_id_status", "tenant_id", "status"),
        Index("ix_returns_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
        # The sweeper's question: which returns stopped moving, across tenants.
        Index("ix_returns_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    payload_hash: Mapped[str] = mapped_column(String(64))
    order_ref: Mapped[dict[str, Any]]
    matched_order_id: Mapped[str | None] = mapped_column(String(255))
    matched_order_name: Mapped[str | None] = mapped_column(String(255))
    candidates: Mapped[list[Any]]
    payload: Mapped[dict[str, Any]]
    refund_total: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    workflow_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def __repr__(self) -> str:
        return (
            f"Return(id={self.id!r}, tenant_id={self.tenant_id!r}, "
            f"external_id={self.external_id!r}, revision={self.revision}, status={self.status!r})"
        )


class ReturnRevision(Base):
    """Every revision of a return as received, including the idempotency key it came with."""

    __tablename__ = "return_revisions"
    __table_args__ = (
        UniqueConstraint("return_id", "revision"),
        UniqueConstraint("tenant_id", "idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    revision: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    payload_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class TimelineEvent(Base):
    """One entry in a return's timeline: what happened, when, who did it and why."""

    __tablename__ = "timeline_events"
    __table_args__ = (
        Index("ix_timeline_events_return_id_id", "return_id", "id"),
        # The callback dispatcher's question: a tenant's events since a moment.
        Index("ix_timeline_events_tenant_id_at", "tenant_id", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    at: Mapped[datetime]
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]]


class Refund(Base):
    """An executed (or in-flight) refund; the idempotency key is fixed before the first attempt."""

    __tablename__ = "refunds"
    __table_args__ = (Index("ix_refunds_connection_order", "connection_id", "order_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    platform_refund_id: Mapped[str | None] = mapped_column(String(255))
    order_id: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    plan: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def __repr__(self) -> str:
        return (
            f"Refund(id={self.id!r}, return_id={self.return_id!r}, amount={self.amount}, "
            f"currency={self.currency!r}, status={self.status!r})"
        )


class Executor(Base):
    """A process that runs workflows, with its last heartbeat (scaled-mode takeover).

    A live worker that finds another's heartbeat too old claims it (``taken_over_by``) and
    recovers its pending workflows; one claim wins even when several workers notice at once.
    """

    __tablename__ = "executors"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    taken_over_by: Mapped[str | None] = mapped_column(String(100), default=None)


class Source(Base):
    """Where a tenant's returns come from besides its API key: a poll source or a push source.

    ``kind`` is ``poll`` (we call the vendor's endpoint on a schedule, ``config`` says how) or
    ``push`` (the vendor calls our event API with Standard Webhooks signatures). ``mapping`` is
    the YAML text of a declarative mapping (None: payloads are canonical returns already).
    ``secrets_encrypted`` is a Fernet token of the source's secrets (poll auth, push signing
    keys); never plaintext. ``cursor`` and the ``last_*``/``stats`` columns are its sync state.
    """

    __tablename__ = "sources"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        # The scheduler's question: which active poll sources are due.
        Index("ix_sources_kind_status_next_run_at", "kind", "status", "next_run_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    mapping: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict[str, Any]]
    secrets_encrypted: Mapped[str] = mapped_column(Text)
    cursor: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def __repr__(self) -> str:
        return (
            f"Source(id={self.id!r}, tenant_id={self.tenant_id!r}, kind={self.kind!r}, "
            f"name={self.name!r}, status={self.status!r})"
        )


class SourceDelivery(Base):
    """A delivery id a source has already used (signed-push replay refusal, poll bookkeeping)."""

    __tablename__ = "source_deliveries"
    __table_args__ = (UniqueConstraint("source_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    delivery_id: Mapped[str] = mapped_column(String(255))
    return_id: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(index=True)


class EmailSettings(Base):
    """A tenant's outgoing mail: SMTP server and branding (``config``), password encrypted.

    ``config`` holds host, port, security (``starttls``, ``tls`` or ``none``), username,
    from_address, from_name, reply_to, logo_url, colours and default_locale; ``secrets_encrypted``
    is a Fernet token of ``{"password": ...}``. ``enabled`` False keeps emails from being sent.
    """

    __tablename__ = "email_settings"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    enabled: Mapped[bool]
    config: Mapped[dict[str, Any]]
    secrets_encrypted: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class EmailTemplate(Base):
    """A tenant's override of one email template in one locale (Jinja2 text, sandboxed)."""

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("tenant_id", "name", "locale"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class EmailDelivery(Base):
    """One customer email, keyed by (return, revision, template): it is sent at most once.

    ``status``: pending (recorded, not yet handed to SMTP), sent, failed (permanently refused).
    """

    __tablename__ = "email_deliveries"
    __table_args__ = (
        UniqueConstraint("return_id", "revision", "template"),
        Index("ix_email_deliveries_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_email_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"))
    revision: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class CallbackSubscription(Base):
    """A vendor endpoint that receives signed callbacks (Standard Webhooks) for a tenant.

    ``event_types`` lists the callback types it wants (empty: all). ``secret_encrypted`` is a
    Fernet token of ``{"secret": "whsec_..."}``. ``cursor_at`` is how far the timeline has been
    turned into deliveries. ``status`` is active or disabled (``disabled_reason`` says why);
    ``failing_since`` is when the current run of failed attempts started.
    """

    __tablename__ = "callback_subscriptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[Any]]
    secret_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[datetime | None]
    cursor_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CallbackDelivery(Base):
    """One callback message to one subscription; retried until delivered or given up.

    ``event_id`` is the timeline event it reports (unique per subscription, so a rescan never
    doubles it). ``message_id`` is the Standard Webhooks ``webhook-id``, the same on every
    attempt and replay. ``status``: pending, delivered, failed (gave up), or skipped.
    """

    __tablename__ = "callback_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_callback_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_callback_deliveries_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("callback_subscriptions.id"))
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    return_id: Mapped[str | None] = mapped_column(String(40))
    message_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class CallbackAttempt(Base):
    """One HTTP attempt of a callback delivery: the delivery log."""

    __tablename__ = "callback_attempts"
    __table_args__ = (Index("ix_callback_attempts_delivery_id_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    delivery_id: Mapped[str] = mapped_column(ForeignKey("callback_deliveries.id"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)


class ReturnsSystemLink(Base):
    """A return's counterpart in the tenant's returns system (Loop Returns), one per return.

    ``external_id`` is set once the return exists there; ``state`` follows the returns
    system (open, closed, cancelled, expired, review); ``action`` is what we asked of it
    (process or close) and ``details`` its last word: totals, refund, a processing error.
    """

    __tablename__ = "returns_system_links"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_returns_system_links_connection_id_settled", "connection_id", "settled"),
    )

    return_id: Mapped[str] = mapped_column(ForeignKey("returns.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(32))
    action: Mapped[str | None] = mapped_column(String(16))
    settled: Mapped[bool]
    details: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ActionCall(Base):
    """A write through the Connectivity API under an ``Idempotency-Key``: claimed before the
    platform is called (``state`` running), then done with the answer kept for replays.

    ``request_hash`` is the SHA-256 of the connection, action and canonical input, so a key
    reused for another request is refused instead of answered with the wrong result.
    """

    __tablename__ = "action_calls"
    __table_args__ = (UniqueConstraint("tenant_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    connection_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuditEvent(Base):
    """One call a tenant (or an agent on its behalf) made through the Connectivity API or the
    MCP gateway: who, what, on which connection or return, and how it ended."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_id_at", "tenant_id", "at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(16))
    connection_id: Mapped[str | None] = mapped_column(String(40))
    return_id: Mapped[str | None] = mapped_column(String(40))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    status_code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]]
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class AgentGuardrails(Base):
    """What AI agents may do for a tenant through the MCP gateway (one row per tenant; no row
    means the defaults of ``store.guardrails``). Amounts are per currency, in minor units."""

    __tablename__ = "agent_guardrails"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    calculate_only: Mapped[bool]
    max_refund_per_return: Mapped[dict[str, Any]]
    review_above: Mapped[dict[str, Any]]
    returns_per_hour: Mapped[int | None] = mapped_column(Integer)
    returns_per_day: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]
