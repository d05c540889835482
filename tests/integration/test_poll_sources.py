"""Poll sources against the vendor sandbox over loopback HTTP, on SQLite and PostgreSQL.

Each sync runs `run_sync` for real (httpx to the vendor, the store, the ingest path); DBOS is
launched without a worker, so stored returns are enqueued but not processed. The vendor's
revision history is the oracle: a revision that was current for the whole of some sync must
have been ingested, every record's last revision must be, and no revision is stored twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from dbos import DBOS
from sqlalchemy import func, select

from returnbridge.cli.servers import BackgroundServer
from returnbridge.engine.launch import launch_dbos, shutdown_dbos
from returnbridge.engine.poll_workflows import enqueue_poll, poll_tick, run_workflow_id
from returnbridge.engine.polling import SyncReport, run_sync
from returnbridge.engine.runtime import Runtime, close_runtime, open_runtime
from returnbridge.sandbox.vendor import create_app as create_vendor
from returnbridge.store.connections import create_connection
from returnbridge.store.sources import create_poll_source, get_source, pause_source
from returnbridge.store.tables import Return, ReturnRevision
from returnbridge.store.tenants import create_tenant
from support.gateway import gateway_settings

pytestmark = pytest.mark.timeout(300)

MAPPING = (
    Path(__file__).resolve().parents[2] / "src/returnbridge/sandbox/vendor/mapping.yaml"
).read_text()

STYLES: dict[str, dict[str, Any]] = {
    "page": {"pagination": "page", "page_size_param": "per_page"},
    "cursor": {"pagination": "cursor", "page_size_param": "limit"},
    "link": {"pagination": "link", "page_size_param": "per_page"},
}
PATHS = {"page": "/pages/returns", "cursor": "/cursor/returns", "link": "/link/returns"}


class Vendor:
    """The vendor sandbox on a loopback port and its controls."""

    def __init__(self, **options: Any) -> None:
        self.server = BackgroundServer(create_vendor(**options)).start()
        self.url = self.server.url
        self.control = httpx.Client(base_url=self.url, timeout=10)

    def post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.control.post(f"/_control/{path}", **kwargs)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def state(self) -> dict[str, Any]:
        body: dict[str, Any] = self.control.get("/_control/state").json()
        return body

    def close(self) -> None:
        self.control.close()
        self.server.stop()


@dataclass
class Poller:
    runtime: Runtime
    tenant_id: str
    connection_id: str
    vendor: Vendor

    def add_source(
        self,
        style: str = "page",
        *,
        name: str = "helpdesk",
        secrets: dict[str, Any] | None = None,
        mapping: str | None = MAPPING,
        **config: Any,
    ) -> str:
        values: dict[str, Any] = {
            "url": self.vendor.url + PATHS.get(style, "/feed/returns"),
            "page_size": 7,
            "overlap_seconds": 1,  # one clock: the lagging-clock test shows what it is for
            **STYLES.get(style, {}),
            **config,
        }
        with self.runtime.sessions.begin() as session:
            source = create_poll_source(
                session,
                self.tenant_id,
                connection_id=self.connection_id,
                name=name,
                config=values,
                secrets=secrets or {},
                cipher=self.runtime.cipher,
                mapping=mapping,
            )
        return source.id

    def sync(self, source_id: str) -> SyncReport:
        return run_sync(self.runtime, self.tenant_id, source_id)

    def source(self, source_id: str) -> Any:
        with self.runtime.reads() as session:
            return get_source(session, source_id, tenant_id=self.tenant_id)

    def ingested(self) -> list[tuple[str, int]]:
        """Every stored (external id, revision), one row per stored revision."""
        with self.runtime.reads() as session:
            rows = session.execute(
                select(Return.external_id, ReturnRevision.revision)
                .join(ReturnRevision, ReturnRevision.return_id == Return.id)
                .where(Return.tenant_id == self.tenant_id)
            ).all()
        return [(external_id, revision) for external_id, revision in rows]


@pytest.fixture
def vendor_factory() -> Iterator[Callable[..., Vendor]]:
    started: list[Vendor] = []

    def start(**options: Any) -> Vendor:
        started.append(Vendor(**options))
        return started[-1]

    yield start
    for vendor in started:
        vendor.close()


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """The store and DBOS (no worker: returns are enqueued, never processed)."""
    settings = gateway_settings(db_url, tmp_path)
    opened = open_runtime(settings)
    launch_dbos(settings, work=False)
    yield opened
    shutdown_dbos()
    close_runtime()


def _poller(runtime: Runtime, vendor: Vendor) -> Poller:
    with runtime.sessions.begin() as session:
        tenant, _ = create_tenant(session, "Acme")
        connection = create_connection(
            session,
            tenant.id,
            platform="shopify",
            name="main",
            base_url="https://acme.myshopify.com",
            credentials={"access_token": "shpat_x"},
            cipher=runtime.cipher,
        )
    return Poller(runtime, tenant.id, connection.id, vendor)


@pytest.fixture
def vendor(vendor_factory: Callable[..., Vendor]) -> Vendor:
    return vendor_factory()


@pytest.fixture
def poller(runtime: Runtime, vendor: Vendor) -> Poller:
    return _poller(runtime, vendor)


def _must_have(state: dict[str, Any], windows: list[tuple[int, int]]) -> set[tuple[str, int]]:
    """Revisions current for the whole of some sync, plus every record's last revision."""
    needed = {(r["id"], r["version"]) for r in state["records"]}
    for entry in state["history"]:
        for first, last in windows:
            if entry["since"] <= first and (entry["until"] is None or entry["until"] > last):
                needed.add((entry["id"], entry["version"]))
    return needed


