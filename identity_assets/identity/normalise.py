"""Normalising one identifier value in Python, by the rules the identity stage's SQL applies.

The stage normalises whole tables in SQL (`sql/insert_sightings.sql`); look-ups normalise the
one value a user typed here, and a test holds the two to the same answers.
"""

from __future__ import annotations

import phonenumbers


def normalise_phone(raw: str, region: str) -> tuple[str | None, str | None]:
    """E.164 form of a phone written any way, or (None, reason) when it is not a valid number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None, "unparseable"
    if not phonenumbers.is_valid_number(number):
        return None, "not a valid number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def normalise_identifier(identifier_type: str, value: str, phone_region: str = "US") -> str:
    """The form the identity stage stores: UID2 email rules, E.164 phones, ids trimmed."""
    if identifier_type == "email":
        email = value.strip().lower()
        local, _, domain = email.partition("@")
        if domain == "gmail.com":
            return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
        return email
    if identifier_type == "phone":
        e164, _ = normalise_phone(value.strip(), phone_region)
        return e164 or value.strip()
    return value.strip()
