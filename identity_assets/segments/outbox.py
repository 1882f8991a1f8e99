"""The outbox of segment changes to send, and their delivery.

The changes between `segment_membership` and what was last queued go into `segment_updates`
once, with their full request. Delivery sends pending rows and writes each outcome back as it
completes, so a run stopped half-way resumes where it stopped: a row marked in flight
(`dispatched_at`) when the run died, or whose outcome the API's journal could not tell, is
looked up in the journal before it is sent again, so the update is not sent twice.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from identity_assets import sql
from identity_assets.segments.client import IdentifierClient, Outcome


@dataclass
class DeliveryResult:
    """What one delivery run did."""

    sent: int = 0
    failed: int = 0
    failed_by_status: Counter = field(default_factory=Counter)
    requests: int = 0
    rate_limited: int = 0
    reconciled: int = 0
    in_flight: int = 0  # outcome unknown and the journal unreadable: looked up next run
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
    sql.create_tables(conn, "segments")
    now = datetime.now(UTC).replace(tzinfo=None)
    with sql.transaction(conn):
        before = conn.execute("select coalesce(max(queue_seq), 0) from segment_updates").fetchall()
        conn.execute(
            sql.load("segments/queue_updates"),
            {"platform": platform, "now": now, "send_hashes": send_hashes},
        )
        conn.execute(sql.load("segments/segment_last_changes"), {"before": before[0][0]})
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
    """Send every deliverable pending (and previously failed) update; record each outcome.

    Each row is marked in flight just before its request goes out, so at most `concurrency`
    rows are in flight at any moment. When the client halts (a refused token, the circuit
    breaker) nothing more is sent, every outcome already known is recorded, and the reason is
    raised: ApiRefused or ApiUnreachable. An interrupt (a stop signal) stops the client and
    leaves the rows still on their way in flight for the next run.
    """
    sql.create_tables(conn, "segments")
    result = DeliveryResult()
    started = time.perf_counter()
    result.reconciled = _reconcile_in_flight(conn, client)
    conn.execute("update segment_updates set status = 'pending' where status = 'failed'")
    total = conn.execute(
        "select count(*) from segment_updates where status = 'pending' and dispatched_at is null"
    ).fetchall()[0][0]
    workers = _Workers(client, concurrency)
    try:
        while not client.halted:
            rows = conn.execute(sql.load("segments/next_deliveries"), {"batch": batch}).fetchall()
            if not rows:
                break
            waiting = list(reversed(rows))
            busy = 0
            while waiting or busy:
                while waiting and busy < concurrency and not client.halted:
                    update_id, payload, attempts = waiting.pop()
                    conn.execute(
                        "update segment_updates set dispatched_at = now()::timestamp "
                        "where update_id = $id",
                        {"id": update_id},
                    )
                    workers.submit(update_id, json.loads(payload), attempts)
                    busy += 1
                if not busy:
                    break
                update_id, attempts, outcome = workers.next_outcome()
                busy -= 1
                _record(conn, update_id, attempts, outcome, result)
            if log:
                log(
                    f"segment updates: {result.sent + result.failed:,}/{total:,} done, "
                    f"{result.sent:,} sent, {result.failed:,} failed"
                )
    except BaseException:
        client.stop()
        raise
    finally:
        workers.close()
        result.seconds = time.perf_counter() - started
    if client.halted:
        left = conn.execute(
            "select count(*) from segment_updates where status <> 'sent'"
        ).fetchall()[0][0]
        client.raise_if_halted(f"{left:,} updates wait in segment_updates for the next run")
    return result


class _Workers:
    """Daemon threads that post payloads: a process that is stopping does not wait for a
    request still on its way (its row stays in flight, and the next run looks it up)."""

    def __init__(self, client: IdentifierClient, count: int) -> None:
        self._client = client
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._outcomes: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"segment-delivery-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, update_id: str, payload: dict, attempts: int) -> None:
        self._jobs.put((update_id, payload, attempts))

    def next_outcome(self) -> tuple[str, int, Outcome]:
        """The next finished request (its exception re-raised here)."""
        while True:
            try:
                update_id, attempts, outcome = self._outcomes.get(timeout=0.5)
            except queue.Empty:
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            return update_id, attempts, outcome

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            update_id, payload, attempts = job
            try:
                outcome: Outcome | BaseException = self._client.post(payload, update_id)
            except Exception as error:  # noqa: BLE001 - handed to the thread that records
                outcome = error
            self._outcomes.put((update_id, attempts, outcome))


def _record(
    conn: duckdb.DuckDBPyConnection,
    update_id: str,
    attempts: int,
    outcome: Outcome,
    result: DeliveryResult,
) -> None:
    """Write one outcome back at once: a sent row is never sent again, a row whose outcome is
    unknown stays in flight, a row the client stopped on goes back to pending."""
    if outcome.in_flight:
        status = "pending"
        result.in_flight += 1
    elif outcome.ok:
        status = "sent"
        result.sent += 1
    elif outcome.halted or outcome.status in (401, 403):
        status = "pending"  # stopped, or refused for the token's sake: not the update's fault
    else:
        status = "failed"
        result.failed += 1
        result.failed_by_status[str(outcome.status or "no answer")] += 1
    conn.execute(
        "update segment_updates set status = $status, attempts = $attempts, "
        "last_http_status = coalesce($http_status, last_http_status), "
        "last_error = case when $sent_any then $error else last_error end, "
        "sent_at = case when $ok then now() end, "
        "dispatched_at = case when $in_flight then dispatched_at end "
        "where update_id = $id",
        {
            "status": status,
            "attempts": attempts + outcome.attempts,
            "http_status": outcome.status,
            "error": outcome.error,
            "sent_any": outcome.attempts > 0,
            "ok": outcome.ok,
            "in_flight": outcome.in_flight,
            "id": update_id,
        },
    )
    result.requests += outcome.attempts
    result.rate_limited += outcome.rate_limited


def _reconcile_in_flight(conn: duckdb.DuckDBPyConnection, client: IdentifierClient) -> int:
    """Rows left in flight (a stopped run, an unreadable journal): mark sent the ones the
    API's journal already holds, make the ones it does not hold pending again, and leave in
    flight those whose journal still cannot be read.

    A request can still be landing for the client's timeout plus its settle time, so the
    journal is read only once the youngest in-flight row is that old. A refused token or an
    unreachable API stops the look-ups at once (raised).
    """
    youngest = conn.execute(
        "select min(epoch(now()::timestamp) - epoch(dispatched_at)) from segment_updates "
        "where dispatched_at is not null and status <> 'sent'"
    ).fetchall()[0][0]
    if youngest is None:
        return 0
    wait_for = client.timeout + client.settle - youngest
    if wait_for > 0:
        client.wait(wait_for)
    rows = conn.execute(
        "select update_id, payload from segment_updates "
        "where dispatched_at is not null and status <> 'sent' order by queue_seq"
    ).fetchall()
    found = 0
    for update_id, payload in rows:
        delivered = client.recorded(json.loads(payload), update_id)
        client.raise_if_halted()
        if delivered is None:
            continue
        conn.execute(
            "update segment_updates set dispatched_at = null, "
            "status = case when $delivered then 'sent' else 'pending' end, "
            "sent_at = case when $delivered then now() else sent_at end "
            "where update_id = $id",
            {"delivered": delivered, "id": update_id},
        )
        found += delivered
    return found
