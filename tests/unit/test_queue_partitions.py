"""Queue partitions: one order of one connection at a time, the rest of a store alongside."""

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


def test_returns_of_one_order_share_a_partition_and_other_orders_do_not() -> None:
    one = partition_key("con_1", {"order_number": "#1001"})
    assert one == partition_key("con_1", {"order_number": "1001"})
    assert one != partition_key("con_1", {"order_number": "1002"})
    assert one != partition_key("con_2", {"order_number": "1001"})
    assert one.startswith("con_1:")
    assert "1001" not in one
    assert "@" not in partition_key("con_1", {"customer_email": "a@b.c"})


def test_partitioned_by_connection_every_return_of_a_store_shares_one() -> None:
    assert partition_key("con_1", {"order_number": "1001"}, by="connection") == "con_1"
    assert partition_key("con_1", None) == "con_1"
