"""Starting and stopping DBOS in this process, with the workflows and queues it runs.

The one module that knows every workflow (returns, poll sources) and the housekeeper, so that
the runtime and the steps need not import each other: `runtime` holds what steps use,
`workflows` and the step modules import `runtime`, and this module imports them all.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from dbos import DBOS, DBOSConfig
from sqlalchemy.engine import make_url

import returnbridge.engine.workflows  # noqa: F401 - registers the return workflow and its steps
from returnbridge.connectors.registry import warm_up
from returnbridge.engine import queues
from returnbridge.engine.housekeeping import Housekeeper
from returnbridge.engine.poll_workflows import install_polling
from returnbridge.engine.runtime import current, executor_threads, on_sqlite
from returnbridge.notify.callbacks.dispatcher import CallbackDispatcher, CallbackWorker
from returnbridge.notify.callbacks.schedule import DisablePolicy
from returnbridge.settings import Settings
from returnbridge.store.database import SQLITE_BUSY_TIMEOUT_MS

POSTGRES_SYSTEM_POOL_SIZE = 16
"""Connections one process may open to PostgreSQL for DBOS's tables."""


def system_pool_size(settings: Settings) -> int:
    """Connections one process may hold for DBOS's system database."""
    if on_sqlite(settings.resolved_system_database_url):
        return settings.api_threads + executor_threads(settings) + 8
    return POSTGRES_SYSTEM_POOL_SIZE


def executor_id(settings: Settings) -> str:
    """This process's DBOS executor id.

    Embedded (SQLite, one process): DBOS's stable ``local``, so a restart recovers its own
    workflows. Scaled (PostgreSQL) without a configured id: unique per process, so two
    workers never share one; a dead worker's workflows are taken over by the live ones.
    """
    if settings.executor_id:
        return settings.executor_id
    if settings.resolved_system_database_url.startswith("sqlite"):
        return "local"
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def dbos_config(settings: Settings) -> DBOSConfig:
    return {
        "name": settings.app_name,
        "system_database_url": settings.resolved_system_database_url,
        "run_migrations": True,
        "log_level": "WARNING",
        "max_executor_threads": executor_threads(settings),
        "sys_db_pool_size": system_pool_size(settings),
        "executor_id": executor_id(settings),
        "notification_listener_polling_interval_sec": settings.notification_polling_interval,
    }


def _prepare_sqlite_system_database(url: str) -> None:
    """Put DBOS's SQLite file in WAL mode (persistent), so its readers never block writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    connection = sqlite3.connect(parsed.database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def launch_dbos(settings: Settings, *, work: bool) -> None:
    """Start DBOS; `work=False` (API-only process) enqueues but never runs workflows."""
    _prepare_sqlite_system_database(settings.resolved_system_database_url)
    if not work and not settings.executor_id:
        # DBOS recovers its executor's pending workflows at launch: an enqueue-only process
        # (API, CLI) must never take the embedded worker's `local` ones, so it gets its own id.
        unique = f"enqueue-{os.getpid()}-{secrets.token_hex(3)}"
        settings = settings.model_copy(update={"executor_id": unique})
    DBOS(config=dbos_config(settings))
    if not work:
        DBOS.listen_queues([])
    DBOS.launch()
    queues.register_returns_queue(settings)
    install_polling(settings, work=work)
    if work:
        _housekeepers.append(Housekeeper(current()).start())
        _housekeepers.append(_callback_worker(settings))
        # one-off costs at start, not in the first returns: documents parsed, TLS context
        warm_up()
        current().tls_context()


_housekeepers: list[Any] = []


def _callback_worker(settings: Settings) -> CallbackWorker:
    runtime = current()
    dispatcher = CallbackDispatcher(
        runtime.sessions,
        runtime.cipher,
        allow_private=settings.callbacks_allow_private_addresses,
        disable=DisablePolicy(
            after=timedelta(hours=settings.callback_disable_after_hours),
            failures=settings.callback_disable_after_failures,
        ),
        timeout=settings.http_timeout,
        reads=runtime.reads,
    )
    return CallbackWorker(
        dispatcher, tick=settings.callback_tick_seconds, clock=lambda: datetime.now(UTC)
    ).start()


def shutdown_dbos() -> None:
    queues.forget()
    while _housekeepers:
        _housekeepers.pop().stop()
    DBOS.destroy(destroy_registry=False)
