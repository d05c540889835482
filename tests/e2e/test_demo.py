"""`returnbridge demo --once` as a user runs it: a real process, real servers on loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from returnbridge.cli.demo import DEMO_MARKER
from returnbridge.cli.servers import free_port, free_ports

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def run_demo_command(
    data_dir: Path, *extra: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "returnbridge.cli.main", "demo", "--once"),
            *("--data-dir", str(data_dir), "--port", str(free_port())),
            *("--sandbox-port", str(free_ports(5)), *extra),  # five sandboxes side by side
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(data_dir.parent)},
        check=False,
    )


@pytest.fixture(scope="module")
def first_demo_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One `demo --once` on a fresh data dir, shared by the tests that look at a first run.

    The demo takes several seconds (a real process, five servers, 23 returns), so the
    test of its output and the test of running it again use the same first run.
    """
    data_dir = tmp_path_factory.mktemp("first-demo") / "demo"
    return data_dir, run_demo_command(data_dir, "--timeout", "120", timeout=280)


def test_demo_once_processes_every_sample_return_and_exits_zero(
    first_demo_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = first_demo_run
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "all 25 sample returns on 5 platforms ended as expected" in output
    assert "Connectivity API: preview of 1 × " in output
    assert "MCP gateway: 6 tools (find_order, preview_refund, create_return" in output
    for external_id in ("TCK-5001", "EML-7002", "CHAT-3003", "IG-4004", "MKT-5005", "TEL-6006"):
        assert external_id in output
    # a merchant on each platform; the same order refunds the same on all four
    final_table = result.stdout[result.stdout.rindex("┃ expected") :]
    rows = [line for line in final_table.splitlines() if "same order," in line]
    assert len(rows) == 4, output[-4000:]
    assert all("19.80 USD" in row and "completed" in row for row in rows)
    for platform in ("shopify", "woocommerce", "bigcommerce", "shopline"):
        assert any(platform in row for row in rows)
    # the other ways in: a polled vendor record and a signed push through a mapping
    assert "polled helpdesk" in output
    assert "instagram:demo-1014" in output
    assert "signed push, mapped, approved" in output
    assert "needs_review" in output
    flat = " ".join(output.split())
    # the ways out: Loop-managed returns, the customers' emails, the vendor's callbacks
    assert "LOOP-9001" in output
    assert "2 returns in Loop (closed), refunded by Loop; 0 refunds by returnbridge" in flat
    assert "every signature verified (0 refused)" in flat


def test_the_demo_files_the_emails_it_sent_with_a_page_listing_them(
    first_demo_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    import email
    from email.policy import default

    data_dir, result = first_demo_run
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    folder = data_dir / "emails"
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=default)
        for path in sorted(folder.glob("*.eml"))
    ]
    assert len(messages) >= 10
    index = (folder / "index.html").read_text()
    assert index.count("'>.eml</a>") == len(messages)
    by_to = {str(m["To"]): m for m in messages}
    german = by_to["lena@example.de"]  # the Loop-managed refund, customer locale de-DE
    assert german["Content-Language"] == "de-DE"
    text = german.get_body(("plain",)).get_content().replace("\xa0", " ")
    assert "Erstattet insgesamt: 59,50 €" in text
    assert "Bearbeitet von Loop Returns." in text
    assert by_to["luc@example.fr"]["Subject"] == "Votre retour LOOP-9002 est terminé"
    assert len(by_to) == len(messages)  # one email per return


def test_demo_refuses_to_wipe_a_directory_it_did_not_create(tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")

    result = run_demo_command(precious)

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output
    assert f"refusing to delete {precious}" in output
    assert "--force" in output
    assert "Traceback" not in output
    assert (precious / "notes.txt").read_text() == "keep me"


def test_demo_refuses_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("keep me")
    result = run_demo_command(target, "--force")
    assert result.returncode != 0
    assert "is not a directory" in " ".join((result.stdout + result.stderr).split())
    assert target.read_text() == "keep me"


def test_only_demo_made_or_empty_directories_may_be_wiped(tmp_path: Path) -> None:
    from returnbridge.cli.demo import DemoDirRefusedError, prepare_demo_dir

    fresh = tmp_path / "fresh"
    prepare_demo_dir(fresh, force=False)
    assert (fresh / DEMO_MARKER).is_file()

    (fresh / "returnbridge.db").write_text("old run")
    prepare_demo_dir(fresh, force=False)  # the demo's own: wiped and marked again
    assert sorted(p.name for p in fresh.iterdir()) == [DEMO_MARKER]

    empty = tmp_path / "empty"
    empty.mkdir()
    prepare_demo_dir(empty, force=False)
    assert (empty / DEMO_MARKER).is_file()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "returnbridge.db").write_text("real data")
    with pytest.raises(DemoDirRefusedError, match="not made by `returnbridge demo`"):
        prepare_demo_dir(foreign, force=False)
    assert (foreign / "returnbridge.db").read_text() == "real data"

    prepare_demo_dir(foreign, force=True)
    assert sorted(p.name for p in foreign.iterdir()) == [DEMO_MARKER]


def test_demo_runs_again_on_the_data_dir_it_made(
    first_demo_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    data_dir, first = first_demo_run
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert (data_dir / DEMO_MARKER).is_file()
    second = run_demo_command(data_dir, "--timeout", "120", timeout=280)
    assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
    assert "all 25 sample returns on 5 platforms ended as expected" in second.stdout


def test_the_serving_demo_shows_its_returns_on_the_dashboard(tmp_path: Path) -> None:
    """What `make run` does: the demo keeps serving and prints the dashboard's address; signed
    in with the key it prints, the dashboard lists the demo's returns and its review queue."""
    data_dir = tmp_path / "demo"
    command = [
        *(sys.executable, "-m", "returnbridge.cli.main", "demo", "--data-dir", str(data_dir)),
        *("--port", str(free_port()), "--sandbox-port", str(free_ports(5))),
    ]
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    demo = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        assert demo.stdout is not None
        seen: list[str] = []
        key = dashboard = None
        for line in demo.stdout:
            seen.append(line)
            if found := re.search(r"Bearer (rbk_\S+)'", line):
                key = found.group(1)
            if found := re.search(r"dashboard: (http://\S+/dashboard)", line):
                dashboard = found.group(1)
            if "serving; press Ctrl-C" in line:
                break
        assert key, "".join(seen)[-3000:]
        assert dashboard, "".join(seen)[-3000:]
        with httpx.Client(base_url=dashboard.removesuffix("/dashboard"), timeout=30) as browser:
            signed_in = browser.post("/dashboard/sign-in", data={"key": key})
            assert signed_in.status_code == 303
            assert browser.cookies.get("rb_dashboard")
            page = browser.get("/dashboard/returns")
            assert page.status_code == 200
            for external_id in ("TCK-5001", "EML-7002", "CHAT-3003", "SHOP-1030", "TEL-6006"):
                assert external_id in page.text
            queue = browser.get("/dashboard/review")
            assert "TEL-6006" in queue.text  # the demo's ambiguous order waits there
    finally:
        demo.terminate()
        demo.wait(timeout=60)
