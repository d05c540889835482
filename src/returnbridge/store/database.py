"""Engines and migrations: one place that knows how to talk to SQLite and PostgreSQL.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout.
Write sessions start with ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout
instead of failing when a read transaction tries to upgrade; read sessions (``read_sessions``)
start ``BEGIN DEFERRED`` and, in WAL mode, never wait for a writer. Both backends get a pool
as large as the threads that may use it at once (``pool_size``), so no thread waits on the
pool while the database itself is free.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Alembic's `context` is a module-level proxy: two migrations in one process must not overlap.
# Separate processes are serialised by the database (advisory lock / BEGIN IMMEDIATE, env.py).
_MIGRATE_LOCK = threading.Lock()
SQLITE_BEGIN_OPTION = "sqlite_begin"
"""Execution option naming the SQLite BEGIN mode; ``"DEFERRED"`` suits read-only sessions."""


DEFAULT_POOL_SIZE = 64
"""Connections an engine may hold: API threads plus workflow threads (see ``Runtime``)."""


def create_engine_for(
    url: str, *, pool_size: int = DEFAULT_POOL_SIZE, **engine_kwargs: Any
) -> Engine:
    """An engine configured for the backend named by ``url`` (``sqlite:///...`` or PostgreSQL).

    ``pool_size`` is how many threads may hold a connection at once; PostgreSQL keeps a
    quarter of them open when idle and opens the rest on demand.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, pool_size=pool_size, **engine_kwargs)
    steady = max(2, pool_size // 4)
    options: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": steady,
        "max_overflow": pool_size - steady,
        "pool_recycle": 1800,
        "pool_timeout": 60,
    }
    options.update(engine_kwargs)
    return create_engine(url, **options)


def _sqlite_engine(url: str, *, pool_size: int, **engine_kwargs: Any) -> Engine:
    connect_args = dict(engine_kwargs.pop("connect_args", {}))
    # Hand transaction control to SQLAlchemy (pysqlite's own BEGIN handling breaks SAVEPOINT).
    connect_args.setdefault("isolation_level", None)
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    if make_url(url).database not in (None, "", ":memory:"):
        engine_kwargs.setdefault("pool_size", pool_size)
        engine_kwargs.setdefault("max_overflow", 0)
        engine_kwargs.setdefault("pool_timeout", 60)
    engine = create_engine(url, connect_args=connect_args, **engine_kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if make_url(url).database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Write sessions that keep loaded attributes after commit, so returned rows stay readable.

    On SQLite they take the write lock at BEGIN: use them for transactions that write.
    """
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading only: on SQLite they never take or wait for the write lock."""
    return sessionmaker(
        engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"}), expire_on_commit=False
    )


def alembic_config(url: str) -> Config:
    """An Alembic config built in code: works from an installed package, no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on "%" in passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, *, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (default: the latest schema).

    Safe to call from several threads or processes at once: they take turns and the later
    ones find nothing to do.
    """
    with _MIGRATE_LOCK:
        command.upgrade(alembic_config(url), revision)
