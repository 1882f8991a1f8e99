"""What tests build and share: export lines, landing folders, small warehouses, Dagster checks
run alone, and the command line run as a process. Test files import these from here, never
from each other."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pyarrow as pa
import yaml

from identity_assets import sql
from identity_assets.checks import CHECK_SCOPE_TAG, EVERYTHING
from identity_assets.identity.graph import resolve_identities
from identity_assets.ingest.core import ingest_day
from identity_assets.journal.build import update_journals
from identity_assets.resources import (
    FullRefresh,
    IdentityRulesResource,
    LandingDirectory,
    Warehouse,
)

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("identity-assets")


DAY = date(2026, 11, 20)


class Landing:
    """A landing directory under tmp_path that tests write export files into."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, lines: list[object], day: date = DAY, *, raw: bool = False) -> Path:
        """Write `lines` (JSON-encoded unless `raw`) to `<day>/<name>`; `.gz` names are gzipped."""
        path = self.root / day.isoformat() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join((line if raw else json.dumps(line)) + "\n" for line in lines)
        if name.endswith(".gz"):
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
        return path


# `make test` runs a worker a core; a second DuckDB thread a worker only contends on tables
# this small (measured: 10-13% more processor time for the same tests). An open file keeps the
# configuration it was opened with, so only in-memory warehouses and processes take this.
ONE_THREAD = {"threads": 1}


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse on one thread."""
    return duckdb.connect(config=ONE_THREAD)


def materialized_metadata(result) -> dict[str, dict]:
    """Each materialized asset's metadata, by asset name, from a Dagster execution result."""
    return {
        m.materialization.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }


IDENTIFY = {
    "type": "identify",
    "messageId": "m-1",
    "userId": "97980cfea0067",
    "anonymousId": "a-77",
    "traits": {
        "firstName": "Cool",
        "email": " Cool.Person@Example.com ",
        "phone": "+1 415 555 0100",
    },
    "context": {"device": {"id": "dev-1"}},
    "timestamp": "2026-11-20T10:01:57Z",
    "receivedAt": "2026-11-20T10:01:58Z",
}

TRACK = {
    "type": "track",
    "messageId": "m-2",
    "anonymousId": "a-77",
    "event": "Order Completed",
    "properties": {"value": 99.99, "currency": "USD"},
    "timestamp": "2026-11-20T12:05:00+02:00",
}

EVENTS = {
    "endpoint": "events",
    "received_at": "2026-11-20T10:02:00Z",
    "body": [
        {
            "external_id": "u-42",
            "name": "Product Purchased",
            "data": {"price": 49.99, "quantity": 4},
        },
        {"external_id": "u-42", "name": "Product Viewed", "data": {"product_id": 7}},
        {"external_id": "u-42", "name": "Added to Cart"},
    ],
}

IDENTIFIER = {
    "endpoint": "identifier",
    "received_at": "2026-11-20T10:01:57Z",
    "body": {
        "platform": "web",
        "count_prev_visits": True,
        "anonymous_id": "anonUser1234567",
        "email": "user@example.com",
        "gaclid": "EAIaIQob",
        "valuation_properties": {"action": "purchase", "properties": {"value": 10}},
    },
}


D1, D2, D3 = date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)


def track(n: int, day: date, **ids: str) -> dict:
    """A Segment track message on `day` carrying the given identifiers."""
    message = {
        "type": "track",
        "messageId": f"{day}-{n}",
        "event": "Product Viewed",
        "timestamp": f"{day}T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
    }
    traits = {k: ids.pop(k) for k in ("email", "phone") if k in ids}
    if "device" in ids:
        message["context"] = {"device": {"id": ids.pop("device")}}
    if traits:
        message["context"] = {**message.get("context", {}), "traits": traits}
    message.update(ids)
    return message


def land_and_resolve(conn, landing: Landing, day: date, events: list, rules=None, name="a.jsonl"):
    landing.write(name, events, day=day)
    ingest_day(conn, landing.root, day)
    return resolve_identities(conn, rules)


