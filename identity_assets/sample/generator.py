"""Seeded, deliberately messy raw exports, with the ground truth behind them.

The pipeline has to cope with exports as they really arrive: one person shows up under browser
cookies, a user id, a device id and emails spelled five different ways; phones come in every
format; trackers send placeholders such as "undefined"; a store kiosk is shared by dozens of
people; lines are re-delivered or broken. A later stage predicts 90-day value, so purchases
follow personal habits over many months. This module writes such a landing directory from a
seed and, beside it in ``_truth/``, who is who and who bought what, so every stage can be scored.

The input shapes are those of ``spec/raw-exports.md``; the normalised identifier values in the
truth follow ``spec/outputs.md``. Plain Python and numpy only, so tests, benchmarks and the CLI
can use it without Dagster. Output is byte-identical for the same configuration, and memory stays
bounded: each day is simulated and streamed to its files before the next one starts.
"""

import csv
import filecmp
import gzip
import io
import json
import math
import os
import random
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import IO

import numpy as np

__all__ = ["SampleConfig", "SampleSummary", "write_sample"]


@dataclass(frozen=True)
class SampleConfig:
    """What to generate; the defaults write about 70k lines in a few seconds.

    `days` daily folders end at `end_day`; the first also holds a backfill export of the
    `history_days` before it (none when 0). `target_lines`, when set, replaces `people` by as
    many people as give about that many lines in total.
    """

    people: int = 2000
    days: int = 14
    history_days: int = 365
    end_day: date = date(2026, 11, 20)
    seed: int = 7
    malformed_per_day: int = 3
    target_lines: int | None = None

    def __post_init__(self) -> None:
        if self.people < 1 or self.days < 1:
            raise ValueError("people and days must be at least 1")
        if self.history_days < 0 or self.malformed_per_day < 0:
            raise ValueError("history_days and malformed_per_day must not be negative")
        if self.target_lines is not None and self.target_lines < 1:
            raise ValueError("target_lines must be positive")


@dataclass
class SampleSummary:
    """What `write_sample` wrote: line counts per file and where the ground truth is."""

    files: dict[Path, int]
    total_lines: int
    people: int
    days: list[date]
    malformed_lines: int
    duplicate_lines: int
    purchases: int
    truth_dir: Path


# --- the shop's world: names, domains, devices, catalogue ------------------------------------

_FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Sandra",
    "Steven", "Ashley", "Paul", "Kimberly", "Andrew", "Emily", "Kevin", "Donna", "Brian",
    "Michelle", "Jane", "Carol", "Priya", "Wei", "Aisha", "Mateo", "José", "Zoë", "Léa", "Jürgen",
    "Søren", "Chloé", "Lukas", "Hannah",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Taylor", "Moore",
    "Jackson", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Hill", "Green", "Adams", "Baker",
    "Nelson", "Carter", "Doe", "Patel", "Chen", "Okafor", "Müller", "Schmidt", "Dubois", "Lefèvre",
    "Jensen", "Rossi", "Kowalski", "Ødegaard",
)  # fmt: skip


def _ascii_name(name: str) -> str:
    """How a name is spelled in an email address: lower case, accents dropped."""
    plain = unicodedata.normalize("NFKD", name.replace("ø", "o").replace("Ø", "O"))
    return "".join(c for c in plain if not unicodedata.combining(c)).lower()


_FIRST_ASCII = tuple(_ascii_name(name) for name in _FIRST_NAMES)
_LAST_ASCII = tuple(_ascii_name(name) for name in _LAST_NAMES)

# Email local-part styles. Styles 4 and 5 always carry a two-digit number.
_STYLE_DOT, _STYLE_CONCAT, _STYLE_INITIAL, _STYLE_UNDERSCORE, _STYLE_DOT_NUM, _STYLE_NUM = range(6)
_STYLE_WEIGHTS = (0.3, 0.2, 0.15, 0.05, 0.2, 0.1)

_PERSONAL_DOMAINS = (
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
    "proton.me", "gmx.de", "web.de", "orange.fr", "yahoo.co.uk", "hotmail.es",
)  # fmt: skip
_GMAIL = 0
# Personal domain weights by region (US, UK, DE, FR, ES).
_DOMAIN_WEIGHTS = (
    (0.46, 0.14, 0.12, 0.08, 0.12, 0.05, 0.03, 0.0, 0.0, 0.0, 0.0, 0.0),
    (0.45, 0.05, 0.12, 0.1, 0.08, 0.0, 0.05, 0.0, 0.0, 0.0, 0.15, 0.0),
    (0.35, 0.03, 0.05, 0.05, 0.05, 0.0, 0.07, 0.2, 0.2, 0.0, 0.0, 0.0),
    (0.4, 0.03, 0.07, 0.1, 0.05, 0.0, 0.05, 0.0, 0.0, 0.3, 0.0, 0.0),
    (0.4, 0.05, 0.1, 0.05, 0.05, 0.0, 0.05, 0.0, 0.0, 0.0, 0.0, 0.3),
)
_WORK_DOMAINS = (
    "acme-corp.com", "globex.io", "initech.com", "umbrella.co", "hooli.xyz", "vandelay.com",
    "stark-industries.com", "wayne-enterprises.com", "soylent.co", "tyrell.ai",
)  # fmt: skip
_DOMAINS = _PERSONAL_DOMAINS + _WORK_DOMAINS
_EMAIL_TAGS = ("promo", "shop", "news", "deals", "2026", "spam")

_REGIONS = ("US", "UK", "DE", "FR", "ES")
_REGION_SHARES = (0.9, 0.03, 0.03, 0.02, 0.02)
_EURO_REGIONS = (2, 3, 4)
_LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES")
_TIMEZONES = (
    ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
    ("Europe/London",),
    ("Europe/Berlin",),
    ("Europe/Paris",),
    ("Europe/Madrid",),
)
_US_AREA_CODES = np.array(
    [212, 213, 305, 310, 312, 404, 415, 480, 503, 512, 602, 612, 617, 619, 646, 702,
     713, 718, 206, 303, 917, 720, 971, 929],
    dtype=np.int64,
)  # fmt: skip

_USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
)
_APP = {"name": "Shopwise", "version": "4.12.0", "build": "4120"}
_IOS_DEVICES = (("iPhone15,2", "iOS", "17.1"), ("iPhone14,5", "iOS", "16.3"))
_ANDROID_DEVICES = (("Pixel 8", "Android", "14"), ("SM-S911B", "Android", "13"))
_KIOSK_DEVICE = "kiosk-store-042"
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"

_PRODUCTS = (
    (10231, "Trail Runner 2", "shoes", 89.0), (10877, "Merino Crew", "apparel", 45.0),
    (11402, "Rain Shell", "outerwear", 129.0), (12345, "Canvas Tote", "accessories", 24.0),
    (13090, "Down Vest", "outerwear", 99.0), (14011, "Wool Beanie", "accessories", 19.0),
    (15555, "Court Sneaker", "shoes", 75.0), (16020, "Travel Pack 30L", "bags", 139.0),
    (17300, "Linen Shirt", "apparel", 59.0), (18812, "Insulated Bottle", "gear", 29.0),
)  # fmt: skip
_PAGES = (
    ("Home", "/"), ("Pricing", "/pricing"), ("Sale", "/sale"), ("Shoes", "/c/shoes"),
    ("Outerwear", "/c/outerwear"), ("Search", "/search"), ("Journal", "/journal"),
    ("Product", "/p/"), ("Cart", "/cart"), ("Help", "/help"),
)  # fmt: skip
_SCREENS = ("Home", "Product Detail", "Search", "Cart", "Wishlist", "Account")
_REFERRERS = ("https://www.google.com/", "https://www.facebook.com/", "", "https://t.co/", "")
_SITE = "https://shop.example.com"

# --- habits and rates ------------------------------------------------------------------------

_HABITS = ("browser", "one_off", "loyal", "lapsing")
_BROWSER, _ONE_OFF, _LOYAL, _LAPSING = range(4)
_HABIT_SHARES = (0.45, 0.22, 0.18, 0.15)
_VISIT_MEAN = np.array([0.04, 0.025, 0.07, 0.055])  # browsing sessions per day when engaged
_ENGAGEMENT_FLOOR = np.array([0.03, 0.06, 0.55, 0.45])  # share of interest kept long after start
_REGISTER_SHARE = np.array([0.35, 0.8, 0.97, 0.95])
_LAPSED_VISITS = 0.2  # visits left after a lapsing buyer stops buying
_KIOSK_SHARE = 0.03  # registered people who sometimes use the store kiosk
_MIN_KIOSK_PEOPLE = 8
_KIOSK_RATE = 1 / 45  # kiosk visits per day for those people
_LATE_SHARE = 0.025  # sessions of a daily folder that happened the previous evening
_NEVER = np.iinfo(np.int32).max
# Share of sessions per hour of day (UTC): mostly US evenings.
_DIURNAL = np.array(
    [6, 5, 4, 3, 2, 1.5, 1, 1, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 6.5, 7, 7, 7, 7.5, 8, 7.5, 7],
    dtype=np.float64,
)
_DIURNAL /= _DIURNAL.sum()

