"""Tenants and their API keys. Only the SHA-256 of a key is stored; the plaintext is shown once."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.ids import IdSource, new_id
from returnbridge.store.tables import (
    ActionCall,
    AgentGuardrails,
    AuditEvent,
    CallbackAttempt,
    CallbackDelivery,
    CallbackSubscription,
    Connection,
    EmailDelivery,
    EmailSettings,
    EmailTemplate,
    Refund,
    Return,
    ReturnRevision,
    ReturnsSystemLink,
    Source,
    SourceDelivery,
    Tenant,
    TimelineEvent,
)

API_KEY_PREFIX = "rbk_"
REVOKED_KEY_PREFIX = "revoked-"
"""Marks a revoked key's stored hash; '-' and 'r' never occur in a sha256 hex digest."""


def new_api_key() -> str:
    """A fresh random bearer key (256 bits of entropy)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    """The stored form of a bearer key: lowercase sha256 hex."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def create_tenant(
    session: Session,
    name: str,
    *,
    ids: IdSource = new_id,
    clock: Clock = utc_now,
    key_source: Callable[[], str] = new_api_key,
) -> tuple[Tenant, str]:
    """Create a tenant; returns it with its plaintext API key, which is not stored anywhere."""
    api_key = key_source()
    tenant = Tenant(
        id=ids("ten"), name=name, api_key_hash=hash_api_key(api_key), created_at=clock()
    )
    session.add(tenant)
    session.flush()
    return tenant, api_key


_BY_KEY_HASH = select(Tenant).where(Tenant.api_key_hash == bindparam("digest"))  # every request


def tenant_by_api_key(session: Session, api_key: str) -> Tenant | None:
    """The tenant owning ``api_key``, or None. Lookup is by hash, so timing leaks nothing useful."""
    if not api_key:
        return None
    return session.scalar(_BY_KEY_HASH, {"digest": hash_api_key(api_key)})


def get_tenant(session: Session, tenant_id: str) -> Tenant:
    """The tenant with ``tenant_id``; raises RecordNotFoundError."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise RecordNotFoundError(message="tenant not found", kind="tenant", id=tenant_id)
    return tenant


def rotate_api_key(
    session: Session, tenant_id: str, *, key_source: Callable[[], str] = new_api_key
) -> tuple[Tenant, str]:
    """Give a tenant a new API key; the old one stops working at once.

    Returns the tenant with the new plaintext key, which is not stored anywhere.
    Raises RecordNotFoundError for an unknown tenant.
    """
    tenant = get_tenant(session, tenant_id)
    api_key = key_source()
    tenant.api_key_hash = hash_api_key(api_key)
    session.flush()
    return tenant, api_key


def revoke_api_key(session: Session, tenant_id: str) -> Tenant:
    """Make every key of a tenant stop working until a new one is rotated in.

    The stored hash becomes a unique marker that is not hex, so no key can ever hash to it.
    Raises RecordNotFoundError for an unknown tenant.
    """
    tenant = get_tenant(session, tenant_id)
    tenant.api_key_hash = REVOKED_KEY_PREFIX + secrets.token_hex(28)
    session.flush()
    return tenant


def is_revoked(tenant: Tenant) -> bool:
    """Whether the tenant's key was revoked and none rotated in since."""
    return tenant.api_key_hash.startswith(REVOKED_KEY_PREFIX)


def delete_tenant(session: Session, tenant_id: str) -> None:
    """Delete a tenant and every row it owns; raises RecordNotFoundError when absent.

    Children go first (action calls, audit events, guardrails, callbacks, emails,
    returns-system links, timeline, refunds, revisions, returns, source deliveries, sources,
    connections), so the foreign keys hold at every statement on both SQLite and PostgreSQL.
    """
    tenant = get_tenant(session, tenant_id)
    for table in (
        ActionCall,
        AuditEvent,
        AgentGuardrails,
        CallbackAttempt,
        CallbackDelivery,
        CallbackSubscription,
        EmailDelivery,
        EmailTemplate,
        EmailSettings,
        ReturnsSystemLink,
        TimelineEvent,
        Refund,
        ReturnRevision,
        Return,
        SourceDelivery,
        Source,
        Connection,
    ):
        session.execute(delete(table).where(table.tenant_id == tenant_id))
    session.delete(tenant)
    session.flush()
