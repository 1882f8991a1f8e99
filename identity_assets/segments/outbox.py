"""The outbox of segment changes to send, and their delivery.

The changes between `segment_membership` and what was last queued go into `segment_updates`
once, with their full request. Delivery sends pending rows and writes each outcome back as it
completes, so a run stopped half-way resumes where it stopped: a row marked in flight
(`dispatched_at`) when the run died is looked up in the API's journal before it is sent
again, so the update is not sent twice.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from identity_assets import sql
from identity_assets.segments.client import IdentifierClient, Outcome
from identity_assets.segments.membership import ensure_tables


@dataclass
class DeliveryResult:
    """What one delivery run did."""

    sent: int = 0
    failed: int = 0
    failed_by_status: Counter = field(default_factory=Counter)
    requests: int = 0
    rate_limited: int = 0
    reconciled: int = 0
    seconds: float = 0.0

    @property
    def retries(self) -> int:
        return self.requests - self.sent - self.failed

    @property
    def per_second(self) -> float:
        return (self.sent + self.failed) / self.seconds if self.seconds else 0.0


def queue_updates(
    conn: duckdb.DuckDBPyConnection, platform: str, send_hashes: bool = False
) -> dict[str, int]:
    """Queue one update per change between membership and what was last queued; with
    `send_hashes` the email leaves as its UID2 hash (`email_hash`), never in plain.

    Returns the count queued by segment and change. Run again, it queues nothing more, and
    after a run that stopped before it, it queues every change that run left out.
    """
    ensure_tables(conn)
    now = datetime.now(UTC).replace(tzinfo=None)
    with sql.transaction(conn):
        before = conn.execute("select coalesce(max(queue_seq), 0) from segment_updates").fetchall()
        conn.execute(
            sql.load("segments/queue_updates"),
            {"platform": platform, "now": now, "send_hashes": send_hashes},
        )
        queued = conn.execute(
            "select segment || ' ' || change, count(*) from segment_updates "
            "where queue_seq > $before group by 1 order by 1",
            {"before": before[0][0]},
        ).fetchall()
    return dict(queued)


def deliver_updates(
    conn: duckdb.DuckDBPyConnection,
    client: IdentifierClient,
    concurrency: int = 8,
    log: Callable[[str], None] | None = None,
    batch: int = 500,
) -> DeliveryResult:
    """Send every deliverable pending (and previously failed) update; record each outcome."""
    ensure_tables(conn)
    result = DeliveryResult()
    started = time.perf_counter()
    result.reconciled = _reconcile_in_flight(conn, client)
    conn.execute("update segment_updates set status = 'pending' where status = 'failed'")
    total = conn.execute(
        "select count(*) from segment_updates where status = 'pending'"
    ).fetchall()[0][0]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        while True:
            rows = conn.execute(sql.load("segments/next_deliveries"), {"batch": batch}).fetchall()
            if not rows:
                break
            ids = [row[0] for row in rows]
            conn.execute(
                "update segment_updates set dispatched_at = now()::timestamp where update_id in "
                "(select unnest($ids))",
                {"ids": ids},
            )
            futures = {
                pool.submit(client.post, json.loads(payload), update_id): (update_id, attempts)
                for update_id, payload, attempts in rows
            }
            try:
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        update_id, attempts = futures.pop(future)
                        _record(conn, update_id, attempts, future.result(), result)
            finally:
                for future in futures:
                    future.cancel()
            if log:
                log(
                    f"segment updates: {result.sent + result.failed:,}/{total:,} done, "
                    f"{result.sent:,} sent, {result.failed:,} failed"
                )
    result.seconds = time.perf_counter() - started
    return result


def _record(
    conn: duckdb.DuckDBPyConnection,
    update_id: str,
    attempts: int,
    outcome: Outcome,
    result: DeliveryResult,
) -> None:
    """Write one outcome back at once: a sent row is never sent again."""
    conn.execute(
        "update segment_updates set status = $status, attempts = $attempts, "
        "last_http_status = $http_status, last_error = $error, "
        "sent_at = case when $ok then now() end, dispatched_at = null "
        "where update_id = $id",
        {
            "status": "sent" if outcome.ok else "failed",
            "attempts": attempts + outcome.attempts,
            "http_status": outcome.status,
            "error": outcome.error,
            "ok": outcome.ok,
            "id": update_id,
        },
    )
    result.requests += outcome.attempts
    result.rate_limited += outcome.rate_limited
    if outcome.ok:
        result.sent += 1
    else:
        result.failed += 1
        result.failed_by_status[str(outcome.status or "no answer")] += 1


def _reconcile_in_flight(conn: duckdb.DuckDBPyConnection, client: IdentifierClient) -> int:
    """Rows a stopped run left in flight: mark sent the ones the API's journal already holds.

    A request can still be on its way for as long as the client's timeout, so the journal is
    read only once the youngest in-flight row is that old.
    """
    youngest = conn.execute(
        "select min(epoch(now()::timestamp) - epoch(dispatched_at)) from segment_updates "
        "where dispatched_at is not null and status <> 'sent'"
    ).fetchall()[0][0]
    if youngest is None:
        return 0
    if youngest < client.timeout:
        time.sleep(client.timeout - youngest)
    rows = conn.execute(
        "select update_id, payload from segment_updates "
        "where dispatched_at is not null and status <> 'sent'"
    ).fetchall()
    found = 0
    for update_id, payload in rows:
        delivered = client.recorded(json.loads(payload), update_id)
        conn.execute(
            "update segment_updates set dispatched_at = null, "
            "status = case when $delivered then 'sent' else status end, "
            "sent_at = case when $delivered then now() else sent_at end "
            "where update_id = $id",
            {"delivered": delivered, "id": update_id},
        )
        found += delivered
    return found