def identity_of(conn, kind: str, value: str) -> str | None:
    rows = conn.execute(
        "select identity_id from identity_map where identifier_type = ? and identifier_value = ?",
        [kind, value],
    ).fetchall()
    return rows[0][0] if rows else None


def status_of(conn, kind: str, value: str) -> tuple[str, str | None]:
    return conn.execute(
        "select status, block_reason from identifiers "
        "where identifier_type = ? and identifier_value = ?",
        [kind, value],
    ).fetchall()[0]


def partition(conn) -> set[frozenset]:
    groups: dict[str, set] = {}
    for kind, value, identity in conn.execute(
        "select identifier_type, identifier_value, identity_id from identity_map"
    ).fetchall():
        groups.setdefault(identity, set()).add((kind, value))
    return {frozenset(g) for g in groups.values()}


def land(conn, landing: Landing, day: date, lines: list, *, raw: bool = False, rules=None):
    """Land `lines` as one file of `day`, then run ingest, identity and journal stages on it."""
    landing.write("a.jsonl", lines, day=day, raw=raw)
    ingest_day(conn, landing.root, day)
    resolve_identities(conn, rules)
    return update_journals(conn)


def identify(n: int, day: date, traits: dict, hour: int = 9, **ids: str) -> dict:
    return {
        "type": "identify",
        "messageId": f"id-{day}-{n}",
        "traits": traits,
        "timestamp": f"{day}T{hour:02d}:00:00Z",
        **ids,
    }


def order(n: int, day: date, hour: int, properties: dict, user: str = "u-1") -> dict:
    return {
        "type": "track",
        "messageId": f"o-{day}-{n}",
        "userId": user,
        "event": "Order Completed",
        "properties": properties,
        "timestamp": f"{day}T{hour:02d}:00:00Z",
    }


START = datetime(2025, 1, 1)


def purchase_history(conn, buyers: int = 160, days: int = 480, seed: int = 4) -> None:
    """Buyers with their own purchase rates, lifetimes and order sizes over `days`, written
    straight into the journal (the identity stage has nothing to do here)."""
    rng = np.random.default_rng(seed)
    rows = {"identity_id": [], "occurred_at": [], "value": []}
    for buyer in range(buyers):
        day = float(rng.integers(0, 90))
        rate, size = rng.gamma(0.9, 1 / 25), rng.gamma(4, 12)
        lifetime = day + rng.exponential(250)
        while day < min(lifetime, days):
            rows["identity_id"].append(f"id-{buyer:04d}")
            rows["occurred_at"].append(START + timedelta(days=int(day), hours=12))
            rows["value"].append(round(float(rng.gamma(6, size / 6)), 2))
            day += 1 + rng.exponential(1 / rate)
    conn.execute(sql.load("identity/create_tables"))
    conn.execute(sql.load("journal/create_tables"))
    sql.insert_arrow(conn, "history", pa.table(rows), replace_temp=True)
    conn.execute(
        "insert into identity_journal by name "
        "select identity_id, 'e-' || row_number() over (order by identity_id, occurred_at) "
        "as event_id, occurred_at, json_object('type', 'track', 'event', 'Order Completed', "
        "'properties', json_object('value', value)) as payload, occurred_at::date as day, "
        "'segment' as source, 'track' as kind, 'Order Completed' as event_name, "
        "0 as identifier_key from history"
    )
    conn.execute(
        "insert into identities by name select identity_id, min(occurred_at) as first_seen, "
        "max(occurred_at) as last_seen, 1 as identifier_count, count(*) as event_count, "
        "'user_id' as anchor_type, identity_id as anchor_value "
        "from identity_journal group by identity_id"
    )


def pipeline_resources(warehouse: Warehouse | Path, landing: Path, **more: object) -> dict:
    """The resources of the daily job's assets over this warehouse (a file or the resource)
    and landing folder; `more` adds others or replaces one (rules, the API)."""
    if not isinstance(warehouse, Warehouse):
        warehouse = Warehouse(database=str(warehouse))
    return {
        "warehouse": warehouse,
        "landing": LandingDirectory(path=str(landing)),
        "full_refresh": FullRefresh(),
        **more,
    }


