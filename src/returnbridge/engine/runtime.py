"""Process-wide wiring: settings, database, credential cipher and connectors.

Workflow steps run in DBOS worker threads and receive only ids; they reach the database and
connectors through the one `Runtime` installed at start-up. Starting DBOS itself, with the
workflows it runs, is `engine/launch.py`'s job: this module imports no workflow or step.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from returnbridge.connectors.base.connector import OrderConnector
from returnbridge.connectors.base.returns_system import ReturnsSystem
from returnbridge.connectors.registry import build_connector, build_returns_system
from returnbridge.engine.connection_health import HEALTH_KEY, Health, RecordingTransport, health_of
from returnbridge.settings import Settings
from returnbridge.store.connections import connection_credentials
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.database import (
    create_engine_for,
    migrate,
    read_session_factory,
    session_factory,
)
from returnbridge.store.tables import Connection


@dataclass
class Runtime:
    """Everything a step needs to do its work."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    """Write sessions (on SQLite they hold the write lock from BEGIN): keep them short."""
    reads: sessionmaker[Session]
    """Read-only sessions: never wait for a writer."""
    cipher: CredentialCipher
    connection_state: dict[str, dict[str, Any]] = field(default_factory=dict)
    _state_lock: threading.Lock = field(default_factory=threading.Lock)
    _tls: ssl.SSLContext | None = None
    _tls_lock: threading.Lock = field(default_factory=threading.Lock)

    def returns_system(self, connection: Connection) -> ReturnsSystem:
        """A client of the returns system (Loop) `connection` names, sharing its state (HTTP
        client, rate limiter, decrypted credentials) like `connector`."""
        state, credentials = self._state_of(connection)
        return build_returns_system(
            connection.platform,
            connection.base_url,
            credentials,
            timeout=self.settings.http_timeout,
            state=state,
            settings=connection.settings or {},
        )

    def _state_of(self, connection: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
        """The connection's process-wide state and its decrypted credentials."""
        with self._state_lock:
            state = self.connection_state.setdefault(connection.id, {})
            token = connection.credentials_encrypted
            cached = state.get("credentials")
            if cached is None or cached[0] != token:
                cached = (token, connection_credentials(connection, cipher=self.cipher))
                state["credentials"] = cached
            if "http" not in state:
                health = state.setdefault(HEALTH_KEY, Health())
                transport = RecordingTransport(
                    httpx.HTTPTransport(verify=self.tls_context()), health
                )
                state["http"] = httpx.Client(
                    timeout=self.settings.http_timeout, transport=transport
                )
        return state, cached[1]

    def connection_health(self, connection_id: str) -> Health:
        """This process's view of the connection: last call, last error, headroom."""
        with self._state_lock:
            state = self.connection_state.get(connection_id) or {}
        return health_of(state)

    def forget_connection(self, connection_id: str) -> None:
        """Drop a deleted connection's process-wide state (closing its HTTP client)."""
        with self._state_lock:
            state = self.connection_state.pop(connection_id, None)
        http = (state or {}).get("http")
        if http is not None:
            http.close()

    def connector(self, connection: Connection) -> OrderConnector:
        """A connector for `connection`, sharing the connection's process-wide state.

        The state keeps, for the life of the process: one HTTP client (its pool and TLS
        context, built once, closed by `close_runtime`), the rate limiter, and the decrypted
        credentials, decrypted again only when the stored token changes (rotation).
        """
        state, credentials = self._state_of(connection)
        return build_connector(
            connection.platform,
            connection.base_url,
            credentials,
            timeout=self.settings.http_timeout,
            state=state,
            settings=connection.settings or {},
        )

    def tls_context(self) -> ssl.SSLContext:
        """One TLS context for every connection's client: loading the CA bundle costs about
        as much CPU as a hundred platform calls, and it is the same bundle for all."""
        with self._tls_lock:
            if self._tls is None:
                self._tls = httpx.create_ssl_context()
            return self._tls

    def close_connections(self) -> None:
        """Close every connection's shared HTTP client."""
        with self._state_lock:
            states = list(self.connection_state.values())
            self.connection_state.clear()
        for state in states:
            http = state.get("http")
            if isinstance(http, httpx.Client):
                http.close()


_current: Runtime | None = None


def open_runtime(settings: Settings, *, run_migrations: bool = True) -> Runtime:
    """Connect to the database (migrating it) and install the process's runtime."""
    global _current  # noqa: PLW0603 - one runtime per process, installed at start-up
    url = settings.resolved_database_url
    if run_migrations:
        migrate(url)
    engine = create_engine_for(url, pool_size=pool_size(settings))
    _current = Runtime(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        reads=read_session_factory(engine),
        cipher=CredentialCipher(settings.resolved_secret_key),
    )
    return _current


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("returnbridge runtime not opened (call open_runtime first)")
    return _current


def close_runtime() -> None:
    global _current  # noqa: PLW0603
    if _current is not None:
        _current.close_connections()
        _current.engine.dispose()
    _current = None


def executor_threads(settings: Settings) -> int:
    """Threads DBOS may run workflows and steps on."""
    return max(8, settings.worker_concurrency * 2)


POSTGRES_POOL_SIZE = 20
"""Connections one process may open to PostgreSQL for our tables (transactions are short)."""


def on_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def pool_size(settings: Settings) -> int:
    """Connections one process may hold for our tables.

    SQLite: one per thread that may use the database at once (API, workflows, housekeeping):
    a file handle costs nothing, and no thread then waits on the pool while the database is
    free. PostgreSQL: a bounded pool, since every process shares the server's
    `max_connections`; sessions are short, so a thread waits milliseconds for a connection.
    """
    if settings.database_pool_size is not None:
        return settings.database_pool_size
    if on_sqlite(settings.resolved_database_url):
        return settings.api_threads + executor_threads(settings) + 8
    return POSTGRES_POOL_SIZE
