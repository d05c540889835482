"""BigCommerce connector: Orders v2 reads, v3 payment actions (refunds), Inventory v3."""
