"""Customer email: templates, rendering per locale, SMTP sending, a once-only delivery record."""
