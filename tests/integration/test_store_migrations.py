"""Migrations build exactly the schema tables.py declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, String, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from returnbridge.store import tenants
from returnbridge.store.database import (
    SQLITE_BEGIN_OPTION,
    alembic_config,
    create_engine_for,
    migrate,
)
from returnbridge.store.tables import Base


def schema_diff(engine: Engine, metadata: MetaData) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrate_on_empty_database_leaves_no_drift_from_tables(migrated_db_url: str) -> None:
    engine = create_engine_for(migrated_db_url)
    try:
        assert schema_diff(engine, Base.metadata) == []
        assert {"tenants", "connections", "returns", "return_revisions"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


def test_drift_check_notices_a_column_the_migrations_lack(migrated_db_url: str) -> None:
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    metadata.tables["returns"].append_column(Column("surprise", String(10)))
    engine = create_engine_for(migrated_db_url)
    try:
        diff = schema_diff(engine, metadata)
    finally:
        engine.dispose()
    assert any(entry[0] == "add_column" for entry in diff if isinstance(entry, tuple))


def test_migrate_twice_is_a_no_op_and_records_head(migrated_db_url: str) -> None:
    migrate(migrated_db_url)
    engine = create_engine_for(migrated_db_url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    assert (
        version == ScriptDirectory.from_config(alembic_config(migrated_db_url)).get_current_head()
    )
    assert version is not None


def test_migrate_runs_without_alembic_ini_in_the_working_directory(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    migrate(db_url)
    engine = create_engine_for(db_url)
    try:
        assert schema_diff(engine, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table(migrated_db_url: str) -> None:
    command.downgrade(alembic_config(migrated_db_url), "base")
    engine = create_engine_for(migrated_db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_timestamps_read_back_timezone_aware_utc(session_maker: sessionmaker[Session]) -> None:
    maker = session_maker
    created = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    with maker.begin() as session:
        tenant, _ = tenants.create_tenant(session, "Acme", clock=lambda: created)
        tenant_id = tenant.id
    with maker() as session:
        stored = tenants.get_tenant(session, tenant_id).created_at
    assert stored == created
    assert stored.utcoffset() is not None


def test_sqlite_engine_uses_wal_and_enforces_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'rb.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
    finally:
        engine.dispose()


def test_concurrent_migrate_calls_in_one_process_take_turns(db_url: str) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: migrate(db_url), range(3)))
    engine = create_engine_for(db_url)
    try:
        assert schema_diff(engine, Base.metadata) == []
    finally:
        engine.dispose()


def test_replicas_migrating_at_once_from_separate_processes_all_succeed(db_url: str) -> None:
    """Several replicas starting together must not race each other's DDL."""
    code = "import sys; from returnbridge.store import migrate; migrate(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    failures = []
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failures.append(stderr)
    assert failures == []
    engine = create_engine_for(db_url)
    try:
        assert schema_diff(engine, Base.metadata) == []
    finally:
        engine.dispose()


def test_sqlite_read_only_sessions_can_opt_out_of_immediate_begin(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'rb.db'}"
    migrate(db_url)
    engine = create_engine_for(db_url)
    reader = engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
    try:
        with Session(engine) as writer, Session(reader) as read_session:
            tenants.create_tenant(writer, "Acme")  # holds the write lock until commit
            assert read_session.scalar(text("SELECT count(*) FROM tenants")) == 0
            writer.commit()
            read_session.rollback()
            assert read_session.scalar(text("SELECT count(*) FROM tenants")) == 1
    finally:
        engine.dispose()