# --- messiness rates -------------------------------------------------------------------------

_PLACEHOLDER_RATE = 0.012  # chance that an identifier field carries a placeholder instead
_ZEROED_DEVICE_RATE = 0.05  # apps whose user limited tracking send a zeroed or null device id
_MESSY_EMAIL_RATE = 0.45
_DUPLICATE_RATE = 0.002  # lines re-delivered a second time within the folder
_NO_TIMESTAMP_RATE = 0.02
# Junk values trackers and forms send instead of an identifier; the first is the commonest.
_PLACEHOLDERS = {
    "user_id": ("null", "undefined", "", "none", "unknown"),
    "anonymous_id": ("undefined", "null", "", _ZERO_UUID),
    "email": ("test@test.com", "", "none", "null", "undefined"),
    "phone": ("", "null", "none"),
    "device_id": (_ZERO_UUID, "null", "unknown", ""),
}
_UNPARSEABLE_PHONES = ("12345", "call me", "n/a", "0000000000")  # typed into phone fields
_BAD_PHONE_RATE = 0.04  # phone fields with a placeholder or something unparseable
_MALFORMED_KINDS = (
    "truncated_json",
    "json_array",
    "json_string",
    "no_shape",
    "no_identifier",
    "user_id_object",
    "user_id_list",
    "timestamp_number",
    "timestamp_unparseable",
    "events_body_object",
    "events_body_strings",
)

# Bits of `_Population.seen`: which identifiers of a person appeared in a valid line.
_SEEN_USER, _SEEN_PHONE, _SEEN_DEVICE = 1, 2, 4
_SEEN_EMAIL = (8, 16)
_SEEN_ANON = (32, 64, 128)

_GZIP_LEVEL = 3  # zlib's fast strategy: half the time of level 5 for a slightly bigger file
_DAY_MS = 86_400_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode


def _scramble(value: int, bits: int = 64) -> int:
    """Mix an integer into a random-looking one of `bits` bits; distinct inputs stay distinct.

    Every step (add, xor-shift, multiply by an odd constant, modulo 2**bits) is a bijection,
    so ids derived from distinct person numbers can never collide.
    """
    mask = (1 << bits) - 1
    x = (value + 0x9E3779B97F4A7C15) & mask
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    return x ^ (x >> 31)


def _uuid(salt: int, number: int, upper: bool = False) -> str:
    """A version-4-looking UUID, unique per (salt, number)."""
    high = _scramble(salt ^ number)
    low = _scramble(high ^ salt)
    digits = f"{high:016x}{low:016x}"
    # Put the version and variant nibbles in place; keep the displaced one at the end.
    text = (
        f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{'89ab'[low & 3]}{digits[17:20]}-"
        f"{digits[20:31]}{digits[12]}"
    )
    return text.upper() if upper else text


@lru_cache(maxsize=4096)
def _day_prefix(unix_day: int) -> str:
    return date.fromordinal(unix_day + _EPOCH_ORDINAL).isoformat() + "T"


# Clock texts are looked up rather than formatted: timestamps are the commonest field.
_CLOCK = tuple(f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))
_MILLIS = tuple(f".{milli:03d}Z" for milli in range(1000))


def _iso(ms: int) -> str:
    """ISO-8601 UTC text with milliseconds for a Unix time in ms, as Segment writes it."""
    day, rest = divmod(ms, _DAY_MS)
    seconds, milli = divmod(rest, 1000)
    return _day_prefix(day) + _CLOCK[seconds] + _MILLIS[milli]


def _iso_seconds(ms: int) -> str:
    """ISO-8601 UTC text to the second, as the APIs write `received_at`."""
    day, rest = divmod(ms, _DAY_MS)
    return _day_prefix(day) + _CLOCK[rest // 1000] + "Z"


def _day_ms(ordinal: int) -> int:
    return (ordinal - _EPOCH_ORDINAL) * _DAY_MS


def _normalize_email(raw: str) -> str:
    """The contract's email normalisation: trim, lower-case, gmail dots and +suffix removed."""
    email = raw.strip().lower()
    local, _, domain = email.rpartition("@")
    if domain == "gmail.com":
        local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}"


def _email_letters(style: int, first: str, last: str, gmail: bool) -> str:
    """The letters of a normalised local part (digits come after them, so they never mix)."""
    if style == _STYLE_NUM:
        return first
    if style == _STYLE_INITIAL:
        return first[0] + last
    if style == _STYLE_UNDERSCORE:
        return f"{first}_{last}"
    if style == _STYLE_CONCAT or gmail:
        return first + last
    return f"{first}.{last}"


def _season(day: date) -> tuple[float, float]:
    """Multipliers for (visits, purchases) on a day: yearly wave, weekends, Black Friday, Xmas."""
    doy = day.timetuple().tm_yday
    yearly = 1.0 + 0.12 * math.sin(2 * math.pi * (doy - 110) / 365.25)
    if day.month == 1:
        yearly *= 0.85
    november_first = date(day.year, 11, 1)
    thanksgiving = november_first + timedelta(days=(3 - november_first.weekday()) % 7 + 21)
    black_friday = math.exp(-0.5 * ((day - thanksgiving).days - 1) ** 2 / 9.0)
    christmas = 1.0 if day.month == 12 and day.day <= 23 else 0.0
    weekend = day.weekday() >= 5
    visits = yearly * (1.0 + 0.5 * black_friday + 0.25 * christmas) * (1.12 if weekend else 1.0)
    buys = yearly * (1.0 + 1.6 * black_friday + 0.6 * christmas) * (1.06 if weekend else 1.0)
    return visits, buys


# --- people ----------------------------------------------------------------------------------


class _Person:
    """What a day's sessions need to know about one person; the rest is read from `_Population`.

    `seen` collects the bits of the person's identifiers that went into valid lines that day.
    """

    __slots__ = (
        "index",
        "user_id",
        "signed_up_today",
        "anon_count",
        "email_count",
        "device",
        "region",
        "currency",
        "seen",
    )

    def __init__(self) -> None:
        self.seen = 0


