"""`returnbridge demo --once` as a user runs it: a real process, real servers on loopback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from returnbridge.cli.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_demo_once_processes_every_sample_return_and_exits_zero(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "returnbridge.cli.main",
            "demo",
            "--once",
            "--data-dir",
            str(tmp_path / "demo"),
            "--port",
            str(free_port()),
            "--sandbox-port",
            str(free_port()),
            "--timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=280,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "all 11 sample returns ended as expected" in output
    for external_id in ("TCK-5001", "EML-7002", "CHAT-3003", "IG-4004", "MKT-5005", "TEL-6006"):
        assert external_id in output
    assert "needs_review" in output
