"""Tests for the sample generator: the exports follow the contract, are messy in every way the
pipeline must survive, and the ground truth agrees with them line by line.

The checks parse the exports with their own reading of the contract (plain `json`,
`phonenumbers`, a local email normaliser) rather than with the generator's helpers, so a
generator bug cannot hide behind itself.
"""

import csv
import gzip
import json
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest

from identity_assets.sample import SampleConfig, SampleSummary, write_sample

SMALL = SampleConfig(people=1000, days=4, history_days=60, malformed_per_day=3)
SEGMENT_TYPES = {"identify", "track", "page", "screen", "alias", "group"}
CLIENT_ENDPOINTS = {"alias", "identify", "devices", "events"}
MALFORMED_KINDS = {
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
}
KIOSK = "kiosk-store-042"


@dataclass
class Line:
    file: str  # relative to the landing directory, e.g. "2026-11-20/api-2026-11-20.ndjson"
    number: int
    text: str
    obj: object = None

    @property
    def day(self) -> date:
        return date.fromisoformat(self.file.split("/")[0])

    @property
    def history(self) -> bool:
        return "/history-" in self.file


@dataclass
class Sample:
    out: Path
    summary: SampleSummary
    lines: list[Line]
    malformed: dict[tuple[str, int], str]
    duplicates: dict[tuple[str, int], tuple[str, int]]
    truth: dict[str, list[dict]] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    placeholders: set[tuple[str, str]] = field(default_factory=set)

    def valid(self, copies: bool = False) -> list[Line]:
        """Lines that are not listed as malformed (and, unless asked, not re-delivered copies)."""
        return [
            line
            for line in self.lines
            if (line.file, line.number) not in self.malformed
            and (copies or (line.file, line.number) not in self.duplicates)
        ]


def read_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(read_text(path).splitlines()))


def load(out: Path, summary: SampleSummary) -> Sample:
    lines = []
    for path in sorted(out.glob("[0-9]*/*")):
        text = read_text(path)
        assert text.endswith("\n") or not text, path
        relative = path.relative_to(out).as_posix()
        for number, raw in enumerate(text.splitlines(), start=1):
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = None
            lines.append(Line(relative, number, raw, obj))
    truth_dir = out / "_truth"
    malformed = {
        (row["file"], int(row["line_number"])): row["kind"]
        for row in read_csv(truth_dir / "malformed.csv")
    }
    duplicates = {
        (row["file"], int(row["line_number"])): (
            row["original_file"],
            int(row["original_line_number"]),
        )
        for row in read_csv(truth_dir / "duplicates.csv")
    }
    truth = {
        name: read_csv(truth_dir / f"{name}.csv")
        for name in ("people", "identifiers", "shared", "placeholders")
    }
    truth["purchases"] = read_csv(truth_dir / "purchases.csv.gz")
    owner = {
        (row["identifier_type"], row["normalized_value"]): row["person_id"]
        for row in truth["identifiers"]
    }
    placeholders = {(row["identifier_type"], row["value"]) for row in truth["placeholders"]}
    return Sample(out, summary, lines, malformed, duplicates, truth, owner, placeholders)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    out = tmp_path_factory.mktemp("landing")
    return load(out, write_sample(out, SMALL))


# --- an independent reading of the contract ---------------------------------------------------


