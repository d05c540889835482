"""The operator's dashboard: server-rendered pages over the same engine as the API (returns
with live status, a return's timeline and refund, the review queue and its decisions,
connections with their health, sources, email and callback logs, charts). Sign-in with a
tenant or admin key sets a signed, HttpOnly, SameSite=Strict session cookie; every form
carries a CSRF token. Docs: docs/dashboard.md."""
