"""SHOPLINE (global Open Platform, `{handle}.myshopline.com`) connector, API `v20251201`."""
