"""Loop Returns: the merchant's returns system (docs/connectors/loop.md)."""
