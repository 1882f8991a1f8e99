"""Serving: the look-ups' snapshot, published at the end of a run, and the HTTP service over it."""
