"""The `identity-assets` command line: run the pipeline, look people up, write sample exports.

`run` executes the same Dagster job the schedule and the UI use, in this process, recording
the run in the Dagster instance at $DAGSTER_HOME when one is set; it first waits for any run
of that instance still writing the warehouse (`identity_assets.writers`).
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import duckdb

from identity_assets.changes import STAGES
from identity_assets.ingest.core import LandingError, landed_days
from identity_assets.journal.lookup import IDENTIFIER_TYPES
from identity_assets.settings import (
    VARIABLES,
    ConfigError,
    duckdb_path,
    first_day,
    landing_dir,
    phone_region,
    serving_dir,
)
from identity_assets.writers import WarehouseBusy, wait_for_writers

if TYPE_CHECKING:
    import dagster as dg

    from identity_assets.serving.snapshot import Pointer


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `identity-assets` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:
        # the reader (e.g. `| head`) stopped early: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ConfigError as error:
        print(f"identity-assets: configuration error: {error}", file=sys.stderr)
        return 2
    except (LandingError, LookupUnavailable, WarehouseBusy, ValueError) as error:
        print(f"identity-assets: error: {error}", file=sys.stderr)
        return 2


def console() -> NoReturn:
    """The console script: `main`, then the end of the process without Python's shutdown.
    As at any exit, threads that are not daemons finish (a snapshot's checkpoint), the exit
    handlers run (logging's, DuckDB's, temporary files') and the output is flushed; what is
    left out is the interpreter's last walk over every object it still holds and their teardown
    one by one, which after a run, holding Dagster's many, took 0.6-0.9 s of every `run`. The
    run has committed all it wrote and closed its databases (decision 0042)."""
    code = main()
    for thread in threading.enumerate():
        if not thread.daemon and thread is not threading.current_thread():
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


EXIT_CODES = (
    (0, "done (for run: every step and blocking check passed, or nothing to do)"),
    (1, "a step or a blocking check failed; a look-up found nothing"),
    (2, "a configuration or usage error (named on one line); nothing ran"),
)


def _epilog() -> str:
    """The environment variables and exit codes, for `--help`."""
    width = max(len(v.name) for v in VARIABLES)
    lines = ["environment variables (default; accepts):"]
    lines += [f"  {v.name:<{width}}  {v.default}; {v.accepts}" for v in VARIABLES]
    lines += ["", "exit codes:"]
    lines += [f"  {code}  {meaning}" for code, meaning in EXIT_CODES]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="identity-assets",
        description="Resolve identities from raw customer-event exports with Dagster and DuckDB.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="materialise landed days and everything downstream, with all checks"
    )
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every day in the landing directory")
    which.add_argument(
        "--day", action="append", type=_day, metavar="YYYY-MM-DD", help="a day (repeatable)"
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild a stage and every stage after it from what has landed (a fix to a stage "
        "reaches history this way)",
    )
    run.add_argument(
        "--from",
        dest="from_stage",
        choices=STAGES,
        default="identity",
        help="with --full-refresh: the first stage to rebuild (default identity; ingest also "
        "reads unchanged days again)",
    )
    run.set_defaults(handler=_run)

    journal = commands.add_parser(
        "journal", help="print an identity's journal in the identifier API's response shape"
    )
    by = _identifier_flags(journal, "look up by")
    by.add_argument(
        "request",
        nargs="?",
        metavar="REQUEST",
        help="a JSON request in the identifier API's shape "
        '({"platform": ..., "anonymous_id": ...}); - reads it from stdin',
    )
    journal.add_argument("--limit", type=_positive, metavar="N", help="the N most recent entries")
    journal.add_argument(
        "--since", type=_moment, metavar="TIME", help="entries at or after TIME (ISO-8601; UTC)"
    )
    journal.add_argument(
        "--until", type=_moment, metavar="TIME", help="entries before TIME (ISO-8601; UTC)"
    )
    journal.add_argument(
        "--pretty", action="store_true", help="indent the answer (re-encodes each payload)"
    )
    journal.set_defaults(handler=_journal)

    explain = commands.add_parser(
        "explain",
        help="why an identifier is in its identity: the links that joined it, refusals, blocks",
    )
    _identifier_flags(explain, "explain this")
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON")
    explain.set_defaults(handler=_explain)

    profile = commands.add_parser(
        "profile", help="answer a profile request (the profile API's shape) from a file or stdin"
    )
    profile.add_argument(
        "request", nargs="?", default="-", help="JSON request file; - or nothing reads stdin"
    )
    profile.set_defaults(handler=_profile)

    serve = commands.add_parser(
        "serve",
        help="answer journal and profile look-ups over HTTP from the published snapshot",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    serve.set_defaults(handler=_serve)

    endpoint = commands.add_parser(
        "dev-endpoint", help="run a local stand-in for the identifier API (for offline runs)"
    )
    endpoint.add_argument("--host", default="127.0.0.1", help="address to listen on")
    endpoint.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    endpoint.add_argument("--token", help="the only bearer token accepted (default: any)")
    endpoint.add_argument(
        "--rate-limit", type=_positive, default=1000, help="requests/s, then 429 (1000)"
    )
    endpoint.add_argument("--forbidden", action="store_true", help="answer every call 403")
    endpoint.add_argument("--fail-rate", type=float, default=0.0, help="share answered 500")
    endpoint.add_argument(
        "--fail-after-record-rate", type=float, default=0.0, help="share recorded, then 500"
    )
    endpoint.add_argument("--slow-rate", type=float, default=0.0, help="share answered slowly")
    endpoint.add_argument("--slow-seconds", type=float, default=2.0, help="how slowly")
    endpoint.add_argument("--seed", type=int, default=7, help="seed of the injected faults")
    endpoint.set_defaults(handler=_dev_endpoint)

    sample = commands.add_parser("sample", help="write realistic sample exports")
    sample.add_argument("--out", type=Path, required=True, help="landing directory to write")
    sample.add_argument("--people", type=int, help="number of people (default 2000)")
    sample.add_argument("--days", type=int, help="daily folders to write (default 14)")
    sample.add_argument(
        "--history-days", type=int, help="days of history in the first folder (default 365)"
    )
    sample.add_argument("--end-day", type=_day, help="last daily folder (default 2026-11-20)")
    sample.add_argument("--seed", type=int, help="random seed (default 7)")
    sample.add_argument(
        "--lines",
        dest="target_lines",
        metavar="LINES",
        type=int,
        help="aim for about this many lines in total",
    )
    sample.set_defaults(handler=_sample)
    return parser


def _identifier_flags(command: argparse.ArgumentParser, verb: str) -> argparse._MutexGroup:
    """One flag per identifier type (`--anonymous-id VALUE`), of which one is required."""
    by = command.add_mutually_exclusive_group(required=True)
    for name in IDENTIFIER_TYPES:
        flag = "--" + name.replace("_", "-")
        by.add_argument(flag, dest=name, metavar="VALUE", help=f"{verb} {name}")
    return by


def _looked_up(args: argparse.Namespace) -> tuple[str, str]:
    """The identifier type and value the command was given."""
    name = next(t for t in IDENTIFIER_TYPES if getattr(args, t) is not None)
    return name, getattr(args, name)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return int(text)


def _moment(text: str) -> datetime:
    """An ISO-8601 date or time as naive UTC (the warehouse's); without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 date or time (2026-11-20, 2026-11-20T08:00:00Z): {text!r}"
        ) from error
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD day: {text!r}") from error


def _run(args: argparse.Namespace) -> int:
    from identity_assets.configuration import check_configuration
    from identity_assets.definitions import DAILY_JOB_NAME, build_definitions

    check_configuration()
    landing = Path(landing_dir()).expanduser().resolve()
    if args.all:
        days = landed_days(landing, first_day())
        if not days:
            print(f"identity-assets: nothing has landed in {landing}", file=sys.stderr)
            return 1
    else:
        # as the schedule does: a day that never landed is skipped, saying so
        days = []
        for day in sorted(set(args.day)):
            if (landing / day.isoformat()).is_dir():
                days.append(day)
            else:
                print(f"identity-assets: no folder landed for {day} in {landing}: skipped")
        if not days:
            print("identity-assets: nothing to run")
            return 0
    _check_in_partitions(days)
    _stop_on_signals()
    job = (
        build_definitions()
        .resolve_job_def(DAILY_JOB_NAME)
        .with_logger_defs({"console": _utc_console_logger()})
    )
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if args.full_refresh:
        print(f"identity-assets: full refresh from the {args.from_stage} stage on", flush=True)
        run_config["resources"] = {"full_refresh": {"config": {"from_stage": args.from_stage}}}
    # disposed here, not left to the end of the process: its files are closed whatever the exit
    with _instance() as instance:
        return _run_ranges(job, instance, days, run_config)


def _run_ranges(
    job: dg.JobDefinition, instance: dg.DagsterInstance, days: list[date], run_config: dict
) -> int:
    """One run per range of consecutive days, in order; 130 as soon as one is stopped."""
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    failed = False
    for first, last in _contiguous_ranges(days):
        span = first.isoformat() if first == last else f"{first}..{last}"
        wait_for_writers(instance, say=lambda line: print(line, flush=True))
        print(f"identity-assets: running {job.name} for {span}", flush=True)
        started = time.perf_counter()
        try:
            result = job.execute_in_process(
                instance=instance,
                tags={
                    ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
                    ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
                },
                run_config=run_config,
                raise_on_error=False,
            )
        except KeyboardInterrupt:
            result = None
        if result is None or _interrupted(result):
            print(
                "identity-assets: run stopped by a signal; its open transaction was rolled back "
                "and the next run catches up",
                file=sys.stderr,
                flush=True,
            )
            return 130
        failed |= _report(result, time.perf_counter() - started)
    return 1 if failed else 0


UTC_LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


class UtcFormatter(logging.Formatter):
    """Log lines stamped in ISO-8601 UTC (2026-12-01T14:00:00Z), as the rest of what the
    command prints, rather than Dagster's local time with an offset."""

    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%SZ"
    default_msec_format = None


def _utc_console_logger() -> dg.LoggerDefinition:
    """Dagster's console logger (its `log_level` setting too) with UTC ISO-8601 stamps."""
    import dagster as dg

    @dg.logger(
        {"log_level": dg.Field(str, is_required=False, default_value="INFO")},
        description="The console logger of `identity-assets run`: ISO-8601 UTC timestamps.",
    )
    def console(init_context: dg.InitLoggerContext) -> logging.Logger:
        level = logging.getLevelName(init_context.logger_config["log_level"].upper())
        console_logger = logging.Logger("dagster", level=level)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(UtcFormatter(UTC_LOG_FORMAT))
        console_logger.addHandler(handler)
        return console_logger

    return console


def _interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether a step of the run was stopped by an interrupt (SIGINT or SIGTERM)."""
    from dagster._core.errors import DagsterExecutionInterruptedError

    return any(
        event.step_failure_data.error_source == "INTERRUPT"
        or event.step_failure_data.error.cls_name
        in (DagsterExecutionInterruptedError.__name__, KeyboardInterrupt.__name__)
        for event in result.get_step_failure_events()
    )


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM interrupt the run, even when the shell that started it ignored SIGINT
    (a background job): Dagster then fails the running step, whose warehouse transaction rolls
    back, and deliveries still on their way stay marked in flight for the next run."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def _check_in_partitions(days: list[date]) -> None:
    start, today = first_day(), datetime.now(UTC).date()
    outside = [d.isoformat() for d in days if d < start or d > today]
    if outside:
        raise LandingError(
            f"day(s) outside the daily partitions {start}..{today}: {', '.join(outside)} "
            "(set IDENTITY_FIRST_DAY to include earlier days)"
        )


def _contiguous_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Runs of consecutive days: each becomes one run over a partition range."""
    ranges: list[tuple[date, date]] = []
    for day in days:
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _instance() -> dg.DagsterInstance:
    import dagster as dg

    if os.getenv("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _report(result: dg.ExecuteInProcessResult, seconds: float) -> bool:
    """Print what the run did; return True when a step or a blocking check failed."""
    import dagster as dg

    # A run over a range of days records one materialization per day, each with that day's
    # figures: a day-partitioned asset is reported as the sum over its days.
    by_asset: dict[str, list[dg.AssetMaterialization]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        by_asset.setdefault(materialization.asset_key.to_user_string(), []).append(materialization)
    for name, materializations in by_asset.items():
        counts = [m.metadata.get("dagster/row_count") for m in materializations]
        figures = f"{sum(c.value for c in counts):,} rows" if None not in counts else ""
        if len(materializations) > 1:
            figures += f" over {len(materializations)} days"
        print(f"  materialised {name:<20} {figures}".rstrip())
    failed_checks = []
    # A check made for every asset (column_schema_change) is one line naming the assets it failed.
    checks: dict[str, list[dg.AssetCheckEvaluation]] = {}
    for evaluation in result.get_asset_check_evaluations():
        checks.setdefault(evaluation.asset_check_key.name, []).append(evaluation)
    width = max((len(name) for name in checks), default=0)
    for name, evaluations in checks.items():
        print(f"  check {name:<{width}} {_check_status(evaluations)}")
        if any(not e.passed and e.severity == dg.AssetCheckSeverity.ERROR for e in evaluations):
            failed_checks.append(name)
    failed_steps = result.get_step_failure_events()
    for event in failed_steps:
        message, cause = _failure(event)
        print(f"  step {event.step_key} FAILED: {message}", file=sys.stderr)
        if cause:
            print(f"    caused by {cause}", file=sys.stderr)
    ok = result.success and not failed_checks
    print(f"identity-assets: run {'succeeded' if ok else 'FAILED'} in {seconds:.1f}s", flush=True)
    return not ok


def _check_status(evaluations: list[dg.AssetCheckEvaluation]) -> str:
    """`passed`, `FAILED` for a blocking failure, `warning` for a failed warning check; with
    the asset(s) when the check is made for several, and what the check said."""
    import dagster as dg

    def said(evaluation: dg.AssetCheckEvaluation) -> str:
        where = f" on {evaluation.asset_key.to_user_string()}" if len(evaluations) > 1 else ""
        return f"{where}: {evaluation.description}" if evaluation.description else where

    failed = [e for e in evaluations if not e.passed]
    if not failed:
        return "passed" if len(evaluations) == 1 else "passed on every asset"
    errors = [e for e in failed if e.severity == dg.AssetCheckSeverity.ERROR]
    label = "FAILED" if errors else "warning"
    return label + "; ".join(said(e) for e in (errors or failed))


def _failure(event: dg.DagsterEvent) -> tuple[str, str]:
    """The project's own message about a step failure first (the first error raised outside
    Dagster), and, apart, the error that started it when that is another (DuckDB's, say)."""
    error = event.step_failure_data.error
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    own = next((e for e in chain if not e.cls_name.startswith("Dagster")), chain[-1])
    root = chain[-1]
    cause = "" if own is root else _said(root)[:300]
    return _said(own), cause


def _said(error) -> str:
    """An error's message on one line: ours as they are, others' after their class's name."""
    qualified, _, message = error.message.strip().partition(": ")
    if not qualified.endswith(error.cls_name):
        qualified, message = error.cls_name, error.message.strip()
    message = " ".join(message.split())
    return message if qualified.startswith("identity_assets.") else f"{error.cls_name}: {message}"


def _journal(args: argparse.Namespace) -> int:
    from identity_assets.journal.lookup import journal_request_response, journal_response

    if args.request is not None:
        try:
            body = json.loads(_read_request(args.request))
        except json.JSONDecodeError as error:
            error = {"message": f"the body is not JSON ({error})", "code": "BAD_REQUEST"}
            print(json.dumps({"success": False, "error": error}))
            return 2
        with _read_snapshot() as (pointer, conn):
            status, answer = journal_request_response(conn, body, pointer.phone_region)
        print(answer)
        return {200: 0, 404: 1}.get(status, 2)
    with _read_snapshot() as (pointer, conn):
        status, body = journal_response(
            conn,
            *_looked_up(args),
            pointer.phone_region,
            limit=args.limit,
            since=args.since,
            until=args.until,
        )
    print(json.dumps(json.loads(body), indent=2) if args.pretty else body)
    return 0 if status == 200 else 1


def _explain(args: argparse.Namespace) -> int:
    from identity_assets.identity.explain import explain, render

    identifier_type, value = _looked_up(args)
    with _read_warehouse() as conn:
        answer = explain(conn, identifier_type, value, phone_region())
    if answer is None:
        print(f"no {identifier_type} {value!r} was ever seen", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2, default=str) if args.json else render(answer))
    return 0


def _read_request(path: str) -> str:
    """The text of a request file, or of standard input for `-`."""
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text(encoding="utf-8")


def _profile(args: argparse.Namespace) -> int:
    from identity_assets.journal.lookup import profile_response

    try:
        body = json.loads(_read_request(args.request))
    except json.JSONDecodeError as error:
        status, answer = 400, {"error": f"bad request: the body is not JSON ({error})"}
    else:
        with _read_snapshot() as (pointer, conn):
            status, answer = profile_response(conn, body, pointer.phone_region)
    print(json.dumps(answer, indent=2))
    return {200: 0, 404: 1}.get(status, 2)


@contextmanager
def _read_warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened read-only, with a clear error when it is not there or not built."""
    path = Path(duckdb_path())
    if not path.exists():
        raise LookupUnavailable(
            f"no warehouse at {path}: run `identity-assets run --all` first "
            "(or set IDENTITY_DUCKDB_PATH)"
        )
    try:
        conn = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as error:
        raise LookupUnavailable(f"cannot open {path} read-only: {error}") from error
    try:
        yield conn
    except duckdb.CatalogException as error:
        raise LookupUnavailable(
            f"the warehouse at {path} has no journal yet: run `identity-assets run --all` ({error})"
        ) from error
    finally:
        conn.close()


@contextmanager
def _read_snapshot() -> Iterator[tuple[Pointer, sqlite3.Connection]]:
    """The published serving snapshot, read-only: it answers while a run writes the warehouse."""
    from identity_assets.serving.snapshot import SnapshotMissing, open_current

    try:
        with open_current(Path(serving_dir())) as opened:
            yield opened
    except SnapshotMissing as error:
        raise LookupUnavailable(str(error)) from error


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from identity_assets.serving.app import ServeConfig, create_app
    from identity_assets.serving.snapshot import SnapshotSource

    config = ServeConfig.from_env()
    if not config.bearer_tokens and not config.profile_tokens:
        raise ValueError(
            "set IDENTITY_SERVE_TOKENS (bearer tokens of the journal API) or "
            "IDENTITY_SERVE_PROFILE_TOKENS (partner:token pairs of the profile API)"
        )
    source = SnapshotSource(Path(serving_dir()))
    pointer = source.current_pointer()
    print(
        f"identity-assets: serving {source.root} "
        f"({f'version {pointer.version}' if pointer else 'no snapshot yet'}) "
        f"on http://{args.host}:{args.port}; quota {config.quota} units/minute per token",
        flush=True,
    )
    try:
        uvicorn.run(
            create_app(source, config),
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            server_header=False,
        )
    finally:
        source.close()
    return 0


class LookupUnavailable(RuntimeError):
    """The warehouse cannot answer look-ups (missing, locked, or not built)."""


def _dev_endpoint(args: argparse.Namespace) -> int:
    from identity_assets.segments.endpoint import Faults, IdentifierStandIn

    faults = Faults(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Faults)})
    try:
        server = IdentifierStandIn(args.host, args.port, args.token, faults)
    except OSError as error:
        print(
            f"identity-assets: error: cannot listen on {args.host}:{args.port}: {error.strerror}",
            file=sys.stderr,
        )
        return 2
    host, port = server.server_address[:2]
    print(
        f"identity-assets: identifier API stand-in on http://{host}:{port}/api/v1 "
        f"(token {'required' if args.token else 'any'}; rate limit {args.rate_limit}/s; "
        f"500s {args.fail_rate:.0%}, after recording {args.fail_after_record_rate:.0%}; "
        f"slow {args.slow_rate:.0%}{'; every call 403' if args.forbidden else ''})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _sample(args: argparse.Namespace) -> int:
    from identity_assets.sample import SampleConfig, write_sample

    given = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(SampleConfig)}
    config = SampleConfig(**{name: value for name, value in given.items() if value is not None})
    started = time.perf_counter()
    summary = write_sample(args.out, config)
    seconds = time.perf_counter() - started
    print(
        f"identity-assets: wrote {summary.total_lines:,} lines for {len(summary.days)} days "
        f"into {args.out} in {seconds:.1f}s (ground truth in {summary.truth_dir})"
    )
    return 0


if __name__ == "__main__":
    console()
