"""Fixtures for every test tier: real databases (SQLite file and PostgreSQL).

``db_url`` is parametrized over ``sqlite`` (a file in tmp_path) and ``postgres`` (a freshly
created, uniquely named database, dropped afterwards). PostgreSQL comes from
``RETURNBRIDGE_TEST_POSTGRES_URL`` (default: local trust auth, database ``test``, used only to
create and drop the per-test databases). If it is unreachable the postgres cases skip, unless
``RETURNBRIDGE_REQUIRE_POSTGRES=1`` (as in CI), which makes them fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from support.gateway import Gateway, Sandbox, gateway_settings

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# Every gateway a test starts stops within this (DBOS joins its SQLite notification poller,
# which sleeps this long between looks); at the default 1 s, stopping was most of a short test.
os.environ.setdefault("RETURNBRIDGE_NOTIFICATION_POLLING_INTERVAL", "0.05")

# CI replays the same generated examples on every run (a red run must mean a real change);
# on a developer's machine hypothesis explores new examples each time and remembers failures.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[tuple[Engine, URL]]:
    """An autocommit engine on the maintenance database, and its URL; skips if unreachable."""
    url = make_url(os.environ.get("RETURNBRIDGE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        message = f"PostgreSQL unreachable at {url.render_as_string(hide_password=True)}: {exc}"
        if os.environ.get("RETURNBRIDGE_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    yield engine, url
    engine.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of a fresh, empty database (not migrated) of each backend."""
    if request.param == "sqlite":
        directory = tmp_path_factory.mktemp("db")
        yield f"sqlite:///{directory / 'returnbridge.db'}"
        return
    engine, server_url = request.getfixturevalue("postgres_admin")
    name = f"rb_test_{uuid.uuid4().hex[:16]}"
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[str]:
    """A real Shopify sandbox server on a loopback port, shared by the session."""
    from returnbridge.sandbox.shopify.server import BackgroundServer

    server = BackgroundServer().start()
    yield server.url
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: str) -> Iterator[Sandbox]:
    """A fresh shop (own domain and token) in the shared sandbox."""
    shop = Sandbox(sandbox_server)
    yield shop
    shop.close()


@pytest.fixture
def gateway(tmp_path: Path, sandbox: Sandbox) -> Iterator[Gateway]:
    """A whole gateway on a SQLite file, for tests where the database does not matter."""
    running = Gateway(gateway_settings(f"sqlite:///{tmp_path / 'rb.db'}", tmp_path), sandbox)
    yield running
    running.close()


@pytest.fixture
def db_gateway(db_url: str, tmp_path: Path, sandbox: Sandbox) -> Iterator[Gateway]:
    """A whole gateway on each database backend (SQLite file and PostgreSQL)."""
    running = Gateway(gateway_settings(db_url, tmp_path), sandbox)
    yield running
    running.close()
