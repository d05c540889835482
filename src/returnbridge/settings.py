"""The one place the environment is read (variables prefixed RETURNBRIDGE_)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from returnbridge.datadir import (
    create_private_file,
    secure_directory,
    tighten,
    write_new_private_file,
)
from returnbridge.domain.errors import ReturnBridgeError

DEFAULT_DATA_DIR = Path(".returnbridge")
MIN_ADMIN_KEY_LENGTH = 16


class SettingsError(ReturnBridgeError):
    """A setting or key file the gateway cannot start with; the message says what to do."""

    code = "INVALID_SETTINGS"


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
    secret_key_file: Path | None = Field(
        default=None,
        description="file holding the credential key (created 0600 if absent); default"
        " secret.key in data_dir. Keep it outside the data dir in production",
    )
    admin_key: SecretStr | None = Field(default=None, description="bearer key for admin routes")
    host: str = "127.0.0.1"
    port: int = 8000
    database_pool_size: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="connections one process may hold for our tables; default: every thread"
        " on SQLite, 20 on PostgreSQL",
    )
    api_threads: int = Field(
        default=40, ge=1, le=1000, description="threads serving API requests at once"
    )
    queue_polling_interval: float = 0.2
    poll_tick_seconds: Literal[1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30] = Field(
        default=15,
        description="seconds between a worker's looks for poll sources that are due (a divisor"
        " of 60): how late a scheduled sync may start; each look is a small workflow",
    )
    notification_polling_interval: float = Field(
        default=1.0,
        ge=0.001,
        le=60,
        description="seconds between DBOS's looks for workflow notifications on SQLite; also"
        " how long a process may take to stop",
    )
    worker_concurrency: int = 8
    queue_partition: Literal["order", "connection"] = Field(
        default="order",
        description="order: a store's returns run side by side but never two of one order;"
        " connection: a store's returns share one partition (no order is kept apart)",
    )
    connection_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="returns of one platform connection running at once, across all workers;"
        " 1 runs each store's returns strictly one after another",
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
    callbacks_allow_private_addresses: bool = Field(
        default=False,
        description="let vendor callbacks go to loopback, private and link-local addresses"
        " (tests, the demo, a vendor on the same network); off in production",
    )
    callback_tick_seconds: float = Field(
        default=1.0, gt=0, le=60, description="seconds between a worker's callback rounds"
    )
    callback_disable_after_hours: float = Field(
        default=24.0,
        gt=0,
        description="hours of nothing but failed attempts after which a callback endpoint is"
        " disabled, given at least callback_disable_after_failures of them (its deliveries"
        " wait until it is enabled again)",
    )
    callback_disable_after_failures: int = Field(
        default=10,
        ge=1,
        description="failed attempts in a row (with callback_disable_after_hours) that"
        " disable a callback endpoint",
    )
    returns_system_poll_seconds: float = Field(
        default=60.0,
        gt=0,
        description="seconds between a worker's looks at its returns systems (Loop) for"
        " changes whose webhooks never came",
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
        url = self.database_url or f"sqlite:///{self._data_path('returnbridge.db')}"
        _create_sqlite_file(url)
        return url

    @cached_property
    def resolved_system_database_url(self) -> str:
        if self.system_database_url:
            return self.system_database_url
        url = self.resolved_database_url
        if url.startswith("sqlite"):
            url = f"sqlite:///{self._data_path('dbos.sqlite')}"
            _create_sqlite_file(url)
            return url
        return url.replace("postgresql+psycopg://", "postgresql://", 1)

    @cached_property
    def resolved_secret_key(self) -> str:
        """The credential key: from the environment, else its key file (created on first use).

        Raises SettingsError when it is empty or its file cannot be read.
        """
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value().strip()
            if not key:
                raise SettingsError(
                    message="RETURNBRIDGE_SECRET_KEY is empty: set it to the Fernet key the "
                    "stored credentials were encrypted with, or unset it to use a key file"
                )
            return key
        from cryptography.fernet import Fernet

        path = self.secret_key_path
        return _key_file(
            path,
            what="the credential key",
            make=lambda: Fernet.generate_key().decode(),
            empty_hint="restore it from your backup (credentials stored under it cannot be "
            "read with a new key), or delete it to start over without stored credentials",
        )

    @property
    def secret_key_path(self) -> Path:
        """Where the credential key is kept when RETURNBRIDGE_SECRET_KEY is not set."""
        if self.secret_key_file is not None:
            return self.secret_key_file.expanduser().resolve()
        return self._data_path("secret.key")

    @cached_property
    def resolved_admin_key(self) -> str:
        """The admin bearer key: from the environment, or created once in the data dir.

        Raises SettingsError when it is empty, shorter than MIN_ADMIN_KEY_LENGTH or its file
        cannot be read, so an empty bearer can never match it.
        """
        if self.admin_key is not None:
            key = self.admin_key.get_secret_value().strip()
            if not key:
                raise SettingsError(
                    message="RETURNBRIDGE_ADMIN_KEY is empty: set it to a random key of at "
                    f"least {MIN_ADMIN_KEY_LENGTH} characters, or unset it to have one "
                    "generated into admin.key"
                )
            source = "RETURNBRIDGE_ADMIN_KEY"
        else:
            key = _key_file(
                self.admin_key_path,
                what="the admin key",
                make=lambda: secrets.token_urlsafe(32),
                empty_hint="delete it to have a new key generated at the next start",
            )
            source = str(self.admin_key_path)
        if len(key) < MIN_ADMIN_KEY_LENGTH:
            raise SettingsError(
                message=f"the admin key in {source} is too short: use at least "
                f"{MIN_ADMIN_KEY_LENGTH} characters"
            )
        return key

    @property
    def admin_key_path(self) -> Path:
        return self._data_path("admin.key")

    @property
    def admin_key_origin(self) -> str:
        """Where the admin key comes from, in words for the operator: a variable or a path."""
        if self.admin_key is not None:
            return "RETURNBRIDGE_ADMIN_KEY"
        return str(self.admin_key_path)

    @cached_property
    def data_root(self) -> Path:
        """The data dir, resolved, created 0700 (an existing one tightened, files 0600)."""
        try:
            return secure_directory(self.data_dir)
        except OSError as exc:
            raise SettingsError(
                message=f"cannot use {self.data_dir} as the data directory: {exc.strerror or exc}"
            ) from exc

    def _data_path(self, name: str) -> Path:
        return self.data_root / name

    shopify_app_client_id: str | None = Field(
        default=None,
        description="client id of the Shopify app merchants install to connect a store"
        " (POST /v1/connect/shopify); from the app's Dev Dashboard",
    )
    shopify_app_client_secret: SecretStr | None = Field(
        default=None, description="client secret of that Shopify app"
    )
    shopify_app_scopes: str = Field(
        default="read_orders,write_orders,read_inventory,write_inventory,read_locations,"
        "read_returns,write_returns",
        description="access scopes the Shopify app asks for, comma-separated",
    )


def _key_file(path: Path, *, what: str, make: Callable[[], str], empty_hint: str) -> str:
    """Read a key file, creating it (0600, atomically) on first use; never an empty key."""
    if not os.path.lexists(path):
        try:
            write_new_private_file(path, make() + "\n")
        except OSError as exc:
            raise SettingsError(
                message=f"cannot create {what} in {path}: {exc.strerror or exc}"
            ) from exc
    try:
        tighten(path, 0o600)
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SettingsError(message=f"cannot read {what} from {path}: {reason}") from exc
    if not key:
        raise SettingsError(message=f"{path} is empty: {empty_hint}")
    return key


def _create_sqlite_file(url: str) -> None:
    """Create a SQLite database file 0600 before SQLite does (its -wal/-shm follow its mode)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database).expanduser()
    if path.parent.is_dir():
        create_private_file(path)