class _Population:
    """Everyone in the sample, as compact numpy arrays (bounded memory for millions of people).

    Identifier strings are derived on demand from these numbers, so nothing per person is held
    as Python objects. Email and phone numbers are de-duplicated here so that two people never
    share a normalised email or phone by accident: the only shared identifiers are deliberate.
    """

    def __init__(self, people: int, config: SampleConfig, rng: np.random.Generator) -> None:
        n = people
        self.size = n
        self.salt = _scramble(config.seed * 1_000_003 + 17)
        end = config.end_day.toordinal()
        export_start = end - config.days + 1 - config.history_days
        # The shop existed before the export: people arrive over a longer past, more recently
        # than long ago (the business grows).
        origin = end - config.days + 1 - max(config.history_days, 365) - 180
        span = end - origin + 1
        self.start = (origin + np.floor(span * rng.random(n) ** (1 / 1.6))).astype(np.int32)

        habit = rng.choice(4, size=n, p=_HABIT_SHARES).astype(np.int8)
        self.habit = habit
        self.visit_rate = rng.gamma(0.8, _VISIT_MEAN[habit] / 0.8).astype(np.float32)
        self.floor = _ENGAGEMENT_FLOOR[habit].astype(np.float32)
        self.tau = rng.gamma(2.0, 20.0, n).astype(np.float32)  # days until interest fades
        buys = (habit == _LOYAL) | (habit == _LAPSING)
        buy_rate = np.where(habit == _LOYAL, rng.gamma(1.5, 0.025, n), rng.gamma(1.5, 0.03, n))
        self.buy_rate = np.where(buys, buy_rate, 0.0).astype(np.float32)
        # Some loyal buyers speed up over the years, others slow down.
        self.drift = np.clip(rng.normal(0.0, 0.3, n), -0.8, 0.8).astype(np.float32)
        dropout = self.start + rng.gamma(2.0, 45.0, n).astype(np.int32)
        self.dropout = np.where(habit == _LAPSING, dropout, _NEVER).astype(np.int32)
        one_off = self.start + rng.geometric(0.2, n).astype(np.int32) - 1
        self.one_off_day = np.where(habit == _ONE_OFF, one_off, -1).astype(np.int32)
        self.mean_value = rng.lognormal(math.log(55.0), 0.55, n).astype(np.float32)

        registered = rng.random(n) < _REGISTER_SHARE[habit]
        signup = self.start + rng.geometric(0.3, n).astype(np.int32) - 1
        self.signup = np.where(registered, signup, _NEVER).astype(np.int32)
        self.hex_user_id = rng.random(n) < 0.3
        self.region = rng.choice(len(_REGIONS), size=n, p=_REGION_SHARES).astype(np.int8)
        self.first = rng.integers(0, len(_FIRST_NAMES), n).astype(np.int16)
        self.last = rng.integers(0, len(_LAST_NAMES), n).astype(np.int16)
        self.anon_count = rng.choice([1, 2, 3], size=n, p=[0.5, 0.35, 0.15]).astype(np.int8)
        self.has_app = rng.random(n) < 0.3
        self.ios = rng.random(n) < 0.55
        self.ip_number = rng.integers(0, 2**32, n, dtype=np.uint32)
        self.user_agent = rng.integers(0, len(_USER_AGENTS), n).astype(np.int8)

        buyer = habit != _BROWSER
        email_share = np.where(registered, 0.95, np.where(buyer, 0.85, 0.15))
        has_email = rng.random(n) < email_share
        has_second = has_email & (rng.random(n) < 0.15)
        self._make_emails(rng, has_email, has_second)
        has_phone = rng.random(n) < np.where(registered, 0.6, 0.15)
        self._make_phones(rng, has_phone)
        self._make_kiosk_users(rng, registered, export_start, end)
        self.seen = np.zeros(n, dtype=np.uint8)

    def _make_emails(
        self, rng: np.random.Generator, has_email: np.ndarray, has_second: np.ndarray
    ) -> None:
        n = self.size
        style = rng.choice(len(_STYLE_WEIGHTS), size=(n, 2), p=_STYLE_WEIGHTS).astype(np.int8)
        number = rng.integers(0, 100, (n, 2)).astype(np.int32)
        number[(style != _STYLE_DOT_NUM) & (style != _STYLE_NUM)] = -1
        domain = np.empty((n, 2), dtype=np.int8)
        for region, weights in enumerate(_DOMAIN_WEIGHTS):
            rows = self.region == region
            domain[rows, 0] = rng.choice(len(_PERSONAL_DOMAINS), size=rows.sum(), p=weights)
        work = rng.integers(len(_PERSONAL_DOMAINS), len(_DOMAINS), n)
        other = rng.choice(len(_PERSONAL_DOMAINS), size=n, p=_DOMAIN_WEIGHTS[0])
        domain[:, 1] = np.where(rng.random(n) < 0.6, work, other)
        style[~has_email, 0] = -1
        style[~has_second, 1] = -1
        # Two emails clash when letters, number and domain agree after normalisation: give
        # every clashing address but the first a number no drawn address can have (>= 100).
        letters = self._letter_ids(style, domain)
        present = style >= 0
        key = ((letters * 101 + (number + 1)) * len(_DOMAINS) + domain).ravel()
        key = np.where(present.ravel(), key, -1 - np.arange(2 * n))
        _, first_index = np.unique(key, return_index=True)
        clash = np.ones(2 * n, dtype=bool)
        clash[first_index] = False
        number.ravel()[clash] = 100 + np.flatnonzero(clash)
        self.email_style, self.email_number, self.email_domain = style, number, domain

    def _letter_ids(self, style: np.ndarray, domain: np.ndarray) -> np.ndarray:
        """An integer per email standing for the letters of its normalised local part."""
        table = np.empty((2, len(_STYLE_WEIGHTS), len(_FIRST_ASCII), len(_LAST_ASCII)), np.int64)
        ids: dict[str, int] = {}
        for gmail in (0, 1):
            for kind in range(len(_STYLE_WEIGHTS)):
                for f, first in enumerate(_FIRST_ASCII):
                    for k, last in enumerate(_LAST_ASCII):
                        letters = _email_letters(kind, first, last, bool(gmail))
                        table[gmail, kind, f, k] = ids.setdefault(letters, len(ids))
        gmail = (domain == _GMAIL).astype(np.int64)
        first, last = self.first[:, None], self.last[:, None]
        return table[gmail, np.maximum(style, 0), first, last]

    def _make_phones(self, rng: np.random.Generator, has_phone: np.ndarray) -> None:
        n = self.size
        national = np.zeros(n, dtype=np.int64)
        todo = np.flatnonzero(has_phone)
        while todo.size:
            national[todo] = self._draw_phones(rng, self.region[todo])
            key = self.region.astype(np.int64) * 10**12 + national
            key[~has_phone] = -1 - np.arange(n - int(has_phone.sum()))
            _, first_index = np.unique(key, return_index=True)
            clash = np.ones(n, dtype=bool)
            clash[first_index] = False
            todo = np.flatnonzero(clash & has_phone)
        self.phone = national

    @staticmethod
    def _draw_phones(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
        """National numbers in ranges that `phonenumbers` accepts as valid for each region."""
        n = region.size
        exchange = rng.integers(200, 1000, n)
        exchange = np.where((exchange % 100 == 11) | (exchange == 555), exchange + 1, exchange)
        us = _US_AREA_CODES[rng.integers(0, _US_AREA_CODES.size, n)] * 10**7
        us += exchange * 10**4 + rng.integers(0, 10**4, n)
        uk_mobile = rng.choice([74, 75, 78], n) * 10**8 + rng.integers(0, 10**8, n)
        uk_london = (200 + rng.choice([3, 7, 8], n)) * 10**7 + rng.integers(0, 10**7, n)
        uk = np.where(rng.random(n) < 0.7, uk_mobile, uk_london)
        de = rng.choice([151, 152, 157, 160, 170, 176], n) * 10**8 + rng.integers(0, 10**8, n)
        fr_prefixes = [60, 61, 62, 64, 65, 66, 67, 68, 73, 74, 75, 76, 77, 78]
        fr = rng.choice(fr_prefixes, n) * 10**7 + rng.integers(0, 10**7, n)
        es = 6 * 10**8 + rng.integers(0, 10**8, n)
        return np.choose(region, [us, uk, de, fr, es])

    def _make_kiosk_users(
        self, rng: np.random.Generator, registered: np.ndarray, export_start: int, end: int
    ) -> None:
        """Pick the people who use the store kiosk, each with one visit inside the export."""
        n = self.size
        eligible = registered & (self.signup <= end)
        first_day = np.maximum(self.signup, export_start)
        candidates = np.flatnonzero(eligible)
        chosen = candidates[rng.random(candidates.size) < _KIOSK_SHARE]
        wanted = min(_MIN_KIOSK_PEOPLE, candidates.size)
        if chosen.size < wanted:
            extra = np.setdiff1d(candidates, chosen)
            chosen = np.union1d(chosen, rng.choice(extra, wanted - chosen.size, replace=False))
        self.kiosk_people = np.sort(chosen)
        self.kiosk_day = np.full(n, -1, dtype=np.int32)
        span = end - first_day[chosen] + 1
        self.kiosk_day[chosen] = first_day[chosen] + np.floor(rng.random(chosen.size) * span)

    # -- identifiers, derived on demand ----------------------------------------------------

    def user_id(self, p: int) -> str:
        if self.hex_user_id[p]:
            return f"{_scramble(self.salt ^ p, 52):013x}"
        return f"u-{p + 1:06d}"

    def anon_id(self, p: int, k: int) -> str:
        return _uuid(self.salt + 1, p * 4 + k)

    def device_id(self, p: int) -> str:
        if self.ios[p]:
            return _uuid(self.salt + 2, p, upper=True)
        return f"{_scramble((self.salt + 3) ^ p):016x}"

    def email(self, p: int, k: int) -> str | None:
        """The address as the person writes it (before any messy spelling)."""
        style = int(self.email_style[p, k])
        if style < 0:
            return None
        # as written, gmail's dots are kept: the letters of the address as if it were not gmail
        local = _email_letters(style, _FIRST_ASCII[self.first[p]], _LAST_ASCII[self.last[p]], False)
        number = int(self.email_number[p, k])
        if number >= 0:
            local += f"{number:02d}"
        return f"{local}@{_DOMAINS[self.email_domain[p, k]]}"

    def phone_display(self, p: int) -> str | None:
        """The number in international format with spaces, e.g. "+1 415 555 0100"."""
        national = int(self.phone[p])
        if not national:
            return None
        digits = str(national)
        region = self.region[p]
        if region == 0:
            return f"+1 {digits[:3]} {digits[3:6]} {digits[6:]}"
        if region == 1:
            if digits[0] == "7":
                return f"+44 {digits[:4]} {digits[4:]}"
            return f"+44 {digits[:2]} {digits[2:6]} {digits[6:]}"
        if region == 2:
            return f"+49 {digits[:3]} {digits[3:]}"
        if region == 3:
            pairs = " ".join(digits[i : i + 2] for i in range(1, 9, 2))
            return f"+33 {digits[0]} {pairs}"
        return f"+34 {digits[:3]} {digits[3:6]} {digits[6:]}"

    def ip(self, p: int) -> str:
        ip = int(self.ip_number[p])
        return f"{ip >> 24 & 255}.{ip >> 16 & 255}.{ip >> 8 & 255}.{ip & 255}"

    def company(self, p: int) -> str | None:
        """The employer's domain for people whose second email is a work address."""
        domain = int(self.email_domain[p, 1])
        if self.email_style[p, 1] < 0 or domain < len(_PERSONAL_DOMAINS):
            return None
        return _DOMAINS[domain]

    def person(self, p: int, day: int) -> _Person:
        """The person as of `day` (the user id exists from sign-up on)."""
        person = _Person()
        person.index = p
        signup = int(self.signup[p])
        person.user_id = self.user_id(p) if signup <= day else None
        person.signed_up_today = signup == day
        person.anon_count = int(self.anon_count[p])
        person.email_count = int(self.email_style[p, 0] >= 0) + int(self.email_style[p, 1] >= 0)
        person.device = None
        if self.has_app[p]:
            person.device = (_IOS_DEVICES if self.ios[p] else _ANDROID_DEVICES)[p % 2]
        region = int(self.region[p])
        person.region = region
        person.currency = "EUR" if region in _EURO_REGIONS else "USD"
        return person


# --- messy spellings -------------------------------------------------------------------------


def _messy_email(email: str, rnd: random.Random) -> str:
    """Spell an address the way people and forms do: case, spaces, gmail dots and +tags."""
    if rnd.random() >= _MESSY_EMAIL_RATE:
        return email
    local, domain = email.split("@")
    if domain == "gmail.com":
        if rnd.random() < 0.45:
            cut = 1 + int(rnd.random() * (len(local) - 1))
            if local[cut - 1] != "." and local[cut] != ".":
                local = f"{local[:cut]}.{local[cut:]}"
        if rnd.random() < 0.45:
            local = f"{local}+{_EMAIL_TAGS[int(rnd.random() * len(_EMAIL_TAGS))]}"
    style = rnd.random()
    if style < 0.4:
        local, domain = local.title(), domain.capitalize()
    elif style < 0.55:
        local, domain = local.upper(), domain.upper()
    text = f"{local}@{domain}"
    pad = rnd.random()
    if pad < 0.25:
        return f" {text} "
    if pad < 0.35:
        return f"{text}  "
    return text


_US_PHONE_FORMATS = (
    "({a}) {e}-{n}",
    "{a}.{e}.{n}",
    "+1 {a}-{e}-{n}",
    "1-{a}-{e}-{n}",
    "{a}-{e}-{n}",
    "+1 ({a}) {e}-{n}",
    "{a}{e}{n}",
    "+1{a}{e}{n}",
    "+1{a}{e}{n}",  # E.164 as typed is the commonest spelling
)


def _messy_phone(display: str, rnd: random.Random) -> str:
    """Spell a phone number in one of the formats people type."""
    groups = display.split(" ")
    choice = rnd.random()
    if groups[0] != "+1":
        if choice < 0.5:
            return display
        return "".join(groups) if choice < 0.8 else "-".join(groups)
    _, area, exchange, number = groups
    template = _US_PHONE_FORMATS[int(choice * len(_US_PHONE_FORMATS))]
    return template.format(a=area, e=exchange, n=number)


# --- output files ----------------------------------------------------------------------------


class _Sink:
    """One export file, written in chunks (gzip without name or time, so output is stable).

    It is written beside the file, hidden, and replaces it only when its bytes differ: a file
    written again with the same content keeps its modification time, so a pipeline run does
    not read it again.
    """

    def __init__(self, path: Path, relative: str) -> None:
        self.path = path
        self.relative = relative
        self.lines = 0
        self._buffer: list[str] = []
        self._draft = path.with_name(f".{path.name}.writing")
        self._raw = self._draft.open("wb")
        self._out: IO[bytes] = self._raw
        if path.suffix == ".gz":
            self._out = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=_GZIP_LEVEL
            )

    def write(self, line: str) -> int:
        """Append a line; returns its 1-based line number."""
        buffer = self._buffer
        buffer.append(line)
        if len(buffer) >= 4096:
            self._flush()
        self.lines += 1
        return self.lines

    def _flush(self) -> None:
        if self._buffer:
            self._buffer.append("")
            self._out.write("\n".join(self._buffer).encode())
            self._buffer.clear()

    def close(self) -> None:
        self._flush()
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()
        if self.path.is_file() and filecmp.cmp(self._draft, self.path, shallow=False):
            self._draft.unlink()
        else:
            os.replace(self._draft, self.path)