def parses_as_time(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def contract_problem(line: Line) -> str | None:
    """Why the contract (spec/raw-exports.md) rejects this line, or None if it accepts it."""
    obj = line.obj
    if obj is None:
        return "not JSON"
    if not isinstance(obj, dict):
        return "not an object"
    if "type" in obj:
        if obj["type"] not in SEGMENT_TYPES:
            return "unknown type"
        ids = ("previousId", "userId") if obj["type"] == "alias" else ("userId", "anonymousId")
        present = [obj[key] for key in ids if key in obj]
        if not present:
            return "no identifier"
        if not all(isinstance(value, str) for value in present):
            return "identifier of the wrong type"
        if "timestamp" in obj and not parses_as_time(obj["timestamp"]):
            return "bad timestamp"
        return None if parses_as_time(obj.get("receivedAt")) else "bad receivedAt"
    if "endpoint" in obj:
        if not parses_as_time(obj.get("received_at")):
            return "bad received_at"
        body = obj.get("body")
        if obj["endpoint"] == "events":
            if not isinstance(body, list) or not body:
                return "events body is not an array"
            for element in body:
                if not isinstance(element, dict):
                    return "events element is not an object"
                if not ("external_id" in element or "anonymous_id" in element):
                    return "events element without identifier"
            return None
        if obj["endpoint"] not in CLIENT_ENDPOINTS | {"identifier"} or not isinstance(body, dict):
            return "bad envelope"
        identified = "anonymous_id" in body or "email" in body
        if obj["endpoint"] == "identifier" and not ("platform" in body and identified):
            return "identifier call without platform or identifier"
        return None
    return "no recognised shape"


def shape(line: Line) -> str:
    obj = line.obj
    assert isinstance(obj, dict)
    if "type" in obj:
        return "segment"
    return "identifier_api" if obj["endpoint"] == "identifier" else "client_api"


def identifiers_of(line: Line) -> list[tuple[str, str]]:
    """(identifier type, raw value) pairs a valid line carries, read as the contract says."""
    obj = line.obj
    assert isinstance(obj, dict)
    found: list[tuple[str, str | None]] = []
    if "type" in obj:
        traits = obj.get("traits") or {}
        context = obj.get("context") or {}
        found += [
            ("user_id", obj.get("userId")),
            ("anonymous_id", obj.get("anonymousId")),
            ("anonymous_id", obj.get("previousId")),
            ("device_id", (context.get("device") or {}).get("id")),
            ("email", (context.get("traits") or {}).get("email")),
        ]
        if obj["type"] == "identify":
            found += [("email", traits.get("email")), ("phone", traits.get("phone"))]
    else:
        bodies = obj["body"] if isinstance(obj["body"], list) else [obj["body"]]
        for body in bodies:
            found += [
                ("user_id", body.get("external_id")),
                ("anonymous_id", body.get("anonymous_id")),
                ("email", body.get("email")),
                ("phone", body.get("phone")),
                ("device_id", body.get("device_id")),
            ]
    return [(kind, value) for kind, value in found if value is not None]


def normalize_email(raw: str) -> str:
    local, domain = raw.strip().lower().rsplit("@", 1)
    if domain == "gmail.com":
        local = local.split("+")[0].replace(".", "")
    return f"{local}@{domain}"


def normalize(kind: str, raw: str) -> str | None:
    """The contract's normalised value, or None when it cannot be normalised (a bad phone)."""
    if kind == "email":
        return normalize_email(raw) if "@" in raw else None
    if kind == "phone":
        try:
            number = phonenumbers.parse(raw, "US")
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return raw.strip()


def attribute(sample: Sample, line: Line) -> tuple[set[str], list[tuple[str, str, str | None]]]:
    """The persons a line's real identifiers point to, and each (type, raw, normalised)."""
    placeholders, owner = sample.placeholders, sample.owners
    persons = set()
    normalized = []
    for kind, raw in identifiers_of(line):
        if (kind, raw) in placeholders or raw == KIOSK:
            continue
        value = normalize(kind, raw)
        normalized.append((kind, raw, value))
        if (kind, value) in owner:
            persons.add(owner[(kind, value)])
    return persons, normalized


def occurred_day(line: Line) -> date:
    """The day an event happened: its timestamp, else when it was received (the contract)."""
    obj = line.obj
    assert isinstance(obj, dict)
    return date.fromisoformat(
        (obj.get("timestamp") or obj.get("receivedAt") or obj["received_at"])[:10]
    )


def purchases_in(sample: Sample) -> list[tuple]:
    """Purchase events of the exports, one per purchase, as (file, line, value, currency, ...)."""
    found = []
    for line in sample.valid():
        obj = line.obj
        assert isinstance(obj, dict)
        where = (line.file, line.number)
        if obj.get("type") == "track" and obj["event"] == "Order Completed":
            properties = obj["properties"]
            value = properties.get("value", properties.get("revenue"))
            occurred = obj.get("timestamp", obj["receivedAt"])
            found.append((*where, value, properties["currency"], "segment", occurred))
        elif obj.get("endpoint") == "events":
            for element in obj["body"]:
                if element["name"] == "Product Purchased":
                    data = element["data"]
                    value = round(data["price"] * data["quantity"], 2)
                    currency = data["currency"]
                    found.append((*where, value, currency, "client_api", obj["received_at"]))
        elif obj.get("endpoint") == "identifier":
            valuation = obj["body"]["valuation_properties"]
            if valuation["action"] == "purchase":
                properties = valuation["properties"]
                value, currency = properties["value"], properties["currency"]
                found.append((*where, value, currency, "identifier_api", obj["received_at"]))
    return found


# --- determinism and files --------------------------------------------------------------------


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_same_config_writes_identical_bytes(tmp_path: Path) -> None:
    config = SampleConfig(people=120, days=2, history_days=20)
    write_sample(tmp_path / "a", config)
    write_sample(tmp_path / "b", config)
    first, second = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    other = write_sample(tmp_path / "c", replace(config, seed=8))
    assert (other.truth_dir / "people.csv").read_bytes() != first["_truth/people.csv"]


def test_rewriting_replaces_its_own_files_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "landing"
    with_history = SampleConfig(people=100, days=2, history_days=10)
    write_sample(out, with_history)
    first_day = out / "2026-11-19"
    assert (first_day / "history-segment.jsonl.gz").exists()
    (first_day / "someone-elses.jsonl").write_text("{}\n")
    (out / "2020-01-01").mkdir()
    (out / "2020-01-01" / "old.jsonl").write_text("{}\n")

    without_history = SampleConfig(people=100, days=2, history_days=0)
    write_sample(out, without_history)
    write_sample(tmp_path / "fresh", without_history)

    kept = {"2026-11-19/someone-elses.jsonl", "2020-01-01/old.jsonl"}
    rewritten = {name: data for name, data in tree(out).items() if name not in kept}
    assert rewritten == tree(tmp_path / "fresh")
    assert all((out / name).exists() for name in kept)


def test_rewriting_the_same_files_keeps_their_modification_times(tmp_path: Path) -> None:
    """So a second `make run` does not read every day again."""
    out = tmp_path / "landing"
    config = SampleConfig(people=60, days=2, history_days=5)
    write_sample(out, config)

    def times() -> dict[str, int]:
        return {
            path.relative_to(out).as_posix(): path.stat().st_mtime_ns
            for path in out.glob("2026-*/*")
        }

    before = times()
    for path in out.glob("2026-*/*"):
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    write_sample(out, config)
    assert set(times().values()) == {1_000_000_000} and times().keys() == before.keys()
    contents = {name: data for name, data in tree(out).items() if name.startswith("2026-")}
    write_sample(out, replace(config, seed=8))
    changed = {name for name, data in tree(out).items() if contents.get(name, data) != data}
    assert changed, "another seed writes other bytes"
    assert {name for name, t in times().items() if t != 1_000_000_000} == changed
    assert not list(out.rglob(".*"))


def test_each_day_folder_has_plain_ndjson_and_gzip_files(sample: Sample) -> None:
    folders = sorted(path for path in sample.out.iterdir() if not path.name.startswith("_"))
    first = SMALL.end_day - timedelta(days=SMALL.days - 1)
    assert [folder.name for folder in folders] == [
        (first + timedelta(days=n)).isoformat() for n in range(SMALL.days)
    ]
    assert sample.summary.days == [first + timedelta(days=n) for n in range(SMALL.days)]
    for folder in folders:
        names = [path.name for path in folder.iterdir()]
        assert any(name.endswith(".jsonl") for name in names), names
        assert any(name.endswith(".ndjson") for name in names), names
        assert any(name.endswith(".gz") for name in names), names
    history = sorted(path.name for path in folders[0].glob("history-*"))
    assert history == ["history-api.ndjson.gz", "history-segment.jsonl.gz"]
    counted = Counter(line.file for line in sample.lines)
    assert {
        path.relative_to(sample.out).as_posix(): n for path, n in sample.summary.files.items()
    } == counted
    assert sample.summary.total_lines == len(sample.lines)


# --- the contract and the bad lines -----------------------------------------------------------


def test_every_line_is_valid_or_listed_as_malformed(sample: Sample) -> None:
    for line in sample.lines:
        listed = (line.file, line.number) in sample.malformed
        problem = contract_problem(line)
        assert listed == (problem is not None), (line.file, line.number, problem, line.text[:200])


def test_malformed_lines_of_every_kind_and_as_many_per_day_as_configured(sample: Sample) -> None:
    assert set(sample.malformed.values()) == MALFORMED_KINDS
    per_day = Counter(file.split("/")[0] for file, _ in sample.malformed)
    assert set(per_day.values()) == {SMALL.malformed_per_day}
    assert len(per_day) == SMALL.days
    assert sample.summary.malformed_lines == len(sample.malformed)
    by_kind = {kind: (file, number) for (file, number), kind in sample.malformed.items()}
    parsed = {(line.file, line.number): line.obj for line in sample.lines}
    assert isinstance(parsed[by_kind["json_array"]], list)
    assert isinstance(parsed[by_kind["json_string"]], str)
    assert isinstance(parsed[by_kind["user_id_object"]]["userId"], dict)
    assert isinstance(parsed[by_kind["user_id_list"]]["userId"], list)
    assert isinstance(parsed[by_kind["timestamp_number"]]["timestamp"], int)
    assert isinstance(parsed[by_kind["events_body_object"]]["body"], dict)
    assert parsed[by_kind["truncated_json"]] is None


def test_all_shapes_types_and_endpoints_are_present_and_mixed(sample: Sample) -> None:
    valid = sample.valid()
    types = {line.obj["type"] for line in valid if "type" in line.obj}
    endpoints = {line.obj["endpoint"] for line in valid if "endpoint" in line.obj}
    assert types == SEGMENT_TYPES
    assert endpoints == CLIENT_ENDPOINTS | {"identifier"}
    shapes_per_file = defaultdict(set)
    for line in valid:
        shapes_per_file[line.file].add(shape(line))
    assert max(len(shapes) for shapes in shapes_per_file.values()) == 3

    tracks = Counter(line.obj["event"] for line in valid if line.obj.get("type") == "track")
    assert {"Order Completed", "Product Viewed", "Added to Cart"} <= tracks.keys()
    orders = [
        line.obj["properties"] for line in valid if line.obj.get("event") == "Order Completed"
    ]
    assert any("value" in order for order in orders)
    assert any("revenue" in order for order in orders)
    assert all({"currency", "transaction_id"} <= order.keys() for order in orders)
    assert {order["currency"] for order in orders} == {"USD", "EUR"}

    segment = [line.obj for line in valid if "type" in line.obj]
    assert len({message["messageId"] for message in segment}) == len(segment)
    assert any("timestamp" not in message for message in segment)
    contexts = [message["context"] for message in segment]
    assert any({"ip", "userAgent", "locale"} <= context.keys() for context in contexts)
    assert any("id" in context.get("device", {}) for context in contexts)
    assert any("email" in context.get("traits", {}) for context in contexts)


def test_api_envelopes_carry_the_documented_fields(sample: Sample) -> None:
    bodies = defaultdict(list)
    for line in sample.valid():
        if "endpoint" in line.obj:
            bodies[line.obj["endpoint"]].append(line.obj["body"])
    device_keys = {"device_id", "token", "os", "model", "app_build", "app_version"}
    assert all(device_keys <= body.keys() for body in bodies["devices"])
    assert any("external_id" in body for body in bodies["devices"])
    identify_keys = {"external_id", "anonymous_id", "email", "phone", "timezone", "locale", "data"}
    assert identify_keys <= set().union(*(body.keys() for body in bodies["identify"]))
    assert all({"anonymous_id", "external_id"} == body.keys() for body in bodies["alias"])

    calls = bodies["identifier"]
    assert {body["platform"] for body in calls} == {"web", "ios", "android"}
    assert all(body["count_prev_visits"] is True for body in calls)
    assert any("fbclid" in body for body in calls) and any("gaclid" in body for body in calls)
    assert any("email" in body and "anonymous_id" not in body for body in calls)
    actions = Counter(body["valuation_properties"]["action"] for body in calls)
    assert {"pageview", "signup", "purchase"} <= actions.keys()


def test_events_arrays_hold_several_events(sample: Sample) -> None:
    sizes = Counter(
        len(line.obj["body"]) for line in sample.valid() if line.obj.get("endpoint") == "events"
    )
    assert set(sizes) == {2, 3, 4, 5, 6}
    names = Counter(
        element["name"]
        for line in sample.valid()
        if line.obj.get("endpoint") == "events"
        for element in line.obj["body"]
    )
    assert "Product Purchased" in names and len(names) >= 5


# --- messiness --------------------------------------------------------------------------------


def test_traits_mix_camel_and_snake_case(sample: Sample) -> None:
    keys = set()
    for line in sample.valid():
        if line.obj.get("type") == "identify":
            keys |= line.obj["traits"].keys()
        elif line.obj.get("endpoint") == "identify":
            keys |= line.obj["body"]["data"].keys()
    pairs = [("firstName", "first_name"), ("lastName", "last_name"), ("createdAt", "created_at")]
    for camel, snake in pairs:
        assert camel in keys and snake in keys, (camel, snake, keys)


def raw_values(sample: Sample, kind: str) -> list[str]:
    placeholders = sample.placeholders
    return [
        raw
        for line in sample.valid()
        for found_kind, raw in identifiers_of(line)
        if found_kind == kind and (kind, raw) not in placeholders
    ]


def test_emails_are_spelled_messily(sample: Sample) -> None:
    emails = raw_values(sample, "email")
    assert any(email != email.strip() for email in emails), "no padded email"
    assert any(email.strip() != email.strip().lower() for email in emails), "no upper case"
    gmail = [email.strip() for email in emails if email.strip().lower().endswith("@gmail.com")]
    assert any("+" in email for email in gmail), "no gmail +tag"
    assert any("." in email.split("@")[0] for email in gmail), "no dotted gmail"
    assert any(re.fullmatch(r" \S+\+\w+@Gmail\.com ", email) for email in emails)
    assert any(not email.strip().lower().endswith("@gmail.com") for email in emails)


def test_phones_come_in_many_formats(sample: Sample) -> None:
    phones = set(raw_values(sample, "phone"))
    formats = {
        "e164": r"\+1\d{10}",
        "parentheses": r"\(\d{3}\) \d{3}-\d{4}",
        "dots": r"\d{3}\.\d{3}\.\d{4}",
        "plus one dashes": r"\+1 \d{3}-\d{3}-\d{4}",
        "one dashes": r"1-\d{3}-\d{3}-\d{4}",
        "non-US": r"\+(44|49|33|34)[ \d-]+",
    }
    for name, pattern in formats.items():
        assert any(re.fullmatch(pattern, phone) for phone in phones), name
    unparseable = {
        row["value"] for row in sample.truth["placeholders"] if row["reason"] != "placeholder"
    }
    assert {"12345", "call me"} & unparseable


def test_placeholders_are_sprinkled_over_many_people(sample: Sample) -> None:
    listed = sample.placeholders
    expected = {
        ("user_id", "null"),
        ("anonymous_id", "undefined"),
        ("email", "test@test.com"),
        ("device_id", "00000000-0000-0000-0000-000000000000"),
    }
    assert expected <= listed
    assert {"", "none"} <= {value for _, value in listed}
    assert {kind for kind, _ in listed} == {
        "user_id",
        "anonymous_id",
        "email",
        "phone",
        "device_id",
    }
    assert any(value == "" for _, value in listed)

    people_per_value = defaultdict(set)
    for line in sample.valid(copies=True):
        persons, _ = attribute(sample, line)
        for kind, raw in identifiers_of(line):
            if (kind, raw) in listed:
                assert len(persons) == 1, (line.file, line.number)
                people_per_value[(kind, raw)] |= persons
    assert people_per_value.keys() == listed
    for row in sample.truth["placeholders"]:
        key = (row["identifier_type"], row["value"])
        assert len(people_per_value[key]) == int(row["person_count"]), key
    assert len(set().union(*people_per_value.values())) >= 20


def test_one_kiosk_device_is_shared_by_many_people(sample: Sample) -> None:
    people = set()
    for line in sample.valid():
        if ("device_id", KIOSK) in identifiers_of(line):
            persons, _ = attribute(sample, line)
            assert len(persons) == 1
            people |= persons
    assert len(people) > 5
    assert sample.truth["shared"] == [
        {"identifier_type": "device_id", "value": KIOSK, "person_count": str(len(people))}
    ]


def test_aliases_link_cookies_to_users(sample: Sample) -> None:
    owner = sample.owners
    aliases = 0
    for line in sample.valid():
        obj = line.obj
        if obj.get("type") == "alias":
            pair = (obj["previousId"], obj["userId"].strip())
        elif obj.get("endpoint") == "alias":
            pair = (obj["body"]["anonymous_id"], obj["body"]["external_id"])
        else:
            continue
        aliases += 1
        assert owner[("anonymous_id", pair[0])] == owner[("user_id", pair[1])]
    assert aliases >= 5


def test_duplicates_are_exact_redeliveries_within_the_folder(sample: Sample) -> None:
    text = {(line.file, line.number): line.text for line in sample.lines}
    assert sample.duplicates
    for copy, original in sample.duplicates.items():
        assert copy[0].split("/")[0] == original[0].split("/")[0]
        assert text[copy] == text[original] and copy[1] > original[1]
    repeated = Counter(line.text for line in sample.valid(copies=True))
    assert sum(count - 1 for count in repeated.values()) == len(sample.duplicates)
    folders = {file.split("/")[0] for file, _ in sample.duplicates}
    assert len(folders) == SMALL.days
    assert sample.summary.duplicate_lines == len(sample.duplicates)


def test_daily_folders_hold_their_day_plus_a_few_late_events(sample: Sample) -> None:
    late = 0
    for line in sample.valid():
        if line.history:
            continue
        obj = line.obj
        received = date.fromisoformat((obj.get("receivedAt") or obj["received_at"])[:10])
        assert received == line.day
        if "timestamp" in obj:
            happened = date.fromisoformat(obj["timestamp"][:10])
            assert happened in (line.day, line.day - timedelta(days=1))
            late += happened < line.day
    assert late >= 2


# --- ground truth -----------------------------------------------------------------------------


def test_every_line_belongs_to_one_person_and_truth_holds_its_normalised_ids(
    sample: Sample,
) -> None:
    owner = sample.owners
    used = set()
    for line in sample.valid():
        persons, normalized = attribute(sample, line)
        assert len(persons) == 1, (line.file, line.number, persons)
        for kind, raw, value in normalized:
            assert value is not None, (kind, raw)
            assert owner.get((kind, value)) in persons, (line.file, line.number, kind, raw)
            used.add((kind, value))
    assert used == owner.keys(), "identifiers.csv lists values no line carries"
    rows = sample.truth["identifiers"]
    assert len(rows) == len(owner), "a normalised value belongs to two people"
    assert {row["identifier_type"] for row in rows} == {
        "user_id",
        "anonymous_id",
        "email",
        "phone",
        "device_id",
    }


def test_truth_phones_and_emails_are_normalised_like_the_contract_says(sample: Sample) -> None:
    for row in sample.truth["identifiers"]:
        value = row["normalized_value"]
        if row["identifier_type"] == "email":
            assert value == normalize_email(value)
        elif row["identifier_type"] == "phone":
            number = phonenumbers.parse(value, "US")
            assert phonenumbers.is_valid_number(number), value
            assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == value
        else:
            assert value == value.strip() and value
    # Spelled-out phones of a few people give their truth E.164 under the `phonenumbers` library.
    owner = sample.owners
    checked = Counter()
    for line in sample.valid():
        persons, _ = attribute(sample, line)
        for kind, raw in identifiers_of(line):
            if kind == "phone" and (kind, raw) not in sample.placeholders:
                parsed = phonenumbers.parse(raw, "US")
                e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
                assert owner[("phone", e164)] in persons, raw
                checked[raw[:2]] += 1
    assert checked["+4"] and sum(checked.values()) >= 20


def test_purchase_truth_matches_the_purchase_events(sample: Sample) -> None:
    exported = sorted(purchases_in(sample))
    truth = sorted(
        (
            row["file"],
            int(row["line_number"]),
            float(row["value"]),
            row["currency"],
            row["source"],
            row["occurred_at"],
        )
        for row in sample.truth["purchases"]
    )
    assert len(exported) == len(truth) == sample.summary.purchases
    assert exported == truth
    assert {row["source"] for row in sample.truth["purchases"]} == {
        "segment",
        "client_api",
        "identifier_api",
    }
    lines = {(line.file, line.number): line for line in sample.lines}
    for row in sample.truth["purchases"]:
        persons, _ = attribute(sample, lines[(row["file"], int(row["line_number"]))])
        assert persons == {row["person_id"]}


def test_habits_are_all_present_and_behave_like_their_names(sample: Sample) -> None:
    people = sample.truth["people"]
    assert len(people) == SMALL.people
    purchases = defaultdict(list)
    for row in people:
        purchases[row["habit"]].append(int(row["purchases"]))
    assert set(purchases) == {"browser", "one_off", "loyal", "lapsing"}
    assert max(purchases["browser"]) == 0
    assert max(purchases["one_off"]) <= 1
    assert sum(purchases["loyal"]) / len(purchases["loyal"]) > 2
    bought = Counter(row["person_id"] for row in sample.truth["purchases"])
    assert {
        row["person_id"]: int(row["purchases"]) for row in people if bought[row["person_id"]]
    } == bought
    rates = {float(row["purchases_per_day"]) for row in people if row["habit"] == "loyal"}
    assert len(rates) > 20, "loyal buyers should each have their own rate"
    assert {row["currency"] for row in people} == {"USD", "EUR"}


def test_history_spans_history_days_before_the_first_folder(sample: Sample) -> None:
    first = SMALL.end_day - timedelta(days=SMALL.days - 1)
    happened = [occurred_day(line) for line in sample.valid() if line.history]
    assert max(happened) < first
    assert min(happened) <= first - timedelta(days=SMALL.history_days - 1)
    assert (SMALL.end_day - min(happened)).days >= SMALL.history_days


@pytest.mark.heavy
def test_target_lines_lands_within_fifteen_percent(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, SampleConfig(target_lines=20_000, days=5, history_days=0))
    assert 17_000 <= summary.total_lines <= 23_000
    assert summary.days[-1] == SampleConfig().end_day


@pytest.mark.heavy
def test_default_sample_has_the_promised_size_and_a_busy_kiosk(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, SampleConfig())
    assert 40_000 <= summary.total_lines <= 80_000
    shared = read_csv(summary.truth_dir / "shared.csv")
    assert int(shared[0]["person_count"]) >= 20
    purchases = read_csv(summary.truth_dir / "purchases.csv.gz")
    months = {row["occurred_at"][:7] for row in purchases}
    assert len(months) >= 12
