"""Alembic environment for returnbridge; runs from the installed package (see database.migrate)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, text

from returnbridge.store.database import create_engine_for
from returnbridge.store.tables import Base

config = context.config
target_metadata = Base.metadata
# Arbitrary constant: PostgreSQL advisory lock that makes concurrent `migrate` calls take turns.
MIGRATION_LOCK_ID = 0x72626D67

if config.config_file_name is not None:
    # Only the developer CLI (alembic.ini) configures logging; migrate() leaves the app's alone.
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,
        # SQLite can run DDL inside a transaction too; a failed migration then leaves no trace.
        transactional_ddl=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade head --sql``)."""
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        # SQLite's BEGIN IMMEDIATE (see database.py) already serialises concurrent migrators.
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on a live connection (given by the caller, or opened from the URL)."""
    given = config.attributes.get("connection")
    if given is not None:
        _run_on(given)
        return
    # `alembic -x url=postgresql+psycopg://... upgrade head` overrides alembic.ini's URL.
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if url is None:
        raise RuntimeError("no sqlalchemy.url configured for migrations")
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
