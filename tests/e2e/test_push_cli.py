"""`returnbridge push` as a user runs it: child processes on a SQLite data dir in tmp_path."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

pytestmark = pytest.mark.timeout(180)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mappings"


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    return env | {"RETURNBRIDGE_DATA_DIR": str(data_dir), "COLUMNS": "250"}


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "returnbridge.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], sentence: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert sentence in " ".join(output.split()), output
    assert "Traceback" not in output


def test_push_add_rotate_list_and_sign(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    tenant = re.search(r"ten_\w+", run_cli("tenants", "create", "Acme", env=env).stdout)
    assert tenant
    tenant_id = tenant.group(0)
    connected = run_cli(
        "connections",
        "add",
        tenant_id,
        "--base-url",
        "http://127.0.0.1:9",
        "--access-token",
        "tok",
        env=env,
    )
    assert connected.returncode == 0, connected.stderr

    added = run_cli(
        "push",
        "add",
        "instagram",
        "--tenant",
        tenant_id,
        "--mapping",
        str(EXAMPLES / "social-message.yaml"),
        env=env,
    )
    assert added.returncode == 0, added.stderr
    source_id = re.search(r"push source (src_\w+)", added.stdout)
    first = re.search(r"signing secret \(shown once\): (whsec_\S+)", added.stdout)
    assert source_id, added.stdout
    assert first, added.stdout
    assert f"/v1/push-sources/{source_id.group(1)}/deliveries" in added.stdout

    rotated = run_cli(
        "push",
        "rotate-secret",
        source_id.group(1),
        "--tenant",
        tenant_id,
        "--overlap-hours",
        "2",
        env=env,
    )
    assert rotated.returncode == 0, rotated.stderr
    second = re.search(r"new signing secret \(shown once\): (whsec_\S+)", rotated.stdout)
    assert second, rotated.stdout
    assert second.group(1) != first.group(1)

    listed = run_cli("push", "list", "--tenant", tenant_id, env=env)
    assert listed.returncode == 0, listed.stderr
    assert source_id.group(1) in listed.stdout
    assert "until" in listed.stdout  # the first secret's overlap end
    assert first.group(1) not in listed.stdout
    assert second.group(1) not in listed.stdout

    body = EXAMPLES / "social-message.json"
    signed = run_cli(
        "push", "sign", str(body), "--secret", second.group(1), "--id", "msg_1", env=env
    )
    assert signed.returncode == 0, signed.stderr
    headers = dict(line.split(": ", 1) for line in signed.stdout.splitlines())
    assert headers["webhook-id"] == "msg_1"
    assert Webhook(second.group(1)).verify(body.read_bytes(), headers)["platform"] == "instagram"


def test_push_commands_refuse_unknown_records_in_a_sentence(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    tenant = re.search(r"ten_\w+", run_cli("tenants", "create", "Acme", env=env).stdout)
    assert tenant

    no_connection = run_cli("push", "add", "x", "--tenant", tenant.group(0), env=env)
    unknown = run_cli("push", "rotate-secret", "src_nope", "--tenant", tenant.group(0), env=env)
    bad_secret = run_cli(
        "push", "sign", str(EXAMPLES / "social-message.json"), "--secret", "plain", env=env
    )

    assert_refused(no_connection, "has 0 connections: name one with --connection")
    assert_refused(unknown, "no push source src_nope")
    assert_refused(bad_secret, "starts with whsec_")
