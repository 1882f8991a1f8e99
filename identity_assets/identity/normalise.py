"""Normalising identifier values in Python, by the rules the identity stage's SQL applies.

The stage normalises whole tables in SQL (`sql/insert_sightings.sql`); look-ups normalise the
one value a user typed here, and a test holds the two to the same answers. Phones are the
exception: `phonenumbers` is Python, so each distinct raw phone is parsed here once.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import multiprocessing
import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import phonenumbers

from identity_assets.text import clean_text

# Below this many phones, starting worker processes costs more than it saves. A first build
# parses every distinct raw phone (188,532 at 10M events, ~50 us each); a new day, a few
# thousand.
PARALLEL_FROM = 20_000

log = logging.getLogger(__name__)

# The shape of a UID2 hash: Base64 of a SHA-256 digest, 44 characters ending in "=".
_UID2_HASH = re.compile(r"[A-Za-z0-9+/]{43}=")


def uid2_hash(normalised: str) -> str:
    """The UID2 hash of a normalised email or phone: Base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(normalised.encode()).digest()).decode()


def is_uid2_hash(value: str) -> bool:
    """Whether a value has the shape of a UID2 hash (as the identity stage's SQL tells it)."""
    return _UID2_HASH.fullmatch(value) is not None


def normalise_phone(raw: str, region: str) -> tuple[str | None, str | None]:
    """E.164 form of a phone written any way, or (None, reason) when it is not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None, "unparseable"
    if not phonenumbers.is_valid_number(number):
        return None, "not a valid number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def normalise_phones(
    values: Sequence[str], region: str, parallel_from: int = PARALLEL_FROM
) -> list[tuple[str | None, str | None]]:
    """`normalise_phone` of each value, in order, on every core when there are many."""
    workers = _usable_cores()
    if workers < 2 or len(values) < parallel_from:
        return _normalise_chunk(values, region)
    size = -(-len(values) // (workers * 4))
    chunks = [values[start : start + size] for start in range(0, len(values), size)]
    context = multiprocessing.get_context("forkserver")
    # workers need this module only, not the program's __main__ (the CLI imports Dagster)
    context.set_forkserver_preload([__name__])
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            parts = list(pool.map(_normalise_chunk, chunks, [region] * len(chunks)))
    except (AssertionError, OSError, BrokenProcessPool) as error:
        # e.g. a daemonic process may not start workers: parse here instead
        log.warning("parsing %s phones in one process: %s", len(values), error)
        return _normalise_chunk(values, region)
    return [result for part in parts for result in part]


def _usable_cores() -> int:
    """Cores this process may run on (its affinity where the OS has one, as on Linux)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _normalise_chunk(values: Sequence[str], region: str) -> list[tuple[str | None, str | None]]:
    return [normalise_phone(value, region) for value in values]


def normalise_identifier(identifier_type: str, value: str, phone_region: str = "US") -> str:
    """The form the identity stage stores: edges trimmed by `clean_text` (the stage's rule),
    UID2 email rules, E.164 phones, ids with their case kept."""
    value = clean_text(value)
    if identifier_type in ("email", "phone") and is_uid2_hash(value):
        return value
    if identifier_type == "email":
        email = value.lower()
        local, _, domain = email.partition("@")
        if domain == "gmail.com":
            return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
        return email
    if identifier_type == "phone":
        e164, _ = normalise_phone(value, phone_region)
        return e164 or value
    return value