def _churned_syncs(poller: Poller, source_id: str, rounds: int) -> list[SyncReport]:
    """``rounds`` syncs with churn on, then one after it stops; asserts the oracle."""
    vendor = poller.vendor
    vendor.post("churn", json={"enabled": True, "seed": 7})
    windows: list[tuple[int, int]] = []
    reports: list[SyncReport] = []
    for _ in range(rounds):
        first = vendor.state()["requests"] + 1
        reports.append(poller.sync(source_id))
        windows.append((first, vendor.state()["requests"]))
    vendor.post("churn", json={"enabled": False})
    first = vendor.state()["requests"] + 1
    reports.append(poller.sync(source_id))
    windows.append((first, vendor.state()["requests"]))
    state = vendor.state()

    ingested = poller.ingested()
    existed = {(h["id"], h["version"]) for h in state["history"]}
    assert len(ingested) == len(set(ingested)), "a revision was stored twice"
    assert set(ingested) <= existed
    missed = _must_have(state, windows) - set(ingested)
    assert missed == set(), f"missed {sorted(missed)}"
    return reports


@pytest.mark.parametrize("style", ["page", "cursor", "link"])
def test_twenty_syncs_of_changing_pages_ingest_every_revision_exactly_once(
    poller: Poller, style: str
) -> None:
    poller.vendor.post("seed", params={"count": 40})
    source_id = poller.add_source(style)
    first = poller.sync(source_id)
    assert (first.outcome, first.counts.new, first.counts.duplicate) == ("succeeded", 40, 0)

    reports = _churned_syncs(poller, source_id, 20)

    assert [r.outcome for r in reports] == ["succeeded"] * 21
    assert [r.counts.failed for r in reports] == [0] * 21
    ingested = poller.ingested()
    # every new revision counted once, every re-read (overlap, shifted pages) a duplicate
    assert first.counts.new + sum(r.counts.new for r in reports) == len(ingested)
    assert sum(r.counts.duplicate for r in reports) > 0
    hot = poller.vendor.post("churn", json={"enabled": False})["hot_id"]
    hot_revisions = sorted(rev for ext, rev in ingested if ext == hot)
    assert len(hot_revisions) >= 3  # the record updated again and again, each revision once
    source = poller.source(source_id)
    assert source.stats["resume"] is None
    assert source.stats["totals"]["new"] == len(ingested)
    assert source.last_error is None
    assert source.cursor is not None