def run_checks(
    checks: list[dg.AssetChecksDefinition],
    warehouse: Warehouse,
    *,
    everything: bool = False,
    max_identity_size: int = 50,
    only: Iterable[str] | None = None,
) -> dict[str, dg.AssetCheckEvaluation]:
    """Run `checks` alone (of their steps' checks, those named in `only`, when given), as a
    run of the daily job (or, with `everything`, of the sweep) runs them, and return each
    one's evaluation by name."""
    keys = [key for check in checks for key in check.check_keys]
    result = dg.materialize(
        checks,
        selection=dg.AssetSelection.checks(
            *(key for key in keys if only is None or key.name in only)
        ),
        resources={
            "warehouse": warehouse,
            "identity_rules": IdentityRulesResource(max_identity_size=max_identity_size),
        },
        tags={CHECK_SCOPE_TAG: EVERYTHING} if everything else None,
        raise_on_error=False,
    )
    return {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}


TOKEN = "test-token-5f1c9a"


def valued_warehouse(conn: duckdb.DuckDBPyConnection, values: list[float]) -> None:
    """Identities id-0.. with one email and anonymous id each and these predicted values."""
    for stage in ("identity", "journal", "metrics", "segments"):
        conn.execute(sql.load(f"{stage}/create_tables"))
    conn.execute(
        "create or replace temp table valued as "
        "select n - 1 as n, 'id-' || (n - 1) as id, 'p' || (n - 1) || '@example.com' as email, "
        "'a-' || (n - 1) as anon, value "
        "from unnest($values) with ordinality as v(value, n)",
        {"values": values},
    )
    conn.execute(
        "insert into identifiers select n, 'email', email, now(), now(), 1, 'linked', null, 0, "
        "to_base64(unhex(sha256(email))) from valued union all select n + 100000, "
        "'anonymous_id', anon, now(), now(), 1, 'linked', null, 0, null from valued"
    )
    conn.execute(
        "insert into identity_map select 'email', email, id, n, n from valued "
        "union all select 'anonymous_id', anon, id, n + 100000, n from valued"
    )
    conn.execute("insert into identities select id, now(), now(), 2, 1, 'email', email from valued")
    conn.execute(
        "insert into customer_metrics (identity_id, total_purchases, total_spend, "
        "avg_order_value, purchase_frequency, engagement_events, engagement_score, "
        "bad_purchase_events, tenure_days, repeat_purchases, purchase_span_days, as_of, "
        "recency_days) select id, 3, 30, 10, 0.1, 0, 2.1, 0, 100, 2, 50, now(), 10 from valued"
    )
    conn.execute(
        "insert into customer_value select id, value, 'bg_nbd_gamma_gamma', 1, 10, 5, 'USD', "
        "now() from valued"
    )
    conn.execute("drop table valued")


def dagster_home(home: Path, settings: str | None = None) -> Path:
    """A Dagster home with these instance settings (the project's by default), its event log in
    this home whatever DAGSTER_HOME says, and its SQLite storage already made: processes
    started together on a new home each create the same files, and on a loaded machine one of
    them fails on a locked database."""
    home.mkdir(parents=True, exist_ok=True)
    instance = yaml.safe_load(settings or (ROOT / "dagster.yaml").read_text())
    if "event_log_storage" in instance:
        instance["event_log_storage"]["config"] = {"base_dir": str(home)}
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance, sort_keys=False))
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home


def cli_env(tmp_path: Path, landing: Landing, env: dict[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment: this landing, a warehouse and a Dagster home
    under tmp_path."""
    home = dagster_home(tmp_path / "dagster_home")
    return {
        **os.environ,
        "IDENTITY_LANDING_DIR": str(landing.root),
        "IDENTITY_DUCKDB_PATH": str(tmp_path / "data" / "identity.duckdb"),
        "DAGSTER_HOME": str(home),
        "IDENTITY_DUCKDB_THREADS": str(ONE_THREAD["threads"]),
        **(env or {}),
    }


def run_cli(
    tmp_path: Path,
    landing: Landing,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args],
        env=cli_env(tmp_path, landing, env),
        cwd=tmp_path,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
