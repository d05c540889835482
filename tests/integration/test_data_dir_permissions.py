"""The data directory is private: 0700, every file in it 0600, with the real commands.

The gateway runs as a child process (`returnbridge up`, embedded SQLite defaults) under the
usual umask 022, so anything created with default modes would show as 0644/0755.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from returnbridge.cli.servers import free_port
from support.processes import ServerProcess

pytestmark = pytest.mark.timeout(180)

DATA_FILES = {"returnbridge.db", "dbos.sqlite", "admin.key", "secret.key"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def modes(directory: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in sorted(directory.iterdir())}


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    return env | {"RETURNBRIDGE_DATA_DIR": str(data_dir), "RETURNBRIDGE_LOG_LEVEL": "INFO"} | extra


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("umask_022")
def test_a_running_gateway_keeps_every_data_file_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess("up", port=free_port(), env=cli_env(data), log=tmp_path / "up.log")
    server.start()
    try:
        key = (data / "admin.key").read_text().strip()
        response = httpx.post(
            f"{server.url}/v1/tenants",
            json={"name": "Acme"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        found = modes(data)  # while running, so the -wal and -shm files exist
    finally:
        server.stop()
    assert mode(data) == 0o700
    assert set(found) >= DATA_FILES | {"returnbridge.db-wal", "returnbridge.db-shm"}
    assert {name: m for name, m in found.items() if m != 0o600} == {}


@pytest.mark.usefixtures("umask_022")
def test_an_existing_loose_data_dir_is_tightened_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "returnbridge.cli.main", "migrate"],
        env=cli_env(data),
        check=True,
        capture_output=True,
    )
    data.chmod(0o755)
    (data / "returnbridge.db").chmod(0o644)
    (data / "admin.key").write_text("a" * 43 + "\n")
    (data / "admin.key").chmod(0o644)

    result = subprocess.run(
        [sys.executable, "-m", "returnbridge.cli.main", "migrate"],
        env=cli_env(data),
        check=False,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert mode(data) == 0o700
    assert modes(data) == {"admin.key": 0o600, "returnbridge.db": 0o600}
    assert "tightened" in result.stderr


def test_a_key_whose_writing_fails_leaves_no_file_behind(tmp_path: Path) -> None:
    from returnbridge.datadir import write_new_private_file

    path = tmp_path / "admin.key"
    with pytest.raises(UnicodeEncodeError):
        write_new_private_file(path, "\udcff")  # cannot be encoded: fails mid-write
    assert list(tmp_path.iterdir()) == []


def test_a_new_private_file_never_replaces_an_existing_one(tmp_path: Path) -> None:
    from returnbridge.datadir import write_new_private_file

    path = tmp_path / "secret.key"
    assert write_new_private_file(path, "first\n") is True
    assert write_new_private_file(path, "second\n") is False
    assert path.read_text() == "first\n"
    assert modes(tmp_path) == {"secret.key": 0o600}
