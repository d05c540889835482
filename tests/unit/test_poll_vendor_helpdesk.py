"""The vendor sandbox's record store: the churn and history the poll tests rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from returnbridge.sandbox.vendor.helpdesk import FailurePlan, Helpdesk


def _stepping() -> Helpdesk:
    moments = iter(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i) for i in range(10_000))
    return Helpdesk(clock=lambda: next(moments))


def test_an_update_moves_a_record_to_the_head_and_records_its_revisions() -> None:
    desk = _stepping()
    desk.seed(5)
    desk.update("RMA-1001")
    listing = desk.listing(None)
    assert [r["id"] for r in listing][:2] == ["RMA-1001", "RMA-1005"]
    versions = [(h["id"], h["version"], h["until"]) for h in desk.state()["history"]]
    assert ("RMA-1001", 1, 0) in versions
    assert ("RMA-1001", 2, None) in versions


def test_churn_inserts_at_the_head_and_updates_the_hot_record_again_and_again() -> None:
    desk = _stepping()
    desk.seed(10)
    desk.start_churn(3)
    hot = desk.hot_id
    for _ in range(6):
        assert desk.begin_request() is None
    assert len(desk.records) == 16
    assert hot is not None
    assert desk.records[hot]["version"] >= 3


def test_a_failure_plan_fails_after_some_requests_then_recovers() -> None:
    desk = _stepping()
    desk.failure = FailurePlan(after=2, count=2, status=503)
    assert [desk.begin_request() for _ in range(5)] == [None, None, 503, 503, None]


def test_listing_filters_by_updated_since_strictly() -> None:
    desk = _stepping()
    desk.seed(3)
    middle = datetime.fromisoformat(desk.records["RMA-1002"]["updated_at"].replace("Z", "+00:00"))
    assert [r["id"] for r in desk.listing(middle)] == ["RMA-1003"]