class _Folder:
    """The files of one landing folder (or of its history backfill), keyed by stream.

    Now and then a line is delivered a second time a few hundred lines later, as at-least-once
    delivery does; every such copy is recorded in the truth. The first line of each folder is
    always among them, so every folder has at least one.
    """

    def __init__(
        self, sinks: dict[str, _Sink], rnd: random.Random, duplicates: list[tuple]
    ) -> None:
        self.sinks = sinks
        self._random = rnd.random
        self._duplicates = duplicates
        self._pending: list[tuple[_Sink, str, int]] = []
        self._redelivered = 0

    def emit(self, stream: str, line: str) -> tuple[str, int]:
        """Write one valid line; returns (relative file, line number)."""
        sink = self.sinks[stream]
        number = sink.write(line)
        if self._random() < _DUPLICATE_RATE or not (self._pending or self._redelivered):
            self._pending.append((sink, line, number))
            if len(self._pending) > 1:
                self._redeliver(*self._pending.pop(0))
        return sink.relative, number

    def emit_raw(self, stream: str, line: str) -> tuple[str, int]:
        """Write a line that is not a valid event (never re-delivered)."""
        sink = self.sinks[stream]
        return sink.relative, sink.write(line)

    def _redeliver(self, sink: _Sink, line: str, original: int) -> None:
        self._duplicates.append((sink.relative, sink.write(line), sink.relative, original))
        self._redelivered += 1

    def close(self) -> None:
        """Deliver what is still pending and close the files."""
        for item in self._pending:
            self._redeliver(*item)
        for sink in {id(sink): sink for sink in self.sinks.values()}.values():
            sink.close()


def _daily_names(day: date) -> dict[str, str]:
    stamp = day.isoformat()
    return {
        "web": f"segment-{stamp}.jsonl",
        "mobile": f"cio-{stamp}.ndjson.gz",
        "api": f"api-{stamp}.ndjson",
        "identifier": f"identifier-{stamp}.jsonl.gz",
    }


_HISTORY_NAMES = {
    "web": "history-segment.jsonl.gz",
    "mobile": "history-segment.jsonl.gz",
    "api": "history-api.ndjson.gz",
    "identifier": "history-api.ndjson.gz",
}


# --- pre-encoded JSON ------------------------------------------------------------------------
# Most lines are page views, screens and product events whose content comes from a small fixed
# catalogue, so their JSON is encoded once here and lines are assembled from such fragments.
# Everything spliced in is produced by this module (ids, hex, ISO times) and needs no escaping;
# free-form content (traits, orders, API bodies) still goes through the JSON encoder.


def _members(obj: dict) -> str:
    """The members of a JSON object without its braces, ready to splice into a larger one."""
    return _encode(obj)[1:-1]


_WEB_LIBRARY_JSON = _encode({"name": "analytics.js", "version": "next-1.70.0"})
_CAMPAIGN_JSON = _encode({"source": "google", "medium": "cpc", "name": "fall_sale"})
_APP_LIBRARY = {"name": "analytics-swift", "version": "1.5.11"}
_SERVER_CONTEXT_JSON = _encode({"library": {"name": "analytics-node", "version": "2.2.0"}})
_PAGE_FIELDS = tuple(
    _members(
        {
            "type": "page",
            "name": name,
            "properties": {
                "url": _SITE + path,
                "path": path,
                "referrer": referrer,
                "title": f"{name} | Shopwise",
            },
        }
    )
    for name, path in _PAGES
    for referrer in _REFERRERS
)
_PAGE_VIEW_MEMBERS = tuple(
    _members({"url": _SITE + path, "title": f"{name} | Shopwise"}) for name, path in _PAGES
)
_SCREEN_FIELDS = tuple(
    _members({"type": "screen", "name": name, "properties": {"name": name}}) for name in _SCREENS
)
_OPENED_FIELDS = _members(
    {
        "type": "track",
        "event": "Application Opened",
        "properties": {"from_background": False, "version": _APP["version"]},
    }
)


def _product(index: int) -> dict:
    product_id, name, category, _ = _PRODUCTS[index]
    return {"product_id": str(product_id), "name": name, "category": category}


_VIEWED_FIELDS = {
    currency: tuple(
        _members(
            {
                "type": "track",
                "event": "Product Viewed",
                "properties": {**_product(i), "price": _PRODUCTS[i][3], "currency": currency},
            }
        )
        for i in range(len(_PRODUCTS))
    )
    for currency in ("USD", "EUR")
}
_ADDED_FIELDS = tuple(
    _members(
        {
            "type": "track",
            "event": "Added to Cart",
            "properties": {**_product(i), "price": _PRODUCTS[i][3], "quantity": 1},
        }
    )
    for i in range(len(_PRODUCTS))
)
# Elements of a client-API `events` body, without the person's id.
_APP_EVENT_MEMBERS = (
    _members({"name": "App Opened", "data": {"version": _APP["version"]}}),
    *(_members({"name": "Screen Viewed", "data": {"screen": name}}) for name in _SCREENS),
    *(
        _members({"name": "Search", "data": {"query": f"{category} {name.split()[0].lower()}"}})
        for _, name, category, _ in _PRODUCTS
    ),
    *(
        _members({"name": "Product Viewed", "data": {"product_id": pid, "price": price}})
        for pid, _, _, price in _PRODUCTS
    ),
    *(
        _members(
            {"name": "Added to Cart", "data": {"product_id": pid, "price": price, "quantity": 1}}
        )
        for pid, _, _, price in _PRODUCTS
    ),
)


