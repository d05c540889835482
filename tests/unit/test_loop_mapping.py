"""Loop's return JSON as our `ExternalReturn`, and the connector's pure helpers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from returnbridge.connectors.base.returns_system import ReturnLine, ReturnsSystemRequest
from returnbridge.connectors.loop.connector import (
    ADD_ITEM,
    NOTE_LIMIT,
    SUBMIT,
    _key_note,
    _loop_line_id,
    _relative,
    _template_target,
    truncate_note,
    windows,
)
from returnbridge.connectors.loop.mapping import external_return, numeric_id
from returnbridge.domain.errors import DomainError


def test_a_detailed_return_maps_amounts_states_and_units() -> None:
    body = {
        "id": 42,
        "state": "needs review",
        "order_name": "#1001",
        "currency": "EUR",
        "refund": "0.00",
        "total": "10.00",
        "return_total": "63.30",
        "return_product_total": "70.00",
        "return_tax_total": "3.30",
        "return_discount_total": "10.00",
        "updated_at": "2026-11-28 10:00:00",
        "line_items": [
            {"line_item_id": 1, "provider_line_item_id": "111", "reason": "too small"},
            {"line_item_id": 2, "provider_line_item_id": "111", "reason": "other"},
            {"line_item_id": 3, "provider_line_item_id": "222", "quantity": 2},
            "junk",
        ],
    }
    found = external_return(body)
    assert (found.id, found.state, found.order_name, found.currency) == (
        "42",
        "review",
        "#1001",
        "EUR",
    )
    assert (found.refund, found.total) == (Decimal("0.00"), Decimal("63.30"))
    assert (found.product_total, found.tax_total, found.discount_total) == (
        Decimal("70.00"), Decimal("3.30"), Decimal("10.00")
    )  # fmt: skip
    assert found.lines == (ReturnLine("111", 2, "too small"), ReturnLine("222", 2, None))
    assert found.updated_at == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert found.processing_error is None
    assert found.raw is body


def test_missing_or_odd_amounts_are_none() -> None:
    found = external_return({"id": "7", "refund": None, "total": "NaN", "return_tax_total": "x"})
    assert (found.state, found.refund, found.total, found.tax_total) == ("open", None, None, None)
    assert found.updated_at is None
    assert found.lines == ()


def test_store_ids_become_loops_numeric_ids() -> None:
    assert numeric_id("gid://shopify/LineItem/123") == "123"
    assert numeric_id("456") == "456"
    assert _loop_line_id("gid://shopify/LineItem/123") == 123
    with pytest.raises(DomainError, match="no numeric id"):
        _loop_line_id("line-abc")


def test_notes_stay_under_255_characters_and_keep_the_key_first() -> None:
    request = ReturnsSystemRequest("rb-key-1", "#1", None, "a@b.c", (), note="word " * 100)
    note = truncate_note(_key_note(request))
    assert note.startswith("returnbridge key rb-key-1: word")
    assert len(note) <= NOTE_LIMIT
    assert note.endswith("word…")
    assert truncate_note("short\nnote") == "short note"
    assert len(truncate_note("x" * 600)) == NOTE_LIMIT


def test_long_ranges_are_cut_into_windows_loop_accepts() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cut = windows(start, start + timedelta(days=300))
    assert len(cut) == 3
    assert all(end - begin <= timedelta(days=120) for begin, end in cut)
    assert cut[0][0] == start
    assert cut[-1][1] == start + timedelta(days=300)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cut))
    assert windows(start, start) == []


def test_hypermedia_targets_stay_on_our_pinned_api_root() -> None:
    draft = {
        "draft_return": {"id": 5},
        "_templates": {
            "add-line-item": {
                "target": "https://evil.example/api/2026-10/draft-returns/5/line-items"
            },
            "submit": {"target": "/api/v1/draft-returns/5/submit"},
        },
    }
    assert _template_target(draft, ADD_ITEM, "x") == "draft-returns/5/line-items"
    assert _template_target(draft, SUBMIT, "x") == "draft-returns/5/submit"
    bare = {"draft_return": {"id": 6}}
    assert _template_target(bare, SUBMIT, "submit") == "draft-returns/6/submit"


def test_loops_own_relation_names_come_first_and_links_also_serve() -> None:
    root = "https://api.loopreturns.com/api/2026-10/draft-returns/7"
    draft = {
        "draft_return": {"id": 7},
        "_templates": {
            "add-returning-item": {"target": f"{root}/returning-items"},
            "add-line-item": {"target": f"{root}/line-items"},
        },
        "_links": {"submit-draft-return": {"href": f"{root}/submit"}},
    }
    assert _template_target(draft, ADD_ITEM, "x") == "draft-returns/7/returning-items"
    assert _template_target(draft, SUBMIT, "x") == "draft-returns/7/submit"


def test_a_next_page_url_is_followed_on_our_own_host() -> None:
    url = "https://elsewhere.example/api/2026-10/warehouse/return/list?cursor=5&pageSize=2"
    assert _relative(url) == "warehouse/return/list"
    assert _relative("/api/2026-10/warehouse/return/list?cursor=5") == "warehouse/return/list"
