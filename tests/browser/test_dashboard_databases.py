"""The dashboard's own queries on both databases (SQLite and PostgreSQL), over plain HTTP with
a whole gateway: the search through the vendor's order reference (a JSON column read as
text), the charts' figures, a return's refund, the connections' history from the database,
a push source's deliveries."""

from __future__ import annotations

import json
import re

import httpx

from returnbridge.cli.push_cmd import send_push
from support.gateway import Gateway, simple_order


def _key(gateway: Gateway) -> str:
    return str(gateway.api.headers["Authorization"]).removeprefix("Bearer ")


def test_search_charts_refund_and_connection_history_on_each_database(
    db_gateway: Gateway,
) -> None:
    gateway = db_gateway
    gateway.sandbox.seed_order(simple_order(8001, email="pat@example.com"))
    gateway.sandbox.seed_order(simple_order(8002, email="ida_100%@example.com"))
    gateway.sandbox.seed_order(simple_order(8003, email="ida_100%@example.com"))
    done = gateway.wait_for(
        gateway.post_return(
            {
                "external_id": "WEB-81",
                "channel": "web",
                "order": {"order_number": "#8001"},
                "lines": [{"sku": "MUG-WHT", "quantity": 1}],
                "refund": {"restocking_fee": {"type": "fixed", "amount": "1.50"}},
            }
        ).json()["return"]["id"]
    )
    parked = gateway.wait_for(
        gateway.post_return(
            {
                "external_id": "DM-82",
                "channel": "social",
                "order": {"customer_email": "ida_100%@example.com"},
                "lines": [{"sku": "MUG-WHT", "quantity": 1}],
            }
        ).json()["return"]["id"]
    )
    assert (done["status"], parked["status"]) == ("completed", "needs_review")

    with httpx.Client(base_url=gateway.server.url, timeout=30) as browser:
        signed = browser.post("/dashboard/sign-in", data={"key": _key(gateway)})
        assert signed.status_code == 303

        # The order reference the vendor sent is searched, its % and _ taken literally.
        found = browser.get("/dashboard/returns", params={"q": "IDA_100%"})
        assert "DM-82" in found.text
        assert "WEB-81" not in found.text
        assert "DM-82" not in browser.get("/dashboard/returns", params={"q": "ida%pat"}).text
        assert "WEB-81" in browser.get("/dashboard/returns", params={"q": "#8001"}).text

        listing = browser.get("/dashboard/returns").text
        assert "2 returns in the last 14 days" in listing
        assert "1 refunded returns" in listing
        assert re.search(r"Refunded per day, USD.*9\.35 USD refunded", listing, re.S)

        one = browser.get(f"/dashboard/returns/{done['id']}").text
        fee = re.search(
            r'<tr class="fee"><td colspan="5">Restocking fee kept back</td>'
            r'<td class="num">(-?[\d.]+) USD</td>',
            one,
        )
        assert fee
        assert fee.group(1) == "-1.50"
        total = re.search(r'<tr class="total">.*?<td class="num">([\d.]+) USD</td>', one, re.S)
        assert total
        assert total.group(1) == "9.35"
        assert done["refunds"][0]["platform_refund_id"] in one

        connections = browser.get("/dashboard/connections").text
        row = connections[connections.index("<tbody>") :]
        assert re.search(r'<td class="num">2</td>', row)
        assert done["refunds"][0]["platform_refund_id"] in row


def test_a_push_source_shows_its_deliveries_on_each_database(db_gateway: Gateway) -> None:
    gateway = db_gateway
    gateway.sandbox.seed_order(simple_order(8101))
    created = gateway.api.post("/v1/push-sources", json={"name": "helpdesk-push"})
    assert created.status_code == 201, created.text
    source = created.json()
    event = {
        "external_id": "PUSH-1",
        "channel": "ticket",
        "order": {"platform_order_id": "gid://shopify/Order/8101"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    with httpx.Client(base_url=gateway.server.url, timeout=30) as vendor:
        path = f"/v1/push-sources/{source['id']}/deliveries"
        sent = send_push(vendor, path, json.dumps(event).encode(), secret=source["secret"])
        assert sent.status_code == 202, sent.text
        browser = vendor
        assert browser.post("/dashboard/sign-in", data={"key": _key(gateway)}).status_code == 303
        before = browser.get("/dashboard/sources").text
        row = before[before.index("helpdesk-push") :]
        row = row[: row.index("</tr>")]
        assert re.search(r"<td>1, last \d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>", row), row
