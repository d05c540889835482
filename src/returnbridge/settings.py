"""The one place the environment is read (variables prefixed RETURNBRIDGE_)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".returnbridge")


class Settings(BaseSettings):
    """Gateway settings. Every field can be set as RETURNBRIDGE_<NAME> in the environment.

    With nothing set, the gateway runs embedded: SQLite files under `./.returnbridge/`
    (`returnbridge.db` for our data, `dbos.sqlite` for workflow state) and a generated
    credential key kept in `./.returnbridge/secret.key` (mode 0600).
    """

    model_config = SettingsConfigDict(env_prefix="RETURNBRIDGE_", extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite file in data_dir"
    )
    system_database_url: str | None = Field(
        default=None,
        description="DBOS system database; default: the same PostgreSQL database, or a "
        "separate SQLite file next to the data",
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Fernet key for credentials at rest; generated if unset"
    )
    admin_key: SecretStr | None = Field(default=None, description="bearer key for admin routes")
    host: str = "127.0.0.1"
    port: int = 8000
    api_threads: int = Field(
        default=40, ge=1, le=1000, description="threads serving API requests at once"
    )
    queue_polling_interval: float = 0.2
    worker_concurrency: int = 8
    connection_concurrency: int = Field(
        default=1,
        description="workflows running at once per platform connection (across all workers);"
        " 1 keeps each store's refunds strictly sequential",
    )
    http_timeout: float = 10.0
    executor_id: str | None = Field(
        default=None, description="DBOS executor id; set one per worker when scaling out"
    )
    sweep_interval: float = Field(
        default=30.0,
        gt=0,
        description="seconds between sweeps for returns that stopped making progress",
    )
    stuck_after: float = Field(
        default=300.0,
        gt=0,
        description="seconds without progress after which a return's workflow is re-driven",
    )
    max_redrives: int = Field(
        default=3,
        ge=0,
        description="automatic re-drives of one stuck return before it is parked in failed",
    )
    heartbeat_interval: float = Field(
        default=5.0, gt=0, description="seconds between a worker's heartbeats"
    )
    executor_dead_after: float = Field(
        default=30.0,
        gt=0,
        description="seconds without a heartbeat after which live workers take over"
        " a worker's pending workflows",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body accepted (bytes); larger ones answer 413 unread",
    )
    public_url: str | None = Field(
        default=None,
        description="base URL clients reach the API at, used in Location and url fields;"
        " default http://{host}:{port}",
    )
    auth_failure_limit: int = Field(
        default=10,
        ge=1,
        description="failed authentications per client address within auth_failure_window"
        " before it is answered 429",
    )
    auth_failure_window: int = Field(
        default=60, ge=1, description="seconds over which failed authentications are counted"
    )
    log_level: str = "INFO"
    app_name: str = "returnbridge"

    @property
    def resolved_public_url(self) -> str:
        """Where clients reach the API (never taken from a request's Host header)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self._data_path('returnbridge.db')}"

    @cached_property
    def resolved_system_database_url(self) -> str:
        if self.system_database_url:
            return self.system_database_url
        url = self.resolved_database_url
        if url.startswith("sqlite"):
            return f"sqlite:///{self._data_path('dbos.sqlite')}"
        return url.replace("postgresql+psycopg://", "postgresql://", 1)

    @cached_property
    def resolved_secret_key(self) -> str:
        """The credential key: from the environment, or created once in the data dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        from cryptography.fernet import Fernet

        return self._key_file("secret.key", lambda: Fernet.generate_key().decode())

    def _key_file(self, name: str, make: Callable[[], str]) -> str:
        """Read a key kept in the data dir, creating it (mode 0600) on first use."""
        path = self._data_path(name)
        if not path.exists():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(make())
        return path.read_text().strip()

    @cached_property
    def resolved_admin_key(self) -> str:
        """The admin bearer key: from the environment, or created once in the data dir."""
        if self.admin_key is not None:
            return self.admin_key.get_secret_value()
        return self._key_file("admin.key", lambda: secrets.token_urlsafe(32))

    @property
    def admin_key_path(self) -> Path:
        return self._data_path("admin.key")

    def _data_path(self, name: str) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return (self.data_dir / name).resolve()
