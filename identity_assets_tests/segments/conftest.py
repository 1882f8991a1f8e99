"""A real stand-in identifier API on 127.0.0.1 in its own process group, and a warehouse of
identities with values ready to be segmented."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from identity_assets import sql

CLI = Path(sys.executable).with_name("identity-assets")
TOKEN = "test-token-5f1c9a"


class StandIn:
    """A running `identity-assets dev-endpoint` process."""

    def __init__(self, process: subprocess.Popen, url: str) -> None:
        self.process = process
        self.url = url

    def stats(self) -> dict:
        with urllib.request.urlopen(self.url + "/stats", timeout=5) as answer:
            return json.loads(answer.read())


@pytest.fixture
def stand_in() -> Iterator[Callable[..., StandIn]]:
    """Start stand-ins with the given dev-endpoint flags; every one is stopped afterwards."""
    started: list[subprocess.Popen] = []

    def start(*flags: str) -> StandIn:
        process = subprocess.Popen(
            [str(CLI), "dev-endpoint", "--port", "0", "--token", TOKEN, *flags],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/api/v1", line)
        assert match, f"the stand-in did not start: {line!r}"
        return StandIn(process, f"http://127.0.0.1:{match.group(1)}/api/v1")

    yield start
    for process in started:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


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
