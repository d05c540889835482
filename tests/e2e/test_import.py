"""`returnbridge import` as a user runs it: a real child process on a real database.

Bad rows land in the report with their field; SIGINT halfway leaves a checkpoint the next run
resumes from, so every good row is stored exactly once; a re-run creates nothing new.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from returnbridge.store.connections import create_connection
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.database import create_engine_for, migrate, session_factory
from returnbridge.store.tables import Return, ReturnRevision
from returnbridge.store.tenants import create_tenant
from support.gateway import Sandbox
from support.processes import CommandProcess, process_env, seed_database, wait_until

pytestmark = pytest.mark.timeout(240)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Target:
    """A migrated database with one tenant and one connection, and the CLI's environment."""

    def __init__(self, db_url: str, work: Path) -> None:
        self.db_url = db_url
        key = CredentialCipher.generate_key()
        migrate(db_url)
        self.engine = create_engine_for(db_url)
        with session_factory(self.engine).begin() as session:
            tenant, _ = create_tenant(session, "Acme")
            create_connection(
                session,
                tenant.id,
                platform="shopify",
                name="main",
                base_url="https://acme.myshopify.com",
                credentials={"access_token": "shpat_test"},
                cipher=CredentialCipher(key),
                settings={},
            )
            self.tenant_id = tenant.id
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
        env |= {
            "RETURNBRIDGE_DATA_DIR": str(work / "data"),
            "RETURNBRIDGE_DATABASE_URL": db_url,
            "RETURNBRIDGE_SECRET_KEY": key,
            "COLUMNS": "200",
        }
        if make_url(db_url).get_backend_name() == "sqlite":
            env["RETURNBRIDGE_SYSTEM_DATABASE_URL"] = f"sqlite:///{work / 'dbos.sqlite'}"
        self.env = env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "returnbridge.cli.main", "import", *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def count(self, table: type[Any]) -> int:
        with session_factory(self.engine)() as session:
            return int(session.scalar(select(func.count()).select_from(table)) or 0)

    def revisions_per_return(self) -> set[int]:
        with session_factory(self.engine)() as session:
            rows = session.execute(
                select(func.count()).select_from(ReturnRevision).group_by(ReturnRevision.return_id)
            )
            return {int(count) for (count,) in rows}


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    target = Target(f"sqlite:///{tmp_path / 'returnbridge.db'}", tmp_path)
    yield target
    target.engine.dispose()


def canonical(index: int) -> dict[str, Any]:
    return {
        "external_id": f"R-{index:05d}",
        "order": {"order_number": f"#{1000 + index}"},
        "lines": [{"sku": f"SKU-{index % 7}", "quantity": 1 + index % 2}],
    }


def write_jsonl(path: Path, rows: int, *, bad: dict[int, str]) -> None:
    """`rows` canonical returns; row numbers (1-based) in `bad` hold the given text instead."""
    with path.open("w", encoding="utf-8") as stream:
        for index in range(rows):
            stream.write(bad.get(index + 1, json.dumps(canonical(index))) + "\n")


def report_of(path: Path) -> list[dict[str, Any]]:
    report = path.with_name(f"{path.name}.import-report.jsonl")
    return [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]


BAD_ROWS = {
    4: json.dumps(canonical(3) | {"lines": [{"sku": "A", "quantity": 0}]}),
    50: "{not json",
    120: json.dumps(canonical(119) | {"order": {}}),
    233: json.dumps(canonical(232) | {"refund": {"currency": "XYZ"}}),
}


def test_bad_rows_are_reported_with_their_field_and_the_good_ones_stored(
    target: Target, tmp_path: Path
) -> None:
    source = tmp_path / "returns.jsonl"
    write_jsonl(source, 300, bad=BAD_ROWS)

    result = target.run(str(source))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "new 296" in result.stdout
    assert "bad 4" in result.stdout
    assert target.count(Return) == 296
    reported = {entry["row"]: entry for entry in report_of(source)}
    assert sorted(reported) == sorted(BAD_ROWS)
    assert reported[4]["external_id"] == "R-00003"
    assert reported[4]["errors"][0]["field"] == "lines[0].quantity"
    assert reported[50]["errors"][0]["reason"].startswith("not valid JSON")
    assert reported[120]["errors"][0]["field"] == "order"
    assert reported[233]["errors"][0]["field"] == "refund.currency"