def test_an_opaque_feed_cursor_survives_twenty_syncs_of_changing_records(poller: Poller) -> None:
    poller.vendor.post("seed", params={"count": 30})
    source_id = poller.add_source(
        "feed", pagination="cursor", cursor="opaque", page_size_param="limit"
    )
    assert poller.sync(source_id).counts.new == 30
    cursor = poller.source(source_id).cursor
    quiet = poller.sync(source_id)
    assert (quiet.counts.fetched, poller.source(source_id).cursor) == (0, cursor)

    reports = _churned_syncs(poller, source_id, 20)

    assert {r.outcome for r in reports} == {"succeeded"}
    assert poller.source(source_id).cursor != cursor


def test_vendor_failing_mid_sync_resumes_from_its_last_page_with_nothing_lost(
    poller: Poller,
) -> None:
    vendor = poller.vendor
    vendor.post("seed", params={"count": 30})
    source_id = poller.add_source("page", page_size=5, overlap_seconds=0)
    assert poller.sync(source_id).counts.new == 30
    watermark = poller.source(source_id).cursor
    for record in ("RMA-1001", "RMA-1002", "RMA-1003", "RMA-1004", "RMA-1005", "RMA-1006"):
        vendor.post(f"update/{record}")
    vendor.post("seed", params={"count": 12})  # 18 changed records: pages 1-4 of 5
    vendor.post("fail", json={"after": 2, "count": 2, "status": 503})
    requests_before = vendor.state()["requests"]

    failed = poller.sync(source_id)
    again = poller.sync(source_id)
    resumed = poller.sync(source_id)

    assert (failed.outcome, failed.error) == ("failed", "page 3: vendor answered HTTP 503")
    assert (failed.counts.pages, failed.counts.new) == (2, 10)
    assert again.outcome == "failed"
    assert (resumed.outcome, resumed.resumed) == ("succeeded", True)
    log = vendor.state()["log"][requests_before:]
    first_page = log[0]
    assert "page=1" in first_page
    assert "page=3" in log[2]
    assert "page=3" in log[3]  # the second run retried page 3 ...
    assert "page=3" in log[4]  # ... and the third carried on from it, same window
    since = first_page.split("updated_since=")[1].split("&")[0]
    assert all(f"updated_since={since}" in entry for entry in log)
    assert len(log) == 6  # pages 1, 2, 3 (503), 3 (503), 3, 4: nothing read twice
    assert resumed.counts.new == 18  # the resumed run's counts cover the whole sync
    source = poller.source(source_id)
    assert source.last_error is None
    assert source.cursor != watermark
    current = {(r["id"], r["version"]) for r in vendor.state()["records"]}
    assert current <= set(poller.ingested())


def test_a_failed_sync_keeps_its_watermark_and_says_why(poller: Poller) -> None:
    poller.vendor.post("seed", params={"count": 10})
    source_id = poller.add_source("page")
    poller.sync(source_id)
    watermark = poller.source(source_id).cursor
    poller.vendor.post("fail", json={"after": 0, "count": 1, "status": 500})

    report = poller.sync(source_id)

    source = poller.source(source_id)
    assert report.outcome == "failed"
    assert source.cursor == watermark
    assert source.last_error == "page 1: vendor answered HTTP 500"
    assert source.stats["last_run"]["outcome"] == "failed"
    assert source.stats["resume"]["position"] is None


