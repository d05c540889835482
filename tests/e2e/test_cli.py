"""The `returnbridge` command as a user runs it: start-up key checks, the banner, tenant keys.

Every command runs as a real child process against a SQLite data dir in tmp_path.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from returnbridge.cli.servers import free_port, free_ports
from returnbridge.store.connections import connection_credentials
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.tables import Connection, Tenant
from returnbridge.store.tenants import tenant_by_api_key
from support.processes import CommandProcess, ServerProcess, wait_until

pytestmark = pytest.mark.timeout(180)

GOOD_ADMIN_KEY = "admin-key-for-the-cli-tests-0123456789"


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    return env | {"RETURNBRIDGE_DATA_DIR": str(data_dir), "COLUMNS": "200"} | extra


def run_cli(
    *args: str, env: dict[str, str], stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "returnbridge.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], sentence: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert sentence in " ".join(output.split()), output
    assert "Traceback" not in output


@pytest.mark.parametrize("command", ["up", "api", "worker"])
@pytest.mark.parametrize("value", ["", "   "])
def test_a_blank_admin_key_in_the_environment_refuses_to_start(
    command: str, value: str, tmp_path: Path
) -> None:
    result = run_cli(command, env=cli_env(tmp_path, RETURNBRIDGE_ADMIN_KEY=value))
    assert_refused(result, "RETURNBRIDGE_ADMIN_KEY is empty")


def test_a_short_admin_key_refuses_to_start(tmp_path: Path) -> None:
    result = run_cli("up", env=cli_env(tmp_path, RETURNBRIDGE_ADMIN_KEY="tooshort"))
    assert_refused(result, "at least 16 characters")


@pytest.mark.parametrize("command", ["up", "worker"])
def test_an_empty_admin_key_file_refuses_to_start(command: str, tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    (tmp_path / "admin.key").write_text("")
    result = run_cli(command, env=cli_env(tmp_path))
    assert_refused(result, "admin.key is empty")
    assert (tmp_path / "admin.key").read_text() == ""


def test_an_invalid_secret_key_refuses_to_start(tmp_path: Path) -> None:
    result = run_cli("up", env=cli_env(tmp_path, RETURNBRIDGE_SECRET_KEY="not-a-fernet-key"))
    assert_refused(result, "not a valid Fernet key")


def test_banner_names_the_environment_when_the_admin_key_comes_from_it(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", RETURNBRIDGE_ADMIN_KEY=GOOD_ADMIN_KEY)
    log = tmp_path / "up.log"
    server = ServerProcess("up", port=free_port(), env=env, log=log)
    server.start()
    server.stop()
    banner = " ".join(log.read_text().split())
    assert "admin key from RETURNBRIDGE_ADMIN_KEY" in banner
    assert "admin.key" not in banner
    assert not (tmp_path / "data" / "admin.key").exists()


def test_banner_names_the_key_file_when_the_key_is_generated(tmp_path: Path) -> None:
    log = tmp_path / "up.log"
    server = ServerProcess("up", port=free_port(), env=cli_env(tmp_path / "data"), log=log)
    server.start()
    server.stop()
    banner = "".join(log.read_text().split())
    assert f"adminkeyin{(tmp_path / 'data' / 'admin.key').resolve()}" in banner


def create_tenant(env: dict[str, str]) -> tuple[str, str]:
    result = run_cli("tenants", "create", "Acme Outdoor", env=env)
    assert result.returncode == 0, result.stderr
    match = re.search(r"tenant (ten_\w+).*?api key \(shown once\): (rbk_\S+)", result.stdout, re.S)
    assert match, result.stdout
    return match.group(1), match.group(2)


def tenant_for(data_dir: Path, api_key: str) -> Tenant | None:
    engine = create_engine(f"sqlite:///{data_dir / 'returnbridge.db'}")
    try:
        with Session(engine) as session:
            return tenant_by_api_key(session, api_key)
    finally:
        engine.dispose()


def tenant_exists(data_dir: Path, tenant_id: str) -> bool:
    engine = create_engine(f"sqlite:///{data_dir / 'returnbridge.db'}")
    try:
        with Session(engine) as session:
            return session.get(Tenant, tenant_id) is not None
    finally:
        engine.dispose()


def test_rotate_key_prints_a_new_key_and_the_old_one_stops_working(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    tenant_id, old_key = create_tenant(env)

    result = run_cli("tenants", "rotate-key", tenant_id, env=env)

    assert result.returncode == 0, result.stderr
    new_key = re.search(r"new api key \(shown once\): (rbk_\S+)", result.stdout)
    assert new_key, result.stdout
    assert tenant_for(tmp_path, old_key) is None
    found = tenant_for(tmp_path, new_key.group(1))
    assert found is not None
    assert found.id == tenant_id


def test_revoke_key_leaves_the_tenant_without_a_working_key(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    tenant_id, key = create_tenant(env)

    result = run_cli("tenants", "revoke-key", tenant_id, env=env)

    assert result.returncode == 0, result.stderr
    assert f"api key of tenant {tenant_id} revoked" in result.stdout
    assert tenant_for(tmp_path, key) is None
    assert tenant_exists(tmp_path, tenant_id)


def test_delete_asks_first_and_keeps_the_tenant_when_not_confirmed(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    tenant_id, _ = create_tenant(env)

    result = run_cli("tenants", "delete", tenant_id, env=env, stdin="n\n")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Acme Outdoor" in result.stdout  # the question names the tenant
    assert "not deleted" in result.stdout
    assert tenant_exists(tmp_path, tenant_id)


def test_delete_with_confirmation_removes_the_tenant(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    tenant_id, _ = create_tenant(env)

    result = run_cli("tenants", "delete", tenant_id, env=env, stdin="y\n")

    assert result.returncode == 0, result.stderr
    assert f"tenant {tenant_id} deleted" in result.stdout
    assert not tenant_exists(tmp_path, tenant_id)


def test_delete_with_yes_does_not_ask(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    tenant_id, _ = create_tenant(env)

    result = run_cli("tenants", "delete", tenant_id, "--yes", env=env)

    assert result.returncode == 0, result.stderr
    assert "?" not in result.stdout
    assert not tenant_exists(tmp_path, tenant_id)


@pytest.mark.parametrize(
    "args", [["rotate-key"], ["revoke-key"], ["delete", "--yes"], ["delete"]], ids=" ".join
)
def test_an_unknown_tenant_is_a_clean_error(args: list[str], tmp_path: Path) -> None:
    result = run_cli("tenants", *args[:1], "ten_missing", *args[1:], env=cli_env(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert_refused(result, "no tenant ten_missing")


def test_a_connection_for_an_unknown_tenant_is_a_clean_error(tmp_path: Path) -> None:
    result = run_cli(
        *("connections", "add", "ten_missing", "--base-url", "http://127.0.0.1:9"),
        *("--access-token", "shpat_x"),
        env=cli_env(tmp_path),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert_refused(result, "no tenant ten_missing")


@pytest.mark.parametrize("command", ["up", "worker"])
def test_a_credential_key_that_does_not_open_the_stored_credentials_refuses_to_start(
    command: str, tmp_path: Path
) -> None:
    """A lost key file made anew must not leave every connection unusable unnoticed."""
    env = cli_env(tmp_path, RETURNBRIDGE_ADMIN_KEY=GOOD_ADMIN_KEY)
    tenant_id, _ = create_tenant(env)
    added = run_cli(
        "connections", "add", tenant_id, "--base-url", "https://acme.myshopify.com",
        "--access-token", "shpat_secret", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    (tmp_path / "secret.key").unlink()  # lost: the next start would make a new one

    result = run_cli(command, env=env)
    assert_refused(result, "the credential key does not open the stored connection credentials")


def test_sandbox_serves_every_platform_and_stops_on_sigint(tmp_path: Path) -> None:
    first = free_ports(4)
    sandbox = CommandProcess(
        ["sandbox", "--port", str(first)], env=cli_env(tmp_path), log=tmp_path / "sandbox.log"
    )
    sandbox.start()
    try:
        probes = {
            "shopify": (first, "/_sandbox/journal", 200),
            "woocommerce": (first + 1, "/wp-json/wc/v3/orders", 401),  # no key: WooCommerce's 401
            "bigcommerce": (first + 2, "/_sandbox/journal", 200),
            "shopline": (first + 3, "/_sandbox/journal", 200),
        }
        for platform, (port, path, status) in probes.items():

            def answers(port: int = port, path: str = path) -> int | None:
                sandbox.assert_running()
                try:
                    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code
                except httpx.HTTPError:
                    return None

            assert wait_until(answers, timeout=60, what=f"{platform} sandbox") == status
        assert sandbox.process is not None
        sandbox.process.send_signal(signal.SIGINT)
        assert sandbox.process.wait(timeout=30) == 0
    finally:
        sandbox.stop()
    output = (tmp_path / "sandbox.log").read_text()
    assert f"woocommerce sandbox on http://127.0.0.1:{first + 1}" in " ".join(output.split())
    assert "Traceback" not in output


def test_sandbox_refuses_an_unknown_platform(tmp_path: Path) -> None:
    result = run_cli("sandbox", "--platform", "magento", env=cli_env(tmp_path))
    assert_refused(result, "no sandbox for 'magento'")


def _stored_connection(data_dir: Path) -> tuple[Connection, dict[str, Any]]:
    """The one connection in the data dir, with its credentials decrypted by its key file."""
    engine = create_engine(f"sqlite:///{data_dir / 'returnbridge.db'}")
    try:
        with Session(engine) as session:
            (connection,) = session.scalars(select(Connection)).all()
            session.expunge(connection)
    finally:
        engine.dispose()
    cipher = CredentialCipher((data_dir / "secret.key").read_text().strip())
    return connection, connection_credentials(connection, cipher=cipher)


def test_woocommerce_connection_prompts_for_key_and_secret_without_echo(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    tenant_id, _ = create_tenant(env)
    result = run_cli(
        *("connections", "add", tenant_id, "--platform", "woocommerce"),
        *("--base-url", "https://shop.example.com", "--no-api-refund"),
        env=env,
        stdin="ck_typed_key\ncs_typed_secret\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "REST API consumer key" in output
    assert "REST API consumer secret" in output
    assert "cs_typed_secret" not in output  # hidden prompt: never echoed
    connection, credentials = _stored_connection(tmp_path)
    assert connection.platform == "woocommerce"
    assert connection.settings == {"api_refund": False}
    assert credentials == {"consumer_key": "ck_typed_key", "consumer_secret": "cs_typed_secret"}
    assert "cs_typed_secret" not in str(connection.credentials_encrypted)


def test_bigcommerce_connection_takes_credentials_from_the_environment(tmp_path: Path) -> None:
    env = cli_env(
        tmp_path,
        RETURNBRIDGE_CREDENTIAL_STORE_HASH="abc123",
        RETURNBRIDGE_CREDENTIAL_ACCESS_TOKEN="bc_token_from_env",
    )
    tenant_id, _ = create_tenant(env)
    result = run_cli(
        *("connections", "add", tenant_id, "--platform", "bigcommerce"),
        *("--base-url", "https://api.bigcommerce.com"),
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bc_token_from_env" not in result.stdout + result.stderr
    connection, credentials = _stored_connection(tmp_path)
    assert connection.platform == "bigcommerce"
    assert credentials == {"store_hash": "abc123", "access_token": "bc_token_from_env"}


def test_a_connection_for_a_platform_without_connector_is_refused(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    tenant_id, _ = create_tenant(env)
    result = run_cli(
        *("connections", "add", tenant_id, "--platform", "magento"),
        *("--base-url", "https://shop.example.com"),
        env=env,
    )
    assert_refused(result, "no connector for platform 'magento' yet")