def interrupt_once_started(
    target: Target, source: Path, *, how: signal.Signals = signal.SIGINT
) -> subprocess.CompletedProcess[str]:
    """Run the import and send `how` once its first batch is checkpointed."""
    state = source.with_name(f"{source.name}.import-state.json")
    process = subprocess.Popen(
        target.command(str(source)),
        env=target.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        try:
            row = json.loads(state.read_text(encoding="utf-8")).get("row", 0)
        except (OSError, ValueError):
            row = 0
        if row > 0:
            process.send_signal(how)
            break
        time.sleep(0.01)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_sigint_halfway_then_resume_stores_every_good_row_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    target = Target(db_url, tmp_path)
    rows = 600
    source = tmp_path / "returns.jsonl"
    write_jsonl(source, rows, bad={**BAD_ROWS, 550: "[1, 2]"})
    good = rows - len(BAD_ROWS) - 1

    stopped = interrupt_once_started(target, source)

    assert stopped.returncode == 130, stopped.stdout + stopped.stderr
    assert "to resume, run the same command again" in " ".join(stopped.stdout.split())
    state = json.loads(source.with_name(f"{source.name}.import-state.json").read_text())
    assert 0 < state["row"] < rows
    assert 0 < target.count(Return) < good

    resumed = target.run(str(source))

    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    assert f"resuming after row {state['row']}" in resumed.stdout
    assert target.count(Return) == good
    assert target.revisions_per_return() == {1}
    assert sorted(entry["row"] for entry in report_of(source)) == sorted([*BAD_ROWS, 550])

    rerun = target.run(str(source))

    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    assert f"new 0 · updated 0 · duplicate {good} · bad 5" in rerun.stdout
    assert target.count(Return) == good
    assert target.count(ReturnRevision) == good
    target.engine.dispose()


def test_a_crash_halfway_then_resume_queues_a_workflow_for_every_return(
    target: Target, tmp_path: Path
) -> None:
    source = tmp_path / "returns.jsonl"
    write_jsonl(source, 600, bad={})

    killed = interrupt_once_started(target, source, how=signal.SIGKILL)
    resumed = target.run(str(source))

    assert killed.returncode == -signal.SIGKILL
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert target.count(Return) == 600
    assert target.revisions_per_return() == {1}
    with sqlite3.connect(tmp_path / "dbos.sqlite") as system:
        (workflows,) = system.execute("select count(*) from workflow_status").fetchone()
    assert workflows == 600


def test_a_second_import_of_the_same_file_at_once_is_refused(
    target: Target, tmp_path: Path
) -> None:
    source = tmp_path / "returns.jsonl"
    write_jsonl(source, 3, bad={})
    report = source.with_name(f"{source.name}.import-report.jsonl")
    with report.open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        result = target.run(str(source))

    assert result.returncode == 2
    assert "another import of returns.jsonl is running" in " ".join(result.stderr.split())
    assert target.count(Return) == 0


def test_a_return_imported_from_another_file_is_a_duplicate(target: Target, tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(first, 20, bad={})
    with second.open("w", encoding="utf-8") as stream:
        for index in (5, 25, 6):  # two already imported from a.jsonl, one new
            stream.write(json.dumps(canonical(index)) + "\n")
        changed = canonical(7) | {"lines": [{"sku": "OTHER", "quantity": 3}]}
        stream.write(json.dumps(changed) + "\n")

    assert target.run(str(first)).returncode == 0
    result = target.run(str(second))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "new 1 · updated 0 · duplicate 2 · bad 1" in result.stdout
    (conflict,) = report_of(second)
    assert conflict["row"] == 4
    assert conflict["errors"][0]["field"] == "revision"
    assert "higher revision" in conflict["errors"][0]["reason"]
    assert target.count(Return) == 21


def test_csv_rows_of_one_return_become_its_lines(target: Target, tmp_path: Path) -> None:
    source = tmp_path / "returns.csv"
    source.write_text(
        "external_id,order_number,customer_email,sku,quantity,reason\n"
        "C-1,#1001,a@example.com,BOOT-42,1,too small\n"
        "C-1,#1001,a@example.com,SOCK-1,2,\n"
        "C-2,#1002,,HAT-1,two,\n"
        "C-3,,b@example.com,HAT-2,1,wrong colour\n",
        encoding="utf-8",
    )

    result = target.run(str(source))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "new 2" in result.stdout
    with session_factory(target.engine)() as session:
        stored = {r.external_id: r for r in session.scalars(select(Return))}
    assert sorted(stored) == ["C-1", "C-3"]
    lines = stored["C-1"].payload["lines"]
    assert [(line["sku"], line["quantity"]) for line in lines] == [("BOOT-42", 1), ("SOCK-1", 2)]
    (bad,) = report_of(source)
    assert bad["row"] == 4
    assert bad["external_id"] == "C-2"
    assert bad["errors"] == [{"field": "row 4: quantity", "reason": "not a whole number: 'two'"}]


def test_a_mapping_shapes_each_vendor_payload(target: Target, tmp_path: Path) -> None:
    sample = json.loads((EXAMPLES / "mappings" / "helpdesk-ticket.json").read_text())
    source = tmp_path / "tickets.jsonl"
    with source.open("w", encoding="utf-8") as stream:
        for ticket_id in (1, 2, 3):
            ticket = json.loads(json.dumps(sample))
            ticket["ticket"]["id"] = ticket_id
            if ticket_id == 2:
                del ticket["ticket"]["requester"]
            stream.write(json.dumps(ticket) + "\n")

    result = target.run(str(source), "--mapping", str(EXAMPLES / "mappings/helpdesk-ticket.yaml"))

    assert result.returncode == 1, result.stdout + result.stderr
    with session_factory(target.engine)() as session:
        stored = {r.external_id: r for r in session.scalars(select(Return))}
    assert sorted(stored) == ["1", "3"]
    assert stored["1"].channel == "ticket"
    assert stored["1"].source == "import"
    (bad,) = report_of(source)
    assert bad["row"] == 2
    assert bad["external_id"] == "2"
    assert bad["errors"][0]["field"] == "order.customer_email"
    assert bad["errors"][0]["source"] == "ticket.requester.email"


def test_the_shipped_examples_import_cleanly(target: Target, tmp_path: Path) -> None:
    for name in ("returns.jsonl", "returns.csv"):
        copy = tmp_path / name
        shutil.copyfile(EXAMPLES / "import" / name, copy)
        result = target.run(str(copy))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "bad 0" in result.stdout


@pytest.mark.parametrize(
    ("content", "args", "sentence"),
    [
        ("external_id,colour\nA,red\n", [], "unknown CSV column 'colour'"),
        ("{}\n", ["--tenant", "ten_nobody"], "no tenant ten_nobody"),
        ("{}\n", ["--connection", "other"], "no connection named or with id other"),
        ("{}\n", ["--format", "xml"], "give --format jsonl or --format csv"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(
    target: Target, tmp_path: Path, content: str, args: list[str], sentence: str
) -> None:
    source = tmp_path / ("bad.csv" if content.startswith("external_id") else "rows.jsonl")
    source.write_text(content, encoding="utf-8")

    result = target.run(str(source), *args)

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output
    assert sentence in output
    assert "Traceback" not in output
    assert target.count(Return) == 0


def test_a_running_worker_picks_up_the_imported_returns(tmp_path: Path, sandbox: Sandbox) -> None:
    db_url = f"sqlite:///{tmp_path / 'returnbridge.db'}"
    key, _api_key = seed_database(db_url, sandbox)
    env = process_env(db_url, tmp_path, secret_key=key)
    worker = CommandProcess(["worker"], env=env, log=tmp_path / "worker.log")
    worker.start()
    try:
        source = tmp_path / "returns.jsonl"
        write_jsonl(source, 5, bad={})  # orders the shop does not have: they go to review
        result = subprocess.run(
            [sys.executable, "-m", "returnbridge.cli.main", "import", str(source)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        engine = create_engine_for(db_url)

        def statuses() -> set[str]:
            worker.assert_running()
            with session_factory(engine)() as session:
                return set(session.scalars(select(Return.status)))

        wait_until(
            lambda: statuses() == {"needs_review"}, timeout=90, what="the worker to run them"
        )
        engine.dispose()
    finally:
        worker.stop()


def test_revisions_of_one_return_apply_in_file_order(db_url: str, tmp_path: Path) -> None:
    target = Target(db_url, tmp_path)
    source = tmp_path / "revisions.jsonl"
    with source.open("w", encoding="utf-8") as stream:
        for index in range(150):  # others around it, so a batch is split over threads
            stream.write(json.dumps(canonical(index)) + "\n")
            if index in (10, 60):
                revision = 2 if index == 10 else 3
                stream.write(json.dumps(canonical(0) | {"revision": revision}) + "\n")

    result = target.run(str(source))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "new 150 · updated 2 · duplicate 0 · bad 0" in result.stdout
    with session_factory(target.engine)() as session:
        stored = session.scalars(select(Return).where(Return.external_id == "R-00000")).one()
    assert stored.revision == 3
    target.engine.dispose()
