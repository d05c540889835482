"""Integration fixtures: a real database per test, on SQLite and on PostgreSQL.

``db_url`` is parametrized over ``sqlite`` (a file in tmp_path) and ``postgres`` (a freshly
created, uniquely named database, dropped afterwards). PostgreSQL comes from
``RETURNBRIDGE_TEST_POSTGRES_URL`` (default: local trust auth, database ``test``, used only to
create and drop the per-test databases). If it is unreachable the postgres cases skip, unless
``RETURNBRIDGE_REQUIRE_POSTGRES=1``, which makes them fail instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from returnbridge.store import connections, tenants
from returnbridge.store.clock import SteppingClock
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.database import create_engine_for, migrate, session_factory
from returnbridge.store.ids import SequentialIds


@pytest.fixture
def db_backend(db_url: str) -> str:
    """``"sqlite"`` or ``"postgresql"``, for tests that must branch on the backend."""
    return make_url(db_url).get_backend_name()


@pytest.fixture
def migrated_db_url(db_url: str) -> str:
    """``db_url`` after ``migrate`` (the schema at head)."""
    migrate(db_url)
    return db_url


@pytest.fixture
def store_engine(migrated_db_url: str) -> Iterator[Engine]:
    """An engine from ``create_engine_for`` on a migrated database; disposed afterwards."""
    engine = create_engine_for(migrated_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_maker(store_engine: Engine) -> sessionmaker[Session]:
    """The store's session factory (``expire_on_commit=False``)."""
    return session_factory(store_engine)


@pytest.fixture
def session(session_maker: sessionmaker[Session]) -> Iterator[Session]:
    """One session on the migrated database; the test commits what it wants kept."""
    with session_maker() as db_session:
        yield db_session


@pytest.fixture
def ids() -> SequentialIds:
    """Deterministic, sortable ids: ``ret_000...1``, ``ten_000...2``, ..."""
    return SequentialIds()


@pytest.fixture
def clock() -> SteppingClock:
    """Starts at 2026-01-01T00:00Z and moves one second per call."""
    return SteppingClock(datetime(2026, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class SeededTenant:
    """A committed tenant with one Shopify connection, as created by ``seed_tenant``."""

    tenant_id: str
    api_key: str
    connection_id: str


@pytest.fixture
def cipher() -> CredentialCipher:
    """A credential cipher with a fresh random key."""
    return CredentialCipher(CredentialCipher.generate_key())


@pytest.fixture
def seed_tenant(
    session_maker: sessionmaker[Session],
    cipher: CredentialCipher,
    ids: SequentialIds,
    clock: SteppingClock,
) -> Callable[[str], SeededTenant]:
    """Factory: ``seed_tenant("Acme")`` commits a tenant plus a ``shopify`` connection."""

    def seed(name: str = "Acme") -> SeededTenant:
        with session_maker.begin() as db_session:
            tenant, api_key = tenants.create_tenant(db_session, name, ids=ids, clock=clock)
            connection = connections.create_connection(
                db_session,
                tenant.id,
                platform="shopify",
                name="main",
                base_url="https://acme.myshopify.com",
                credentials={"access_token": f"shpat_{name.lower()}_secret"},
                cipher=cipher,
                ids=ids,
                clock=clock,
            )
            return SeededTenant(tenant.id, api_key, connection.id)

    return seed
