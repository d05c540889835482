"""What the BigCommerce connector remembers about a store's orders (bounded)."""

from __future__ import annotations

from returnbridge.connectors.bigcommerce.hints import ItemIdentity, OrderHints


def test_items_are_kept_when_only_the_currency_is_learnt_again() -> None:
    hints = OrderHints()
    towel = ItemIdentity(sku="TOWEL-1", variant_id=770, product_id=77)
    hints.remember("1", currency="USD", items={"55": towel})
    hints.remember("1", currency="USD")
    facts = hints.get("1")
    assert facts is not None
    assert facts.items == {"55": towel}
    assert hints.get("2") is None


def test_the_oldest_orders_are_forgotten() -> None:
    hints = OrderHints(max_orders=2)
    hints.remember("1", currency="USD")
    hints.remember("2", currency="EUR")
    assert hints.get("1") is not None  # used: now the newest
    hints.remember("3", currency="GBP")
    assert hints.get("2") is None
    assert [hints.get(k) is not None for k in ("1", "3")] == [True, True]


def test_identity_of_a_product_without_sku_or_variant() -> None:
    identity = ItemIdentity.of({"sku": "", "variant_id": 0, "product_id": 78})
    assert identity == ItemIdentity(sku=None, variant_id=None, product_id=78)
