"""Rows put straight into a migrated database, for store-level tests."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from returnbridge.store import returns


class Owner(Protocol):
    """A seeded tenant with its connection (``SeededTenant`` in the integration conftest)."""

    tenant_id: str
    connection_id: str


def new_return(
    session: Session,
    owner: Owner,
    external_id: str = "RMA-1",
    *,
    payload: dict[str, Any] | None = None,
) -> str:
    """Ingest revision 1 of a return under its external id (also its key), commit, return its id."""
    result = returns.ingest_return(
        session,
        owner.tenant_id,
        connection_id=owner.connection_id,
        channel="helpdesk",
        source="api",
        external_id=external_id,
        revision=1,
        idempotency_key=external_id,
        payload=payload if payload is not None else {"lines": []},
    )
    session.commit()
    return result.record.id
