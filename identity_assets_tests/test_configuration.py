"""Every setting is checked when the definitions load: one line naming the variable, the value
and what is allowed, before any step runs."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from identity_assets import settings
from identity_assets.cli import main
from identity_assets.configuration import check_configuration
from identity_assets.definitions import build_definitions
from identity_assets.segments.membership import update_membership
from identity_assets.segments.rules import SegmentRule
from identity_assets.settings import VARIABLES, ConfigError
from identity_assets_tests.builders import ROOT


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path: Path) -> None:
    """Only the variables a test sets; the landing directory and warehouse under tmp_path."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.setenv("IDENTITY_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("IDENTITY_DUCKDB_PATH", str(tmp_path / "identity.duckdb"))


def test_the_defaults_are_valid() -> None:
    check_configuration()


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("IDENTITY_PHONE_REGION", "ZZ", "a two-letter region phonenumbers supports"),
        ("IDENTITY_PHONE_REGION", "us", "a two-letter region phonenumbers supports"),
        ("IDENTITY_TIMEZONE", "Mars/Base", "an IANA time zone"),
        ("IDENTITY_SCHEDULE_CRON", "bad cron", "a 5-field cron expression"),
        ("IDENTITY_SCHEDULE_CRON", "0 0 3 * * *", "a 5-field cron expression"),
        ("IDENTITY_DUCKDB_MEMORY_LIMIT", "lots", "must be a size"),
        ("IDENTITY_DUCKDB_MEMORY_LIMIT", "100", "must be a size"),
        ("IDENTITY_DUCKDB_THREADS", "-3", "a whole number of at least 1"),
        ("IDENTITY_DUCKDB_THREADS", "0", "a whole number of at least 1"),
        ("IDENTITY_MAX_LINKED_VALUES", "0", "a whole number of at least 1"),
        ("IDENTITY_MAX_LINKED_VALUES", "2.9", "a whole number of at least 1"),
        ("IDENTITY_MAX_IDENTITY_SIZE", "many", "a whole number of at least 1"),
        ("IDENTITY_MIN_REPEAT_BUYERS", "0", "a whole number of at least 1"),
        ("IDENTITY_API_CONCURRENCY", "0", "a whole number of at least 1"),
        ("IDENTITY_FIRST_DAY", "2024-13-01", "a YYYY-MM-DD date"),
        ("IDENTITY_API_URL", "ftp://host/api", "an http(s) URL with a host"),
        ("IDENTITY_API_URL", "http:///api", "an http(s) URL with a host"),
    ],
)
def test_a_variable_that_is_not_allowed_is_named_with_its_value(
    monkeypatch, variable, value, allowed
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        check_configuration()
    message = str(error.value)
    assert message.startswith(f"{variable}={value!r}: ") and allowed in message
    assert "\n" not in message


def test_the_definitions_do_not_load_with_a_bad_setting(monkeypatch) -> None:
    """What the UI shows on the code location, before any run is possible."""
    monkeypatch.setenv("IDENTITY_API_CONCURRENCY", "0")
    with pytest.raises(ConfigError, match="IDENTITY_API_CONCURRENCY='0'"):
        build_definitions()


@pytest.mark.parametrize("size", ["2GB", "2 GB", "512MiB", "1.5GB", "50%", "2gb", "1TiB"])
def test_every_memory_limit_accepted_is_one_duckdb_accepts(monkeypatch, size) -> None:
    monkeypatch.setenv("IDENTITY_DUCKDB_MEMORY_LIMIT", size)
    config = settings.duckdb_config()
    duckdb.connect(config=config).close()


def test_credentials_in_the_api_url_are_refused_without_repeating_the_password(
    monkeypatch,
) -> None:
    monkeypatch.setenv("IDENTITY_API_URL", "https://ops:s3cret-pw@api.example.com/api/v1")
    with pytest.raises(ConfigError) as error:
        build_definitions()
    assert "must not carry credentials" in str(error.value)
    assert "s3cret-pw" not in str(error.value) and "ops" not in str(error.value)


def write(tmp_path: Path, name: str, content: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(content))
    return str(path)


RULE = {
    "name": "orders",
    "source": "segment",
    "event_names": ["Order Completed"],
    "value_paths": ["$.properties.value"],
    "currency_path": "$.properties.currency",
}


@pytest.mark.parametrize(
    ("variable", "content", "says"),
    [
        ("IDENTITY_RULES", {"extra_placeholders": "guest-user"}, "must be a list of strings"),
        ("IDENTITY_RULES", {"max_linked_values": 2.9}, "must be a whole number"),
        ("IDENTITY_RULES", {"limits": {"email": 2.9}}, "must be whole numbers"),
        ("IDENTITY_RULES", {"blocks": {"type": "email"}}, "must be a list of objects"),
        ("IDENTITY_RULES", {"blocks": [{"type": "email", "value": ["x"]}]}, "block 1"),
        ("IDENTITY_PURCHASE_RULES", [{**RULE, "event_names": "Order Completed"}], "event_names"),
        ("IDENTITY_PURCHASE_RULES", [{**RULE, "source": "segmnet"}], "source must be one of"),
        ("IDENTITY_PURCHASE_RULES", [{**RULE, "value_paths": ["$.properties..value"]}], "path"),
        ("IDENTITY_PURCHASE_RULES", [{**RULE, "currency_path": "properties.currency"}], "path"),
        ("IDENTITY_PURCHASE_RULES", [{**RULE, "quantity": "$.q"}], "unknown keys"),
        ("IDENTITY_PURCHASE_RULES", [{**RULE, "default_currency": 840}], "3-letter"),
        ("IDENTITY_PURCHASE_RULES", [RULE, RULE], "distinct names"),
        ("IDENTITY_SEGMENTS", [{"name": "big", "where": 500}], "the strings name, where"),
        ("IDENTITY_SEGMENTS", [{"name": "big", "where": "m.total_spnd > 5"}], "does not compile"),
        ("IDENTITY_SEGMENTS", [], "non-empty JSON list"),
    ],
)
def test_a_rules_file_of_the_wrong_shape_is_refused_naming_the_variable(
    monkeypatch, tmp_path, variable, content, says
) -> None:
    path = write(tmp_path, "rules.json", content)
    monkeypatch.setenv(variable, path)
    with pytest.raises(ConfigError) as error:
        check_configuration()
    assert str(error.value).startswith(f"{variable}={path!r}: ")
    assert says in str(error.value) and "\n" not in str(error.value)


def test_a_missing_rules_file_is_named(monkeypatch) -> None:
    monkeypatch.setenv("IDENTITY_SEGMENTS", "/missing.json")
    with pytest.raises(ConfigError, match=r"IDENTITY_SEGMENTS='/missing.json': cannot read"):
        check_configuration()


@pytest.mark.parametrize(
    "where",
    [
        "exists (select 1 from read_csv('/etc/passwd'))",
        "m.total_spend > 0) or (select count(*) from read_text('/etc/passwd')) > 0 or (true",
        "(select count(*) from '/etc/passwd') > 0",
    ],
)
def test_a_segment_condition_cannot_read_files(monkeypatch, tmp_path, conn, where) -> None:
    monkeypatch.setenv(
        "IDENTITY_SEGMENTS", write(tmp_path, "s.json", [{"name": "x", "where": where}])
    )
    with pytest.raises(ConfigError, match="does not compile"):
        check_configuration()
    # nor when membership is computed directly, without the configuration's check
    with pytest.raises(ValueError, match="does not compile"):
        update_membership(conn, (SegmentRule("x", where),))


def test_help_lists_every_variable_and_the_exit_codes(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for variable in VARIABLES:
        assert variable.name in text and variable.accepts in text
    assert "exit codes:" in text
    assert re.search(r"^  2  a configuration or usage error", text, re.MULTILINE)


def test_the_readme_table_lists_what_every_variable_accepts() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") :]
    for variable in VARIABLES:
        row = next(line for line in table.splitlines() if line.startswith(f"| `{variable.name}`"))
        assert variable.accepts in row, variable.name


def test_the_first_day_is_the_earliest_landed_day_when_not_set(tmp_path) -> None:
    landing = tmp_path / "landing"
    assert settings.first_day() == datetime.now(UTC).date()  # nothing landed yet
    (landing / "2026-11-20").mkdir(parents=True)
    (landing / "_truth").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (landing / "2026-11-18").symlink_to(tmp_path / "elsewhere")
    assert settings.first_day() == date(2026, 11, 18)


def test_a_set_first_day_wins_over_the_landed_days(monkeypatch, tmp_path) -> None:
    (tmp_path / "landing" / "2026-11-20").mkdir(parents=True)
    monkeypatch.setenv("IDENTITY_FIRST_DAY", "2026-01-01")
    assert settings.first_day() == date(2026, 1, 1)
