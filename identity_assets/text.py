"""The one rule for the edges of an identifier: what is trimmed, in Python and in SQL alike.

An identifier loses, at either end, every Unicode whitespace (categories Zs, Zl, Zp and the
controls Python counts as space: tab, newline, ...), control (Cc) and format (Cf: zero-width
space and joiners, BOM, soft hyphen, bidi marks) character. `clean_text` applies it in Python;
`CLEAN_TEXT_MACRO` defines the SQL macro `clean_text(v)` with the same characters, and
`identity_assets.sql.create_macros` creates it on a connection. A property test holds the
two to the same answer for any string.
"""

from __future__ import annotations

# Inclusive code point ranges of the characters trimmed (Unicode 14, as Python 3.11 has it).
EDGE_RANGES = (
    (0x0000, 0x0020),
    (0x007F, 0x00A0),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x1680, 0x1680),
    (0x180E, 0x180E),
    (0x2000, 0x200F),
    (0x2028, 0x202F),
    (0x205F, 0x2064),
    (0x2066, 0x206F),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)

EDGE_CHARS = "".join(chr(c) for low, high in EDGE_RANGES for c in range(low, high + 1))


def clean_text(value: str) -> str:
    """`value` without whitespace, control and format characters at either end."""
    return value.strip(EDGE_CHARS)


def _sql_class() -> str:
    def escape(code: int) -> str:
        return f"\\x{{{code:x}}}"

    return "".join(
        escape(low) if low == high else f"{escape(low)}-{escape(high)}" for low, high in EDGE_RANGES
    )


# A regular expression (RE2) rather than trim(v, chars): as fast as a plain trim, where trim
# with this many characters is ten times slower.
CLEAN_TEXT_MACRO = (
    "create or replace temp macro clean_text(v) as "
    f"regexp_replace(v, '^[{_sql_class()}]+|[{_sql_class()}]+$', '', 'g')"
)
