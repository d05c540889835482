"""returnbridge commands as real child processes, for crash and scale-out tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from returnbridge.store.connections import create_connection
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.database import create_engine_for, migrate, session_factory
from returnbridge.store.tenants import create_tenant
from support.gateway import Sandbox


def seed_database(db_url: str, sandbox: Sandbox) -> tuple[str, str]:
    """Migrate `db_url` and add a tenant connected to `sandbox`; (credential key, api key)."""
    key = CredentialCipher.generate_key()
    migrate(db_url)
    engine = create_engine_for(db_url)
    with session_factory(engine).begin() as session:
        tenant, api_key = create_tenant(session, "Acme")
        create_connection(
            session,
            tenant.id,
            platform="shopify",
            name="main",
            base_url=sandbox.url,
            credentials={"access_token": sandbox.token},
            cipher=CredentialCipher(key),
            settings={"restock_location_id": "gid://shopify/Location/2"},
        )
    engine.dispose()
    return key, api_key


def process_env(db_url: str, data_dir: Path, *, secret_key: str, **extra: str) -> dict[str, str]:
    """The environment of a child `returnbridge` process on `db_url` (nothing inherited)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    env |= {
        "RETURNBRIDGE_DATA_DIR": str(data_dir / "data"),
        "RETURNBRIDGE_DATABASE_URL": db_url,
        "RETURNBRIDGE_SECRET_KEY": secret_key,
        "RETURNBRIDGE_QUEUE_POLLING_INTERVAL": "0.1",
        "RETURNBRIDGE_LOG_LEVEL": "INFO",
        # A restarted process on PostgreSQL has a new executor id: it takes over the killed
        # one's workflows once that heartbeat is this old (30 s by default).
        "RETURNBRIDGE_HEARTBEAT_INTERVAL": "0.5",
        "RETURNBRIDGE_EXECUTOR_DEAD_AFTER": "3",
    }
    if make_url(db_url).get_backend_name() == "sqlite":
        env["RETURNBRIDGE_SYSTEM_DATABASE_URL"] = f"sqlite:///{data_dir / 'dbos.sqlite'}"
    return env | extra


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class CommandProcess:
    """`returnbridge <args>` as a child process with its own environment and log file."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.args = args
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "returnbridge.cli.main", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def assert_running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.args[0]} exited: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


class ServerProcess(CommandProcess):
    """A command that serves the API on `port` (`up` or `api`); `start` waits for /health."""

    def __init__(self, command: str, *, port: int, env: dict[str, str], log: Path) -> None:
        super().__init__([command, "--port", str(port)], env=env, log=log)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()
        wait_until(self._healthy, timeout=60, what=f"{self.args[0]} health ({self.log})")

    def _healthy(self) -> bool:
        self.assert_running()
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