@pytest.mark.parametrize(
    ("auth", "vendor_auth", "secrets", "wrong"),
    [
        ("bearer", {"token": "tok-123"}, {"token": "tok-123"}, {"token": "nope"}),
        (
            "basic",
            {"username": "acme", "password": "pw-123"},
            {"username": "acme", "password": "pw-123"},
            {"username": "acme", "password": "nope"},
        ),
        ("hmac", {"secret": "sec-123"}, {"secret": "sec-123"}, {"secret": "nope"}),
    ],
)
def test_each_auth_kind_is_accepted_and_a_wrong_secret_is_refused_without_echo(
    poller: Poller,
    auth: str,
    vendor_auth: dict[str, str],
    secrets: dict[str, str],
    wrong: dict[str, str],
) -> None:
    poller.vendor.post("seed", params={"count": 3})
    poller.vendor.post("auth", json={"kind": auth, **vendor_auth})
    good = poller.add_source("page", name="good", auth=auth, secrets=secrets)
    bad = poller.add_source("page", name="bad", auth=auth, secrets=wrong)

    assert poller.sync(good).counts.new == 3
    refused = poller.sync(bad)

    assert (refused.outcome, refused.error) == ("failed", "page 1: vendor answered HTTP 401")
    stored = poller.source(bad)
    for value in (*secrets.values(), *wrong.values()):
        assert value not in str(stored.stats)
        assert value not in str(stored.config)
        assert value not in stored.secrets_encrypted


def test_records_the_mapping_refuses_are_counted_failed_and_the_sync_goes_on(
    poller: Poller,
) -> None:
    poller.vendor.post("seed", params={"count": 4})
    broken = MAPPING.replace("quantity: {expr: qty, transform: integer}", "quantity: nothing")
    source_id = poller.add_source("page", mapping=broken)

    report = poller.sync(source_id)

    assert (report.outcome, report.counts.fetched, report.counts.failed) == ("succeeded", 4, 4)
    errors = poller.source(source_id).stats["errors"]
    assert errors
    assert "quantity" in errors[0]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_without_an_overlap_a_lagging_vendor_clock_loses_records(
    runtime: Runtime, vendor_factory: Callable[..., Vendor]
) -> None:
    # The overlap is what the exactly-once test relies on: a vendor whose clock runs 30 s
    # behind ours stamps changes made during a sync before the sync's start.
    def lagging() -> datetime:
        return datetime.now(UTC) - timedelta(seconds=30)

    for overlap, loses in ((0, True), (60, False)):
        poller = _poller(runtime, vendor_factory(clock=lagging))
        poller.vendor.post("seed", params={"count": 20})
        source_id = poller.add_source("page", name=f"lag-{overlap}", overlap_seconds=overlap)
        poller.sync(source_id)
        if loses:
            with pytest.raises(AssertionError, match="missed"):
                _churned_syncs(poller, source_id, 5)
        else:
            _churned_syncs(poller, source_id, 5)
        with runtime.reads() as session:
            assert session.scalar(select(func.count()).select_from(Return)) > 0


def test_the_tick_enqueues_each_due_active_source_once(poller: Poller) -> None:
    due = poller.add_source("page", name="due")
    paused = poller.add_source("page", name="paused")
    with poller.runtime.sessions.begin() as session:
        pause_source(session, paused, tenant_id=poller.tenant_id)
    now = datetime.now(UTC)

    poll_tick(now, None)
    poll_tick(now + timedelta(seconds=5), None)

    queued = DBOS.list_workflows(name="poll_source")
    expected = run_workflow_id(due, poller.source(due).next_run_at)
    assert [w.workflow_id for w in queued] == [expected]


def test_a_due_run_that_died_is_enqueued_again_under_a_new_id(poller: Poller) -> None:
    source_id = poller.add_source("page")
    due_id = run_workflow_id(source_id, poller.source(source_id).next_run_at)
    enqueue_poll(poller.tenant_id, source_id, due_id)
    DBOS.cancel_workflow(due_id)

    poll_tick(datetime(2030, 1, 1, 12, 30, tzinfo=UTC), None)

    ids = sorted(w.workflow_id for w in DBOS.list_workflows(name="poll_source"))
    assert ids == [due_id, f"{due_id}:again:20300101T1230"]
