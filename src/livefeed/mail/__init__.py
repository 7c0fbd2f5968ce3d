"""Outbound mail: SMTP, or the local outbox when no SMTP server is configured."""
