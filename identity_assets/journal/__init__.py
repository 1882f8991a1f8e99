"""Journals and profiles: each identity's events and golden record, and look-ups over them."""