# --- the simulation --------------------------------------------------------------------------


@dataclass
class _Truth:
    """Ground truth collected while writing; purchases are streamed to disk."""

    purchases: IO[str]
    purchase_count: int = 0
    malformed: list[tuple[str, int, str]] = field(default_factory=list)
    duplicates: list[tuple[str, int, str, int]] = field(default_factory=list)
    placeholders: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    kiosk_people: set[int] = field(default_factory=set)
    purchases_per_person: dict[int, int] = field(default_factory=dict)


class _Simulation:
    """Simulates people day by day and writes what the trackers would have sent."""

    def __init__(self, out_dir: Path, config: SampleConfig, people: int, truth: _Truth) -> None:
        self.out_dir = out_dir
        self.config = config
        self.truth = truth
        self.rng = np.random.default_rng([config.seed, 2])
        self.rnd = random.Random(config.seed)
        self.pop = _Population(people, config, np.random.default_rng([config.seed, 1]))
        self.folder: _Folder
        self._malformed_turn = 0
        self.random = self.rnd.random
        self.occurred = ""

    # -- driving the days ------------------------------------------------------------------

    def run(self) -> tuple[list[date], dict[Path, int]]:
        config = self.config
        first = config.end_day.toordinal() - config.days + 1
        days: list[date] = []
        files: dict[Path, int] = {}
        for offset in range(config.days):
            day = date.fromordinal(first + offset)
            folder_dir = self.out_dir / day.isoformat()
            folder_dir.mkdir(parents=True, exist_ok=True)
            history = offset == 0 and config.history_days
            written = {*_daily_names(day).values(), *(_HISTORY_NAMES.values() if history else ())}
            # a file an earlier sample wrote here and this one does not is removed; the others
            # are replaced only when their bytes change (_Sink)
            for name in {*_daily_names(day).values(), *_HISTORY_NAMES.values()} - written:
                (folder_dir / name).unlink(missing_ok=True)
            if history:
                self.folder = self._open(folder_dir, _HISTORY_NAMES)
                for ordinal in range(first - config.history_days, first):
                    self._simulate_day(ordinal, late=False, malformed=0)
                files.update(self._close())
            self.folder = self._open(folder_dir, _daily_names(day))
            self._simulate_day(first + offset, late=True, malformed=config.malformed_per_day)
            files.update(self._close())
            days.append(day)
        return days, files

    def _open(self, folder_dir: Path, names: dict[str, str]) -> _Folder:
        sinks: dict[str, _Sink] = {}
        by_name: dict[str, _Sink] = {}
        for stream, name in names.items():
            if name not in by_name:
                relative = f"{folder_dir.name}/{name}"
                by_name[name] = _Sink(folder_dir / name, relative)
            sinks[stream] = by_name[name]
        return _Folder(sinks, self.rnd, self.truth.duplicates)

    def _close(self) -> dict[Path, int]:
        self.folder.close()
        return {sink.path: sink.lines for sink in self.folder.sinks.values()}

    def _draw_sessions(self, ordinal: int, late: bool) -> list[tuple[int, int, int, int]]:
        """Who visits on this day and when: (start ms, person, kind, delivery lag ms), sorted.

        Kinds: 0 browsing, 1 a visit with a purchase, 2 a visit to the store kiosk.
        """
        pop, rng = self.pop, self.rng
        visit_season, buy_season = _season(date.fromordinal(ordinal))
        age = (ordinal - pop.start).astype(np.float32)
        active = age >= 0
        age = np.maximum(age, 0)
        lapsed = ordinal >= pop.dropout
        engagement = pop.floor + (1 - pop.floor) * np.exp(-age / pop.tau)
        visit_lam = pop.visit_rate * engagement * (visit_season * active)
        visit_lam = np.where(lapsed, visit_lam * _LAPSED_VISITS, visit_lam)
        visits = rng.poisson(visit_lam) + (pop.signup == ordinal)  # people sign up in a visit
        buy_lam = pop.buy_rate * np.exp(pop.drift * age / 365) * buy_season
        buys = rng.poisson(np.where(active & ~lapsed, buy_lam, 0.0))
        buys += pop.one_off_day == ordinal
        kiosk = pop.kiosk_people
        at_kiosk = (pop.signup[kiosk] <= ordinal) & (rng.random(kiosk.size) < _KIOSK_RATE)
        at_kiosk |= pop.kiosk_day[kiosk] == ordinal

        persons = np.concatenate(
            [np.repeat(np.arange(pop.size), visits), np.repeat(np.arange(pop.size), buys)]
            + [kiosk[at_kiosk]]
        )
        kinds = np.repeat([0, 1, 2], [visits.sum(), buys.sum(), at_kiosk.sum()])
        count = persons.size
        day_start = _day_ms(ordinal)
        hours = rng.choice(24, size=count, p=_DIURNAL)
        starts = day_start + hours * 3_600_000 + rng.integers(0, 3_600_000, count)
        starts = np.minimum(starts, day_start + _DAY_MS - 1_800_000)
        lags = np.zeros(count, dtype=np.int64)
        if late and count:
            # A few sessions (at least two) happened the evening before and arrived late.
            moved = rng.choice(count, min(count, max(2, rng.binomial(count, _LATE_SHARE))), False)
            starts[moved] = day_start - rng.integers(600_000, 18_000_000, moved.size)
            lags[moved] = day_start - starts[moved] + rng.integers(60_000, 1_800_000, moved.size)
        order = np.argsort(starts, kind="stable")
        return list(
            zip(
                starts[order].tolist(),
                persons[order].tolist(),
                kinds[order].tolist(),
                lags[order].tolist(),
                strict=True,
            )
        )

    def _simulate_day(self, ordinal: int, late: bool, malformed: int) -> None:
        sessions = self._draw_sessions(ordinal, late)
        slots = sorted(self.rnd.randrange(len(sessions) + 1) for _ in range(malformed))
        people: dict[int, _Person] = {}
        for index, (start, p, kind, lag) in enumerate(sessions):
            while slots and slots[0] == index:
                self._write_malformed(ordinal)
                slots.pop(0)
            person = people.get(p)
            if person is None:
                person = people[p] = self.pop.person(p, ordinal)
            purchase = kind == 1
            if kind == 2 or (purchase and self._orders_in_store(person)):
                self._kiosk_session(person, start, lag, purchase)
            else:
                self._session(person, start, lag, purchase)
        for _ in slots:
            self._write_malformed(ordinal)
        seen = self.pop.seen
        for p, person in people.items():
            seen[p] |= person.seen

    # -- identifier fields -------------------------------------------------------------------

    def _placeholder(self, person: _Person, kind: str, values: tuple[str, ...] = ()) -> str:
        values = values or _PLACEHOLDERS[kind]
        value = values[0] if self.random() < 0.5 else values[int(self.random() * len(values))]
        self.truth.placeholders.setdefault((kind, value), set()).add(person.index)
        return value

    def _spoil(self) -> bool:
        """Whether this identifier field gets a placeholder instead of the real value."""
        return self.random() < _PLACEHOLDER_RATE

    def _anon(self, person: _Person) -> str:
        k = 0 if person.anon_count == 1 else int(self.random() * person.anon_count)
        person.seen |= _SEEN_ANON[k]
        return self.pop.anon_id(person.index, k)

    def _user(self, person: _Person) -> str:
        """The user id; now and then with stray spaces, which normalisation trims."""
        person.seen |= _SEEN_USER
        user_id = person.user_id
        assert user_id is not None
        return user_id if self.random() > 0.01 else f" {user_id} "

    def _email(self, person: _Person) -> str | None:
        if not person.email_count:
            return None
        if self._spoil():
            return self._placeholder(person, "email")
        k = 1 if person.email_count == 2 and self.random() < 0.3 else 0
        person.seen |= _SEEN_EMAIL[k]
        return _messy_email(self.pop.email(person.index, k) or "", self.rnd)

    def _phone(self, person: _Person) -> str | None:
        display = self.pop.phone_display(person.index)
        if display is None:
            return None
        chance = self.random()
        if chance < _BAD_PHONE_RATE / 2:
            return self._placeholder(person, "phone")
        if chance < _BAD_PHONE_RATE:
            return self._placeholder(person, "phone", _UNPARSEABLE_PHONES)
        person.seen |= _SEEN_PHONE
        return _messy_phone(display, self.rnd)

    def _device(self, person: _Person) -> str:
        if self.random() < _ZEROED_DEVICE_RATE:
            return self._placeholder(person, "device_id")
        person.seen |= _SEEN_DEVICE
        return self.pop.device_id(person.index)

    def _step(self, ms: int) -> int:
        """The time of the next message in a session."""
        return ms + 4_000 + int(self.random() * 90_000)

    def _order(self, person: _Person) -> tuple[float, str]:
        """An order's value around the person's usual basket, and a transaction id."""
        value = float(self.pop.mean_value[person.index]) * self.rnd.lognormvariate(0.0, 0.35)
        return round(value, 2), f"{self.rnd.getrandbits(48):012X}"

    def _record_purchase(
        self,
        person: _Person,
        occurred: str,
        value: float,
        source: str,
        transaction: str,
        where: tuple[str, int],
    ) -> None:
        truth = self.truth
        truth.purchases.write(
            f"p-{person.index + 1:06d},{occurred},{value:.2f},{person.currency},{source},"
            f"{transaction},{where[0]},{where[1]}\n"
        )
        truth.purchase_count += 1
        count = truth.purchases_per_person.get(person.index, 0)
        truth.purchases_per_person[person.index] = count + 1

    # -- sessions ----------------------------------------------------------------------------

    def _session(self, person: _Person, start: int, lag: int, purchase: bool) -> None:
        """One visit, tracked by whichever integration the page or app uses."""
        random = self.random
        if person.device is not None and random() < 0.45:
            if random() < 0.55:
                self._client_api_session(person, start, lag, purchase, kiosk=False)
            elif random() < 0.8:
                self._segment_app_session(person, start, lag, purchase, kiosk=False)
            else:
                platform = "ios" if person.device[1] == "iOS" else "android"
                self._identifier_session(person, start, lag, purchase, platform)
        elif random() < 0.25:
            self._identifier_session(person, start, lag, purchase, "web")
        else:
            self._segment_web_session(person, start, lag, purchase)

    def _orders_in_store(self, person: _Person) -> bool:
        """Kiosk users place about a quarter of their orders on the kiosk, signed in."""
        kiosk_user = self.pop.kiosk_day[person.index] >= 0
        return kiosk_user and person.user_id is not None and self.random() < 0.25

    def _kiosk_session(self, person: _Person, start: int, lag: int, purchase: bool) -> None:
        """A registered customer signs in on the shared store kiosk (and may order there)."""
        if self.random() < 0.6:
            self._client_api_session(person, start, lag, purchase, kiosk=True)
        else:
            self._segment_app_session(person, start, lag, purchase, kiosk=True)
        self.truth.kiosk_people.add(person.index)

    def _segment_line(self, fields: str, ids: str, at: int, lag: int, context: str) -> str:
        """A Segment message from pre-encoded members; sets `self.occurred` to its event time."""
        random = self.random
        received = _iso(at + lag + 200 + int(random() * 2_300))
        if random() < _NO_TIMESTAMP_RATE:
            self.occurred = received
            stamp = ""
        else:
            self.occurred = _iso(at)
            stamp = f',"timestamp":"{self.occurred}"'
        return (
            f'{{{fields},{ids},"messageId":"ajs-next-{self.rnd.getrandbits(128):032x}"{stamp},'
            f'"receivedAt":"{received}","context":{context}}}'
        )

    def _traits(self, person: _Person) -> dict:
        """Profile traits, spelled camelCase or snake_case depending on the integration."""
        random = self.random
        pop = self.pop
        camel = random() < 0.5
        traits: dict = {}
        email = self._email(person)
        if email is not None:
            traits["email"] = email
        if random() < 0.7:
            traits["firstName" if camel else "first_name"] = _FIRST_NAMES[pop.first[person.index]]
            traits["lastName" if camel else "last_name"] = _LAST_NAMES[pop.last[person.index]]
        phone = self._phone(person) if random() < 0.7 else None
        if phone is not None:
            traits["phone"] = phone
        if person.user_id is not None and (person.signed_up_today or random() < 0.2):
            signup = date.fromordinal(int(pop.signup[person.index]))
            traits["createdAt" if camel else "created_at"] = f"{signup.isoformat()}T00:00:00Z"
        return traits

    def _segment_web_session(self, person: _Person, start: int, lag: int, purchase: bool) -> None:
        random = self.random
        emit = self.folder.emit
        p = person.index
        logged_in = person.user_id is not None and (purchase or random() < 0.65)
        # Identifiers are fetched where they are written: the truth lists only written ones.
        ids: dict[str, str] = {}
        anon = None
        if logged_in:
            ids["userId"] = self._user(person)
            if self._spoil():
                ids["anonymousId"] = self._placeholder(person, "anonymous_id")
            else:
                anon = ids["anonymousId"] = self._anon(person)
        else:
            if self._spoil():
                ids["userId"] = self._placeholder(person, "user_id")
            anon = ids["anonymousId"] = self._anon(person)
        ids_json = _members(ids)
        user_agent = _USER_AGENTS[self.pop.user_agent[p]]
        context_json = (
            f'{{"ip":"{self.pop.ip(p)}","userAgent":"{user_agent}",'
            f'"locale":"{_LOCALES[person.region]}","library":{_WEB_LIBRARY_JSON}'
        )
        if random() < 0.15:
            context_json += f',"campaign":{_CAMPAIGN_JSON}'
        context_json += "}"
        at = start
        for _ in range(1 + min(int(self.rnd.expovariate(0.3)), 10)):
            page = _PAGE_FIELDS[int(random() * len(_PAGE_FIELDS))]
            emit("web", self._segment_line(page, ids_json, at, lag, context_json))
            at = self._step(at)
        if logged_in and (person.signed_up_today or random() < 0.25):
            fields = _members({"type": "identify", "traits": self._traits(person)})
            emit("web", self._segment_line(fields, ids_json, at, lag, context_json))
            if random() < (0.6 if person.signed_up_today else 0.05):
                previous = self._anon(person) if anon is None else anon
                alias = _members({"previousId": previous, "userId": ids["userId"]})
                emit(
                    "web", self._segment_line('"type":"alias"', alias, at + 700, lag, context_json)
                )
            at = self._step(at)
        elif purchase and not logged_in:
            # Guest checkout: the email arrives in traits, tied only to the cookie.
            fields = _members({"type": "identify", "traits": self._traits(person)})
            emit("web", self._segment_line(fields, ids_json, at, lag, context_json))
            at = self._step(at)
        company = self.pop.company(p) if logged_in else None
        if company is not None and random() < 0.2:
            traits = {"name": company.split(".")[0].title(), "plan": "business"}
            fields = _members({"type": "group", "groupId": f"acct-{company}", "traits": traits})
            user = _members({"userId": ids["userId"]})
            emit("web", self._segment_line(fields, user, at, lag, context_json))
        email_in_context = logged_in and random() < 0.3
        self._segment_tracks(
            "web", person, ids_json, at, lag, context_json, purchase, email_in_context
        )

    def _segment_app_session(
        self, person: _Person, start: int, lag: int, purchase: bool, kiosk: bool
    ) -> None:
        """A mobile-app visit as exported by Customer.io Data Pipelines (Segment shape)."""
        random = self.random
        emit = self.folder.emit
        logged_in = person.user_id is not None and (kiosk or purchase or random() < 0.8)
        ids: dict[str, str] = {"userId": self._user(person)} if logged_in else {}
        if kiosk:
            # The kiosk signs people in by user id; its own install id would be shared too.
            device = {"id": _KIOSK_DEVICE, "manufacturer": "Apple", "model": "iPad13,18"}
            device["type"] = "ios"
            os_info = {"name": "iPadOS", "version": "17.1"}
        else:
            ids["anonymousId"] = self._anon(person)
            assert person.device is not None
            model, os_name, os_version = person.device
            ios = os_name == "iOS"
            device = {"id": self._device(person), "manufacturer": "Apple" if ios else "Google"}
            device["model"] = model
            device["type"] = "ios" if ios else "android"
            os_info = {"name": os_name, "version": os_version}
        context = {
            "app": _APP,
            "device": device,
            "os": os_info,
            "ip": self.pop.ip(person.index),
            "locale": _LOCALES[person.region],
            "library": _APP_LIBRARY,
        }
        context_json = _encode(context)
        ids_json = _members(ids)
        at = start
        if random() < 0.3:
            emit("mobile", self._segment_line(_OPENED_FIELDS, ids_json, at, lag, context_json))
            at = self._step(at)
        for _ in range(1 + min(int(self.rnd.expovariate(0.45)), 8)):
            screen = _SCREEN_FIELDS[int(random() * len(_SCREEN_FIELDS))]
            emit("mobile", self._segment_line(screen, ids_json, at, lag, context_json))
            at = self._step(at)
        if logged_in and (person.signed_up_today or kiosk or random() < 0.2):
            fields = _members({"type": "identify", "traits": self._traits(person)})
            emit("mobile", self._segment_line(fields, ids_json, at, lag, context_json))
            at = self._step(at)
        self._segment_tracks("mobile", person, ids_json, at, lag, context_json, purchase)

    def _segment_tracks(
        self,
        stream: str,
        person: _Person,
        ids: str,
        at: int,
        lag: int,
        context: str,
        purchase: bool,
        email_in_context: bool = False,
    ) -> None:
        """Product events of a Segment session, ending in "Order Completed" for a purchase."""
        random = self.random
        emit = self.folder.emit
        viewed = _VIEWED_FIELDS[person.currency]
        product = int(random() * len(_PRODUCTS))
        views = purchase + min(int(self.rnd.expovariate(0.5)), 6)
        email = self._email(person) if email_in_context and views else None
        if email is not None:
            context = f'{context[:-1]},"traits":{{"email":"{email}"}}}}'
        for _ in range(views):
            product = int(random() * len(_PRODUCTS))
            emit(stream, self._segment_line(viewed[product], ids, at, lag, context))
            at = self._step(at)
        if purchase or random() < 0.15:
            emit(stream, self._segment_line(_ADDED_FIELDS[product], ids, at, lag, context))
            at = self._step(at)
        if not purchase:
            return
        value, transaction = self._order(person)
        properties: dict = {"transaction_id": transaction}
        properties["revenue" if random() < 0.15 else "value"] = value
        properties["currency"] = person.currency
        properties["products"] = [{**_product(product), "price": value, "quantity": 1}]
        fields = _members({"type": "track", "event": "Order Completed", "properties": properties})
        if stream == "web" and random() < 0.3:
            # Sent by the shop's backend through the API gateway rather than by the browser.
            stream, context = "api", _SERVER_CONTEXT_JSON
        where = emit(stream, self._segment_line(fields, ids, at, lag, context))
        self._record_purchase(person, self.occurred, value, "segment", transaction, where)

    def _client_api_session(
        self, person: _Person, start: int, lag: int, purchase: bool, kiosk: bool
    ) -> None:
        """A mobile-app visit sent through the client ingestion API (`devices`, `events`...)."""
        random = self.random
        emit = self.folder.emit
        pop = self.pop
        at = start + lag
        logged_in = person.user_id is not None and (kiosk or purchase or random() < 0.75)
        external = self._user(person).strip() if logged_in else None
        anon = None if kiosk or logged_in else self._anon(person)
        who = {"external_id": external} if external is not None else {"anonymous_id": anon}
        if kiosk or random() < 0.25:
            body = {**who}
            if kiosk:
                body.update(device_id=_KIOSK_DEVICE, os="iPadOS 17.1", model="iPad13,18")
            else:
                assert person.device is not None
                model, os_name, os_version = person.device
                body.update(device_id=self._device(person), os=f"{os_name} {os_version}")
                body["model"] = model
            body["token"] = f"{self.rnd.getrandbits(256):064x}"
            body.update(app_build=_APP["build"], app_version=_APP["version"])
            received = _iso_seconds(at)
            emit("api", _encode({"endpoint": "devices", "received_at": received, "body": body}))
            at = self._step(at)
        if external is not None and (person.signed_up_today or kiosk or random() < 0.25):
            body = {"external_id": external}
            if not kiosk:
                anon = body["anonymous_id"] = self._anon(person)
            email = self._email(person)
            if email is not None:
                body["email"] = email
            phone = self._phone(person) if random() < 0.6 else None
            if phone is not None:
                body["phone"] = phone
            zones = _TIMEZONES[person.region]
            body["timezone"] = zones[person.index % len(zones)]
            body["locale"] = _LOCALES[person.region][:2]
            camel = random() < 0.3
            body["data"] = {
                "firstName" if camel else "first_name": _FIRST_NAMES[pop.first[person.index]],
                "lastName" if camel else "last_name": _LAST_NAMES[pop.last[person.index]],
                "has_completed_onboarding": True,
            }
            received = _iso_seconds(at)
            emit("api", _encode({"endpoint": "identify", "received_at": received, "body": body}))
            if anon is not None and random() < (0.6 if person.signed_up_today else 0.05):
                alias = {"anonymous_id": anon, "external_id": external}
                received = _iso_seconds(at + 900)
                emit("api", _encode({"endpoint": "alias", "received_at": received, "body": alias}))
            at = self._step(at)
        who_json = _members(who)
        # The SDK sends events in batches of two to six.
        for _ in range(min(int(self.rnd.expovariate(0.8)), 3)):
            events = [
                f"{{{who_json},{_APP_EVENT_MEMBERS[int(random() * len(_APP_EVENT_MEMBERS))]}}}"
                for _ in range(2 + int(random() * 5))
            ]
            received = _iso_seconds(at)
            emit(
                "api",
                f'{{"endpoint":"events","received_at":"{received}","body":[{",".join(events)}]}}',
            )
            at = self._step(at)
        events = [
            f"{{{who_json},{_APP_EVENT_MEMBERS[int(random() * len(_APP_EVENT_MEMBERS))]}}}"
            for _ in range(2 + int(random() * 5) - purchase)
        ]
        order = None
        if purchase:
            value, transaction = self._order(person)
            product_id = _PRODUCTS[int(random() * len(_PRODUCTS))][0]
            quantity = 1 if random() < 0.7 else 2 + int(random() * 3)
            price = round(value / quantity, 2)
            order = (round(price * quantity, 2), transaction)
            data = {"product_id": product_id, "price": price, "quantity": quantity}
            data.update(currency=person.currency, order_id=transaction)
            events.append(f"{{{who_json},{_members({'name': 'Product Purchased', 'data': data})}}}")
        received = _iso_seconds(at)
        line = f'{{"endpoint":"events","received_at":"{received}","body":[{",".join(events)}]}}'
        where = emit("api", line)
        if order is not None:
            self._record_purchase(person, received, order[0], "client_api", order[1], where)

    def _identifier_session(
        self, person: _Person, start: int, lag: int, purchase: bool, platform: str
    ) -> None:
        """Page or app views reported to the Omni Identity `identifier` endpoint."""
        random = self.random
        emit = self.folder.emit
        stream = "identifier" if platform == "web" else "api"
        known = person.user_id is not None or (purchase and person.email_count > 0)
        email = self._email(person) if known and random() < 0.8 else None
        phone = self._phone(person) if known and random() < 0.3 else None
        body: dict = {"platform": platform, "count_prev_visits": True}
        email_only = email is not None and email not in _PLACEHOLDERS["email"] and random() < 0.05
        if not email_only:
            spoil = email is not None and self._spoil()
            anon = self._placeholder(person, "anonymous_id") if spoil else self._anon(person)
            body["anonymous_id"] = anon
        if email is not None:
            body["email"] = email
        if phone is not None:
            body["phone"] = phone
        members = _members(body)
        first_members = members
        if random() < 0.2:
            if random() < 0.5:
                clicks = {"fbclid": f"IwAR{self.rnd.getrandbits(200):050x}"}
            else:
                clicks = {"gaclid": f"EAIaIQobChMI{self.rnd.getrandbits(96):024x}"}
            first_members = _members({**body, **clicks})
        actions: list[tuple[str, str]] = []
        for _ in range(1 + min(int(self.rnd.expovariate(0.45)), 8)):
            page = _PAGE_VIEW_MEMBERS[int(random() * len(_PAGE_VIEW_MEMBERS))]
            seconds, depth = 3 + int(random() * 240), 5 + int(random() * 96)
            actions.append(
                ("pageview", f'{{{page},"time_on_page":{seconds},"scroll_depth":{depth}}}')
            )
        if person.signed_up_today:
            signup = {"form_name": "create_account", "acquisition_channel": platform}
            actions.append(("signup", _encode(signup)))
        order = None
        if purchase:
            product_id, _, _, price = _PRODUCTS[int(random() * len(_PRODUCTS))]
            actions.append(("add_to_cart", _encode({"product_id": product_id, "value": price})))
            value, transaction = self._order(person)
            properties = {"value": value, "currency": person.currency}
            properties["transaction_id"] = transaction
            actions.append(("purchase", _encode(properties)))
            order = (value, transaction)
        at = start + lag
        for position, (action, properties_json) in enumerate(actions):
            received = _iso_seconds(at)
            line = (
                f'{{"endpoint":"identifier","received_at":"{received}",'
                f'"body":{{{first_members if position == 0 else members},'
                f'"valuation_properties":{{"action":"{action}","properties":{properties_json}}}}}}}'
            )
            where = emit(stream, line)
            if action == "purchase" and order is not None:
                self._record_purchase(person, received, order[0], "identifier_api", order[1], where)
            at = self._step(at)

    # -- broken lines --------------------------------------------------------------------------

    def _write_malformed(self, ordinal: int) -> None:
        """Write one line of the next kind of breakage, in turn, and record it in the truth."""
        rnd = self.rnd
        kind = _MALFORMED_KINDS[self._malformed_turn % len(_MALFORMED_KINDS)]
        self._malformed_turn += 1
        at = _day_ms(ordinal) + rnd.randrange(_DAY_MS)
        stamp = _iso(at)
        someone = _uuid(self.pop.salt + 9, self._malformed_turn)
        message_id = f"ajs-next-{rnd.getrandbits(128):032x}"
        track = {"type": "track", "messageId": message_id, "anonymousId": someone}
        track.update(event="Product Viewed", properties={"product_id": "10231", "price": 89.0})
        stream = rnd.choice(("web", "mobile", "api", "identifier"))
        content: object
        if kind == "truncated_json":
            text = _encode({**track, "timestamp": stamp})
            line = text[: rnd.randrange(10, len(text) - 2)]
        else:
            if kind == "json_array":
                content = [{**track, "timestamp": stamp}]
            elif kind == "json_string":
                content = "Order Completed"
            elif kind == "no_shape":
                content = {"event": "Order Completed", "userId": someone, "timestamp": stamp}
            elif kind == "no_identifier":
                del track["anonymousId"]
                content = {**track, "context": {"locale": "en-US"}, "timestamp": stamp}
                stream = "web"
            elif kind in ("user_id_object", "user_id_list"):
                user = {"id": someone} if kind == "user_id_object" else [someone, "u-000001"]
                content = {**track, "userId": user, "timestamp": stamp}
                stream = "web"
            elif kind == "timestamp_number":
                content = {**track, "timestamp": at // 1000}
                stream = "mobile"
            elif kind == "timestamp_unparseable":
                stamp = rnd.choice(("yesterday at noon", "2026-13-45T25:61:00Z", "not a date"))
                content = {**track, "timestamp": stamp}
                stream = "mobile"
            else:
                if kind == "events_body_object":
                    body: object = {"external_id": someone, "name": "Product Viewed", "data": {}}
                else:
                    body = ["Product Viewed", "Added to Cart"]
                content = {"endpoint": "events", "received_at": stamp, "body": body}
                stream = "api"
            line = _encode(content)
        relative, number = self.folder.emit_raw(stream, line)
        self.truth.malformed.append((relative, number, kind))


# --- ground truth files ----------------------------------------------------------------------


def _write_people(path: Path, pop: _Population, truth: _Truth) -> None:
    """people.csv: each person's habit and the parameters their behaviour was drawn from.

    Written column by column in chunks: it has a row for each of possibly millions of people.
    """
    header = (
        "person_id,habit,currency,region,first_seen_day,signup_day,visits_per_day,"
        "engagement_floor,engagement_days,purchases_per_day,rate_drift_per_year,dropout_day,"
        "one_off_day,mean_order_value,has_app,kiosk_user,purchases\n"
    )
    day_texts: dict[int, str] = {}

    def days(values: np.ndarray) -> list[str]:
        texts = []
        for ordinal in values.tolist():
            text = day_texts.get(ordinal)
            if text is None:
                valid = 0 < ordinal < _NEVER
                text = day_texts[ordinal] = date.fromordinal(ordinal).isoformat() if valid else ""
            texts.append(text)
        return texts

    def numbers(values: np.ndarray, digits: int) -> list[str]:
        return [f"{value:.{digits}f}" for value in values.tolist()]

    kiosk = np.zeros(pop.size, dtype=bool)
    kiosk[pop.kiosk_people] = True
    purchases = np.zeros(pop.size, dtype=np.int64)
    for p, count in truth.purchases_per_person.items():
        purchases[p] = count
    currencies = np.array(["EUR" if r in _EURO_REGIONS else "USD" for r in range(len(_REGIONS))])
    with path.open("w", encoding="utf-8") as handle:
        handle.write(header)
        for start in range(0, pop.size, 50_000):
            rows = slice(start, start + 50_000)
            columns = [
                [f"p-{p + 1:06d}" for p in range(rows.start, min(rows.stop, pop.size))],
                np.array(_HABITS)[pop.habit[rows]].tolist(),
                currencies[pop.region[rows]].tolist(),
                np.array(_REGIONS)[pop.region[rows]].tolist(),
                days(pop.start[rows]),
                days(pop.signup[rows]),
                numbers(pop.visit_rate[rows], 4),
                numbers(pop.floor[rows], 2),
                numbers(pop.tau[rows], 1),
                numbers(pop.buy_rate[rows], 4),
                numbers(pop.drift[rows], 3),
                days(pop.dropout[rows]),
                days(pop.one_off_day[rows]),
                numbers(pop.mean_value[rows], 2),
                pop.has_app[rows].astype(int).astype(str).tolist(),
                kiosk[rows].astype(int).astype(str).tolist(),
                purchases[rows].astype(str).tolist(),
            ]
            handle.write("\n".join(map(",".join, zip(*columns, strict=True))) + "\n")


def _identifier_rows(pop: _Population) -> Iterator[tuple[str, str, str]]:
    """identifiers.csv rows: each identifier that went into a valid line, normalised."""
    seen = pop.seen
    for p in np.flatnonzero(seen).tolist():
        bits = int(seen[p])
        person_id = f"p-{p + 1:06d}"
        if bits & _SEEN_USER:
            yield person_id, "user_id", pop.user_id(p)
        for k, bit in enumerate(_SEEN_ANON):
            if bits & bit:
                yield person_id, "anonymous_id", pop.anon_id(p, k)
        for k, bit in enumerate(_SEEN_EMAIL):
            if bits & bit:
                yield person_id, "email", _normalize_email(pop.email(p, k) or "")
        if bits & _SEEN_PHONE:
            yield person_id, "phone", (pop.phone_display(p) or "").replace(" ", "")
        if bits & _SEEN_DEVICE:
            yield person_id, "device_id", pop.device_id(p)


def _write_truth(truth_dir: Path, pop: _Population, truth: _Truth) -> None:
    """The CSV files of `_truth/` (the pipeline skips folders whose name starts with "_")."""
    _write_people(truth_dir / "people.csv", pop, truth)
    placeholders = [
        (kind, value, len(people), "unparseable" if value in _UNPARSEABLE_PHONES else "placeholder")
        for (kind, value), people in sorted(truth.placeholders.items())
    ]
    tables: dict[str, tuple[str, Iterable[Sequence[object]]]] = {
        "identifiers": ("person_id,identifier_type,normalized_value", _identifier_rows(pop)),
        "shared": (
            "identifier_type,value,person_count",
            [("device_id", _KIOSK_DEVICE, len(truth.kiosk_people))],
        ),
        "placeholders": ("identifier_type,value,person_count,reason", placeholders),
        "malformed": ("file,line_number,kind", truth.malformed),
        "duplicates": ("file,line_number,original_file,original_line_number", truth.duplicates),
    }
    for name, (header, rows) in tables.items():
        with (truth_dir / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header.split(","))
            writer.writerows(rows)


# --- entry point -----------------------------------------------------------------------------

_PURCHASES_HEADER = "person_id,occurred_at,value,currency,source,transaction_id,file,line_number\n"
_PILOT_PEOPLE = 3000
_PILOT_LINES = 20_000


def write_sample(out_dir: Path, config: SampleConfig | None = None) -> SampleSummary:
    """Write daily landing folders under `out_dir` and the ground truth in `out_dir/_truth`.

    Same configuration, same bytes; writing again over the same folders replaces the files it
    wrote before and touches nothing else.
    """
    config = config or SampleConfig()
    people = config.people if config.target_lines is None else _people_for(config)
    return _generate(Path(out_dir), config, people)


def _people_for(config: SampleConfig) -> int:
    """How many people give about `config.target_lines` lines, measured on pilot runs.

    Lines per person depend on every rate in this module, so they are measured rather than
    derived. The pilot grows until it writes enough lines for a stable estimate.
    """
    assert config.target_lines is not None
    fixed = config.malformed_per_day * config.days
    pilot_people = _PILOT_PEOPLE
    while True:
        with tempfile.TemporaryDirectory() as pilot_dir:
            pilot = _generate(Path(pilot_dir), replace(config, target_lines=None), pilot_people)
        per_person = max(pilot.total_lines - fixed, 1) / pilot_people
        people = max(1, round((config.target_lines - fixed) / per_person))
        if pilot.total_lines >= _PILOT_LINES or pilot_people >= people:
            return people
        pilot_people = min(people, math.ceil(pilot_people * _PILOT_LINES / pilot.total_lines))


def _generate(out_dir: Path, config: SampleConfig, people: int) -> SampleSummary:
    truth_dir = out_dir / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    with (
        (truth_dir / "purchases.csv.gz").open("wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=_GZIP_LEVEL
        ) as packed,
        io.TextIOWrapper(packed, encoding="utf-8", newline="") as purchases,
    ):
        purchases.write(_PURCHASES_HEADER)
        truth = _Truth(purchases=purchases)
        simulation = _Simulation(out_dir, config, people, truth)
        days, files = simulation.run()
    _write_truth(truth_dir, simulation.pop, truth)
    return SampleSummary(
        files=dict(sorted(files.items())),
        total_lines=sum(files.values()),
        people=people,
        days=days,
        malformed_lines=len(truth.malformed),
        duplicate_lines=len(truth.duplicates),
        purchases=truth.purchase_count,
        truth_dir=truth_dir,
    )
