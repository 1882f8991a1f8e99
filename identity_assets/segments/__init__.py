"""Segments: membership from metrics and value, an outbox of changes, delivery to the API."""
