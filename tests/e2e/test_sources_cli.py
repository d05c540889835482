"""`returnbridge sources` as a user runs it, against the vendor sandbox on loopback.

Every command is a real child process on a SQLite data dir in tmp_path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from returnbridge.cli.servers import BackgroundServer
from returnbridge.sandbox.vendor import create_app as create_vendor

pytestmark = pytest.mark.timeout(240)

MAPPING = Path(__file__).resolve().parents[2] / "src/returnbridge/sandbox/vendor/mapping.yaml"
TOKEN = "vendor-token-for-the-cli-test"


def run_cli(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "returnbridge.cli.main", *args],
        env=base | {"RETURNBRIDGE_DATA_DIR": str(data_dir), "COLUMNS": "200"} | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def vendor() -> Iterator[httpx.Client]:
    server = BackgroundServer(create_vendor()).start()
    client = httpx.Client(base_url=server.url, timeout=10)
    client.post("/_control/auth", json={"kind": "bearer", "token": TOKEN})
    yield client
    client.close()
    server.stop()


def test_sources_are_added_run_resumed_after_a_failure_shown_paused_and_resumed(
    tmp_path: Path, vendor: httpx.Client
) -> None:
    def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, data_dir=tmp_path, **env)

    created = cli("tenants", "create", "Acme")
    tenant = re.search(r"tenant (ten_\w+)", created.stdout)
    assert tenant is not None, created.stdout + created.stderr
    tenant_id = tenant.group(1)
    connected = cli(
        "connections", "add", tenant_id, "--base-url", "https://acme.myshopify.com",
        "--access-token", "shpat_x",
    )  # fmt: skip
    assert connected.returncode == 0, connected.stderr
    vendor.post("/_control/seed", params={"count": 6})
    url = f"{str(vendor.base_url).rstrip('/')}/pages/returns"

    added = cli(
        "sources", "add", "helpdesk", "--tenant", tenant_id, "--url", url, "--auth", "bearer",
        "--page-size", "2", "--overlap", "0", "--mapping", str(MAPPING),
        RETURNBRIDGE_SOURCE_TOKEN=TOKEN,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    source = re.search(r"poll source (src_\w+)", added.stdout)
    assert source is not None, added.stdout
    source_id = source.group(1)

    first = cli("sources", "run", source_id, "--tenant", tenant_id)
    assert first.returncode == 0, first.stderr
    assert "succeeded: 4 pages, 6 fetched, 6 new, 0 duplicate, 0 failed" in first.stdout

    for record in ("RMA-1001", "RMA-1002", "RMA-1003"):
        vendor.post(f"/_control/update/{record}")
    vendor.post("/_control/fail", json={"after": 1, "count": 1, "status": 503})
    failed = cli("sources", "run", source_id, "--tenant", tenant_id)
    assert failed.returncode == 1
    assert "page 2: vendor answered HTTP 503" in failed.stderr
    resumed = cli("sources", "run", source_id, "--tenant", tenant_id)
    assert resumed.returncode == 0, resumed.stderr
    assert "succeeded (resumed): 2 pages, 3 fetched, 3 new" in resumed.stdout

    shown = cli("sources", "show", source_id, "--tenant", tenant_id)
    assert shown.returncode == 0, shown.stderr
    assert "9 new" in shown.stdout
    assert "vendor answered" not in shown.stdout  # the last error cleared on success

    assert cli("sources", "pause", source_id, "--tenant", tenant_id).returncode == 0
    listed = cli("sources", "list", "--tenant", tenant_id)
    assert "paused" in listed.stdout
    assert cli("sources", "resume", source_id, "--tenant", tenant_id).returncode == 0
    assert "active" in cli("sources", "list", "--tenant", tenant_id).stdout

    every_output = "".join(
        r.stdout + r.stderr for r in (added, first, failed, resumed, shown, listed)
    )
    assert TOKEN not in every_output
    assert "Traceback" not in every_output


def test_adding_a_source_with_a_bad_config_names_the_field(tmp_path: Path) -> None:
    result = run_cli(
        "sources", "add", "x", "--tenant", "ten_x", "--url", "ftp://nope", data_dir=tmp_path
    )
    assert result.returncode == 2
    assert "config.url" in result.stderr
