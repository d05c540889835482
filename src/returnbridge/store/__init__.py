"""Storage: SQLAlchemy tables, tenant-scoped repositories and Alembic migrations.

Typical use::

    from returnbridge.store import create_engine_for, migrate, session_factory
    migrate(url)
    Session = session_factory(create_engine_for(url))
    with Session.begin() as session:
        result = returns.ingest_return(session, tenant_id, ...)

Repositories (``tenants``, ``connections``, ``returns``, ``refunds``) flush but never commit.
"""

from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.database import create_engine_for, migrate, session_factory
from returnbridge.store.errors import (
    CredentialsUnreadableError,
    IdempotencyConflictError,
    RecordNotFoundError,
    TransitionForbiddenError,
)
from returnbridge.store.ids import IdSource, SequentialIds, new_id

__all__ = [
    "CredentialCipher",
    "CredentialsUnreadableError",
    "IdSource",
    "IdempotencyConflictError",
    "RecordNotFoundError",
    "SequentialIds",
    "TransitionForbiddenError",
    "create_engine_for",
    "migrate",
    "new_id",
    "session_factory",
]
