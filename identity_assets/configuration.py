"""Every setting checked in one place, before any step runs.

The definitions call `check_configuration` as they load, so a mistake shows on the code
location in the UI and stops `identity-assets run` with exit 2 and one line naming the
variable, the value and what is allowed, before any stage has written anything: each
environment variable (`settings`), and the identity rules, purchase rules and segments files
the variables name, read and type-checked, with every segment condition compiled.
"""

from __future__ import annotations

from identity_assets import settings
from identity_assets.identity.rules import IdentityRules, load_identity_rules
from identity_assets.metrics.rules import load_purchase_rules
from identity_assets.segments.rules import (
    DEFAULT_SEGMENTS,
    check_segments,
    compile_conditions,
    load_segments,
)
from identity_assets.settings import ConfigError


def check_configuration() -> None:
    """Raise `ConfigError` for the first setting that is not allowed."""
    settings.check_environment()
    if path := settings.text("IDENTITY_RULES"):
        _file("IDENTITY_RULES", path, lambda: load_identity_rules(path, IdentityRules()))
    if path := settings.text("IDENTITY_PURCHASE_RULES"):
        _file("IDENTITY_PURCHASE_RULES", path, lambda: load_purchase_rules(path))
    path = settings.text("IDENTITY_SEGMENTS")
    segments = (
        _file("IDENTITY_SEGMENTS", path, lambda: load_segments(path))
        if path
        else check_segments(DEFAULT_SEGMENTS)
    )
    _file("IDENTITY_SEGMENTS", path or "built-in segments", lambda: compile_conditions(segments))


def _file(variable: str, path: str, load):
    """What `load` returns; its error, on one line, as the variable's."""
    try:
        return load()
    except ValueError as error:
        raise ConfigError(variable, path, str(error).replace(f" in {path}", "")) from None
