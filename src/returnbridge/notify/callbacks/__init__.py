"""Vendor callbacks: every status change of a return, signed (Standard Webhooks), delivered
with retries to the tenant's subscribed endpoints (docs/callbacks.md)."""
