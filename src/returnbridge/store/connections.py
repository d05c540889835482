"""Connections: a tenant's accounts on platforms. Credentials are encrypted at rest."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from returnbridge.domain.errors import DomainError
from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.errors import CredentialsUnreadableError, RecordNotFoundError
from returnbridge.store.ids import IdSource, new_id
from returnbridge.store.tables import Connection

PLATFORMS: Final = frozenset({"shopify", "woocommerce", "bigcommerce", "shopline", "loop"})


def create_connection(
    session: Session,
    tenant_id: str,
    *,
    platform: str,
    name: str,
    base_url: str,
    credentials: dict[str, Any],
    cipher: CredentialCipher,
    settings: dict[str, Any] | None = None,
    ids: IdSource = new_id,
    clock: Clock = utc_now,
) -> Connection:
    """Store a new connection with its credentials encrypted by ``cipher``."""
    if platform not in PLATFORMS:
        raise DomainError(
            "UNKNOWN_PLATFORM",
            f"unknown platform {platform!r}; expected one of {sorted(PLATFORMS)}",
            field="platform",
        )
    connection = Connection(
        id=ids("con"),
        tenant_id=tenant_id,
        platform=platform,
        name=name,
        base_url=base_url,
        credentials_encrypted=cipher.encrypt(credentials),
        settings=dict(settings or {}),
        created_at=clock(),
    )
    session.add(connection)
    session.flush()
    return connection


# Built once: every workflow step reads its connection.
_BY_ID = select(Connection).where(
    Connection.id == bindparam("connection_id"), Connection.tenant_id == bindparam("tenant_id")
)


def get_connection(session: Session, connection_id: str, *, tenant_id: str) -> Connection:
    """The tenant's connection ``connection_id``; raises RecordNotFoundError otherwise."""
    connection = session.scalar(_BY_ID, {"connection_id": connection_id, "tenant_id": tenant_id})
    if connection is None:
        raise RecordNotFoundError(
            message="connection not found", kind="connection", id=connection_id
        )
    return connection


def list_connections(
    session: Session, tenant_id: str, *, platform: str | None = None
) -> list[Connection]:
    """The tenant's connections, oldest first, optionally of one platform."""
    if platform is None:  # every return posted without a connection id
        return list(session.scalars(_OF_TENANT, {"tenant_id": tenant_id}))
    query = select(Connection).where(Connection.tenant_id == tenant_id)
    query = query.where(Connection.platform == platform)
    return list(session.scalars(query.order_by(Connection.created_at, Connection.id)))


def connection_ids(session: Session, tenant_id: str) -> list[str]:
    """The ids of the tenant's connections, oldest first (no row objects: a hot path)."""
    return list(session.scalars(_IDS_OF_TENANT, {"tenant_id": tenant_id}))


RETURNS_SYSTEM_PLATFORMS = frozenset({"loop"})
"""Connections that receive returns (returns systems) rather than hold orders: never the
connection a return is made against."""


def chosen_connection_id(session: Session, tenant_id: str, wanted: str | None) -> str:
    """`wanted` when the tenant owns it, else the tenant's only connection.

    Raises RecordNotFoundError for a connection the tenant does not own, and
    DomainError(CONNECTION_REQUIRED) when none is named and the tenant has not exactly one.
    """
    if wanted is not None:
        connection = get_connection(session, wanted, tenant_id=tenant_id)
        if connection.platform in RETURNS_SYSTEM_PLATFORMS:
            raise DomainError(
                "NOT_A_STORE",
                f"connection {wanted} is a returns system ({connection.platform}): name the"
                " store connection the return's order is in",
                field="connection_id",
            )
        return connection.id
    ids = [
        connection.id
        for connection in session.scalars(_OF_TENANT, {"tenant_id": tenant_id})
        if connection.platform not in RETURNS_SYSTEM_PLATFORMS
    ]
    if len(ids) != 1:
        raise DomainError(
            "CONNECTION_REQUIRED",
            f"the tenant has {len(ids)} connections: name one",
            field="connection_id",
        )
    return ids[0]


_IDS_OF_TENANT = (
    select(Connection.id)
    .where(Connection.tenant_id == bindparam("tenant_id"))
    .order_by(Connection.created_at, Connection.id)
)
_OF_TENANT = (
    select(Connection)
    .where(Connection.tenant_id == bindparam("tenant_id"))
    .order_by(Connection.created_at, Connection.id)
)


def connection_credentials(connection: Connection, *, cipher: CredentialCipher) -> dict[str, Any]:
    """Decrypt a connection's credentials; call only where they are about to be used."""
    return cipher.decrypt(connection.credentials_encrypted)


def credentials_readable(session: Session, *, cipher: CredentialCipher) -> bool:
    """Whether ``cipher`` opens the stored credentials (checked on one connection, any tenant).

    A start-up check, not tenant data access: a key file that was lost and generated anew
    would otherwise leave every connection unusable until its returns fail one by one.
    """
    token = session.scalar(select(Connection.credentials_encrypted).limit(1))
    if token is None:
        return True
    try:
        cipher.decrypt(token)
    except CredentialsUnreadableError:
        return False
    return True


def update_connection(
    session: Session,
    connection_id: str,
    *,
    tenant_id: str,
    cipher: CredentialCipher | None = None,
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    base_url: str | None = None,
) -> Connection:
    """Replace a connection's credentials (needs ``cipher``), settings or base URL."""
    connection = get_connection(session, connection_id, tenant_id=tenant_id)
    if credentials is not None:
        if cipher is None:
            raise ValueError("a cipher is required to store new credentials")
        connection.credentials_encrypted = cipher.encrypt(credentials)
    if settings is not None:
        connection.settings = dict(settings)
    if base_url is not None:
        connection.base_url = base_url
    session.flush()
    return connection
