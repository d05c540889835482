"""Durable workflows (DBOS) that carry a return from received to completed, exactly once."""
