"""Queue partitions: a store's returns in lanes by order, never two of one order at once."""

from __future__ import annotations

from returnbridge.engine.queueing import order_key, partition_key


def test_an_order_is_named_by_its_id_else_its_number_else_the_customer_email() -> None:
    assert order_key({"platform_order_id": "gid://shopify/Order/1", "order_number": "#7"}) == (
        "id:gid://shopify/Order/1"
    )
    assert order_key({"order_number": " #1001 "}) == order_key({"order_number": "1001"})
    assert order_key({"customer_email": "Jane@Example.com "}) == "email:jane@example.com"
    assert order_key({}) is None
    assert order_key(None) is None


def test_returns_of_one_order_share_a_lane_and_a_store_has_at_most_its_lanes() -> None:
    one = partition_key("con_1", {"order_number": "#1001"}, lanes=4)
    assert one == partition_key("con_1", {"order_number": "1001"}, lanes=4)
    lanes = {partition_key("con_1", {"order_number": str(n)}, lanes=4) for n in range(200)}
    assert lanes == {"con_1:0", "con_1:1", "con_1:2", "con_1:3"}
    assert partition_key("con_2", {"order_number": "1001"}, lanes=4).startswith("con_2:")
    assert "@" not in partition_key("con_1", {"customer_email": "a@b.c"}, lanes=4)


def test_one_lane_or_partitioned_by_connection_a_store_shares_one_partition() -> None:
    assert partition_key("con_1", {"order_number": "1001"}, lanes=1) == "con_1"
    assert partition_key("con_1", {"order_number": "1001"}, by="connection", lanes=4) == "con_1"
    assert partition_key("con_1", None, lanes=4) == "con_1"
