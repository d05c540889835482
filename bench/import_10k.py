"""Bulk import at size: 10,000 rows, interrupted halfway with SIGINT, resumed, then re-run.

Runs the real `returnbridge import` command on a fresh SQLite data dir (not part of `make
test`). It generates a file with a bad row every `--bad-every` rows, sends SIGINT once the
checkpoint passes half the file, resumes, re-runs, and checks the outcome: every good row
stored once with one queued workflow, every bad row in the report once, nothing new on the
re-run. Prints each phase's wall time and CPU. Rerun:

    .venv/bin/python bench/import_10k.py [--rows 10000] [--format jsonl|csv] [--keep DIR]
        [--database-url postgresql+psycopg://...]   # an empty database
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

BAD_KINDS = ("quantity", "json", "order", "currency")


def _good(index: int) -> dict[str, object]:
    return {
        "external_id": f"BULK-{index:06d}",
        "channel": "email",
        "order": {"order_number": f"#{10000 + index}", "customer_email": f"c{index}@example.com"},
        "lines": [{"sku": f"SKU-{index % 50}", "quantity": 1 + index % 3, "reason": "too small"}],
        "refund": {"currency": "USD"},
    }


def write_file(path: Path, *, rows: int, bad_every: int, fmt: str) -> int:
    """The import file; returns how many of its rows are bad."""
    bad = 0
    records: list[dict[str, object] | str] = []
    for index in range(rows):
        record: dict[str, object] | str = _good(index)
        if index % bad_every == bad_every - 1:
            bad += 1
            kind = BAD_KINDS[(index // bad_every) % len(BAD_KINDS)]
            assert isinstance(record, dict)
            if kind == "quantity":
                record["lines"] = [{"sku": "SKU-1", "quantity": 0}]
            elif kind == "order":
                record["order"] = {}
            elif kind == "currency":
                record["refund"] = {"currency": "XXZ"}
            else:
                record = '{"external_id": "BROKEN-' + str(index)
        records.append(record)
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8") as stream:
            for record in records:
                stream.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
        return bad
    with path.open("w", encoding="utf-8", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(
            [
                *("external_id", "channel", "order_number", "customer_email", "currency"),
                *("sku", "quantity", "reason"),
            ]
        )
        for index, record in enumerate(records):
            if isinstance(record, str):  # a row with a broken quote: one bad CSV row
                stream.write(f'BROKEN-{index},"email"x,#1,,USD,SKU-1,1,\n')
                continue
            order = record["order"]
            line = record["lines"][0]  # type: ignore[index]
            assert isinstance(order, dict)
            assert isinstance(line, dict)
            refund = record["refund"]
            assert isinstance(refund, dict)
            out.writerow(
                [
                    record["external_id"],
                    record["channel"],
                    order.get("order_number", ""),
                    order.get("customer_email", ""),
                    refund["currency"],
                    line["sku"],
                    line["quantity"],
                    line.get("reason", ""),
                ]
            )
    return bad


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "returnbridge.cli.main", *args]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _phase(
    name: str,
    args: list[str],
    env: dict[str, str],
    *,
    interrupt_at: Path | None = None,
    halfway: int = 0,
) -> tuple[int, float, float]:
    print(f"\n== {name}: {' '.join(args[2:])}", flush=True)
    started, cpu = time.monotonic(), _cpu()
    process = subprocess.Popen(args, env=env)
    if interrupt_at is not None:
        while process.poll() is None:
            try:
                row = json.loads(interrupt_at.read_text()).get("row", 0)
            except (OSError, ValueError):
                row = 0
            if row >= halfway:
                process.send_signal(signal.SIGINT)
                print(f"\n-- SIGINT sent at checkpoint row {row}", flush=True)
                break
            time.sleep(0.05)
    code = process.wait()
    return code, time.monotonic() - started, _cpu() - cpu


def _count(url: str, query: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(query)).scalar_one())
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--bad-every", type=int, default=97)
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database (default: SQLite in the work dir)"
    )
    options = parser.parse_args()

    work = options.keep or Path(tempfile.mkdtemp(prefix="rb-import-"))
    shutil.rmtree(work / "data", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    env |= {"RETURNBRIDGE_DATA_DIR": str(work / "data"), "COLUMNS": "120"}
    database = f"sqlite:///{work / 'data' / 'returnbridge.db'}"
    workflow_table = f"sqlite:///{work / 'data' / 'dbos.sqlite'}", "workflow_status"
    if options.database_url:
        env["RETURNBRIDGE_DATABASE_URL"] = database = options.database_url
        workflow_table = database, "dbos.workflow_status"
    created = subprocess.run(
        _cli("tenants", "create", "bench"), env=env, check=True, capture_output=True, text=True
    )
    tenant = created.stdout.split()[1]
    subprocess.run(
        _cli(
            "connections",
            "add",
            tenant,
            "--base-url",
            "https://bench.myshopify.com",
            "--access-token",
            "shpat_bench",
        ),
        env=env,
        check=True,
        capture_output=True,
    )
    source = work / f"returns.{options.format}"
    bad = write_file(source, rows=options.rows, bad_every=options.bad_every, fmt=options.format)
    good = options.rows - bad
    state = source.with_name(f"{source.name}.import-state.json")
    report = source.with_name(f"{source.name}.import-report.jsonl")
    for stale in (state, report):
        stale.unlink(missing_ok=True)
    print(f"{source}: {options.rows} rows ({good} good, {bad} bad)")

    command = _cli("import", str(source))
    first = _phase(
        "import, interrupted halfway", command, env, interrupt_at=state, halfway=options.rows // 2
    )
    stopped_at = json.loads(state.read_text())["row"]
    second = _phase("resume", command, env)
    returns = _count(database, "select count(*) from returns")
    revisions = _count(database, "select count(*) from return_revisions")
    workflows = _count(workflow_table[0], f"select count(*) from {workflow_table[1]}")
    reported = [json.loads(line) for line in report.read_text().splitlines()]
    third = _phase("re-run", command, env)
    after = json.loads(state.read_text())["counts"]
    returns_after = _count(database, "select count(*) from returns")
    reported_again = len(report.read_text().splitlines())

    checks = {
        "interrupted run exits 130": first[0] == 130,
        "interrupted before the end": 0 < stopped_at < options.rows,
        "resumed run exits 1 (bad rows)": second[0] == 1,
        f"{good} good rows -> {good} returns": returns == good,
        "one revision per return": revisions == good,
        "one workflow queued per return": workflows == good,
        f"{bad} bad rows reported once each": len(reported) == bad
        and len({entry["row"] for entry in reported}) == bad,
        "re-run: nothing new": after["new"] == 0 and returns_after == good,
        f"re-run: {good} duplicates, {bad} bad": after["duplicate"] == good
        and after["bad"] == bad == reported_again,
    }
    print("\n== results")
    for name, (code, wall, cpu) in (("interrupted", first), ("resume", second), ("re-run", third)):
        print(f"{name:12} exit {code:3}  wall {wall:6.1f}s  cpu {cpu:6.1f}s")
    total_wall = first[1] + second[1]
    print(
        f"first import (interrupted + resumed): {options.rows} rows in {total_wall:.1f}s wall,"
        f" {first[2] + second[2]:.1f}s CPU ({options.rows / total_wall:.0f} rows/s)"
    )
    print(
        f"stopped at row {stopped_at}; returns {returns}, revisions {revisions}, workflows"
        f" {workflows}, report lines {len(reported)}; re-run counts {after}"
    )
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    if options.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
