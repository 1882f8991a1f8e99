"""The `identity-assets` command line, run as a user runs it: a real process."""

from __future__ import annotations

import io
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.test_utils import create_run_for_test

from identity_assets.cli import main
from identity_assets.definitions import DAILY_JOB_NAME
from identity_assets.writers import WAREHOUSE_TAG, WRITE
from identity_assets_tests.builders import (
    CLI,
    EVENTS,
    IDENTIFIER,
    IDENTIFY,
    TRACK,
    Landing,
    cli_env,
    run_cli,
)
from identity_assets_tests.processes import running, wait_until


@dataclass
class Ran:
    """`identity-assets run --all` once, over a landing of three days, two of them consecutive:
    the tests of what it printed and made, and of look-ups afterwards, share it (a run is the
    slow part)."""

    root: Path
    landing: Landing
    done: subprocess.CompletedProcess[str]

    def copy(self, to: Path) -> tuple[Path, Landing]:
        """The landing, warehouse and Dagster home, copied for a test that writes."""
        shutil.copytree(self.root, to, dirs_exist_ok=True)
        return to, Landing(to / "landing")


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Ran:
    root = tmp_path_factory.mktemp("cli")
    landing = Landing(root / "landing")
    on_17th = {"anonymousId": "a-17", "timestamp": "2026-11-17T10:00:00Z"}
    tracks = [TRACK | on_17th | {"messageId": f"t-17-{n}"} for n in range(2)]
    landing.write("a.jsonl", tracks, day=date(2026, 11, 17))
    identify = IDENTIFY | {
        "timestamp": "2026-11-18T10:00:00Z",
        "receivedAt": "2026-11-18T10:00:01Z",
    }
    track = TRACK | {"timestamp": "2026-11-18T10:05:00Z"}
    landing.write("a.jsonl", [identify, track, "x"], day=date(2026, 11, 18))
    landing.write("b.jsonl.gz", [EVENTS, IDENTIFIER], day=date(2026, 11, 20))
    return Ran(root, landing, run_cli(root, landing, "run", "--all"))


def test_run_all_materialises_every_landed_day(ran: Ran) -> None:
    done = ran.done
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("running daily_pipeline") == 2
    assert "for 2026-11-17..2026-11-18\n" in done.stdout and "for 2026-11-20\n" in done.stdout
    assert "materialised raw_events" in done.stdout
    assert "materialised identity_map" in done.stdout
    assert "check no_blocked_identifier_linked" in done.stdout
    assert "check lines_balance" in done.stdout and "passed" in done.stdout
    with duckdb.connect(str(ran.root / "data" / "identity.duckdb"), read_only=True) as conn:
        assert conn.execute(
            "select day, count(*) from raw_events group by 1 order by 1"
        ).fetchall() == [
            (date(2026, 11, 17), 2),
            (date(2026, 11, 18), 2),
            (date(2026, 11, 20), 4),
        ]
    assert (ran.root / "dagster_home").is_dir()


def test_consecutive_days_share_one_run_reported_as_their_sum(ran: Ran) -> None:
    assert ran.done.returncode == 0, ran.done.stderr
    assert "running daily_pipeline for 2026-11-17..2026-11-18" in ran.done.stdout
    lines = [" ".join(line.split()) for line in ran.done.stdout.splitlines()]
    assert "materialised raw_events 4 rows over 2 days" in lines
    assert "materialised raw_files 2 rows over 2 days" in lines


def test_dagster_log_lines_are_stamped_in_iso_8601_utc(ran: Ran) -> None:
    logged = [line for line in ran.done.stderr.splitlines() if " - dagster - " in line]
    assert logged, ran.done.stderr
    stamp = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z - dagster - (INFO|WARNING|ERROR) - ")
    assert [line for line in logged if not stamp.match(line)] == []


def test_run_waits_for_a_writer_in_progress_and_records_its_own_run_as_one(
    tmp_path, landing: Landing
) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK], day=date(2026, 11, 20))
    env = cli_env(tmp_path, landing)
    output = tmp_path / "cli.out"
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        # a run the queue started, still writing the warehouse
        writer = create_run_for_test(
            instance,
            DAILY_JOB_NAME,
            status=dg.DagsterRunStatus.STARTED,
            tags={WAREHOUSE_TAG: WRITE},
        )
        with running([str(CLI), "run", "--all"], grace=0, log=output, env=env, cwd=tmp_path) as cli:
            wait_until(
                lambda: f"waiting for run {writer.run_id}" in output.read_text(),
                120,
                process=cli,
                log=output,
            )
            time.sleep(3)  # longer than a poll: still waiting, nothing written
            assert "running daily_pipeline" not in output.read_text()
            assert not (tmp_path / "data" / "identity.duckdb").exists()
            instance.report_run_canceled(writer)
            assert cli.wait(timeout=300) == 0, output.read_text()
        (own,) = [
            run
            for run in instance.get_runs(dg.RunsFilter(job_name=DAILY_JOB_NAME))
            if run.run_id != writer.run_id
        ]
    text = output.read_text()
    assert text.count("waiting for run") == 1
    assert text.index("waiting for run") < text.index("running daily_pipeline for 2026-11-20")
    assert own.status == dg.DagsterRunStatus.SUCCESS and own.tags[WAREHOUSE_TAG] == WRITE


def test_a_stray_landing_folder_is_named_and_nothing_runs(
    monkeypatch, tmp_path, landing: Landing, capsys
) -> None:
    landing.write("a.jsonl", [IDENTIFY])
    (landing.root / "archive").mkdir()
    assert run_in_process(monkeypatch, tmp_path, landing, "run", "--all") == 2
    assert "archive (not a YYYY-MM-DD day)" in capsys.readouterr().err
    assert not (tmp_path / "data" / "identity.duckdb").exists()


def test_an_unreadable_file_fails_the_run_naming_the_file(
    monkeypatch, tmp_path, landing: Landing, capsys
) -> None:
    landing.write("a.jsonl", [IDENTIFY])
    (landing.root / "2026-11-20" / "bad.jsonl.gz").write_bytes(b"not gzip")
    assert run_in_process(monkeypatch, tmp_path, landing, "run", "--day", "2026-11-20") == 1
    out, err = capsys.readouterr()
    # the summary says our message first, then the reader's on a line of its own
    summary = err[err.index("  step ingest_landed_days FAILED: ") :].splitlines()
    assert summary[0].startswith(
        "  step ingest_landed_days FAILED: cannot read landed file 2026-11-20/bad.jsonl.gz: "
    )
    assert "Fix or remove the file and re-run its day" in summary[0]
    assert summary[1].startswith("    caused by BadGzipFile: Not a gzipped file")
    assert "run FAILED" in out


@pytest.mark.parametrize("day", ["2023-06-01", "2999-01-01"])
def test_days_outside_the_partitions_are_refused(
    monkeypatch, tmp_path, landing: Landing, capsys, day
) -> None:
    landing.write("a.jsonl", [IDENTIFY], day=date.fromisoformat(day))
    assert run_in_process(monkeypatch, tmp_path, landing, "run", "--day", day) == 2
    err = capsys.readouterr().err
    assert f"outside the daily partitions 2024-01-01..{date.today().year}" in err


def test_journal_and_profile_look_ups_answer_in_the_apis_shapes(
    ran: Ran, monkeypatch, tmp_path, capsys
) -> None:
    def look_up(*args: str, stdin: str | None = None) -> tuple[int, str]:
        code = run_in_process(monkeypatch, ran.root, ran.landing, *args, stdin=stdin)
        return code, capsys.readouterr().out

    code, found = look_up("journal", "--email", "cool.person@example.com")
    assert code == 0, found
    answer = json.loads(found)
    assert [entry["payload"]["type"] for entry in answer["data"]["journal"]] == [
        "track",
        "identify",
    ]
    seed_request = {"platform": "web", "anonymous_id": "nobody", "email": "Cool.Person@Example.com"}
    code, by_request = look_up("journal", "-", stdin=json.dumps(seed_request))
    assert code == 0
    assert json.loads(by_request) == answer
    _, by_phone = look_up("journal", "--phone", "(415) 555-0100")
    assert json.loads(by_phone)["data"]["uuid"] == answer["data"]["uuid"]

    code, latest = look_up("journal", "--phone", "4155550100", "--limit", "1", "--pretty")
    assert code == 0
    assert latest.startswith('{\n  "success": true,')
    assert json.loads(latest)["data"]["journal"] == answer["data"]["journal"][:1]

    code, missing = look_up("journal", "--device-id", "nope")
    assert code == 1
    assert json.loads(missing)["error"]["code"] == "IDENTIFIER_NOT_FOUND"

    request = {"identifiers": {"user_id": "97980cfea0067"}, "attributes": ["name", "email"]}
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(request))
    code, profile = look_up("profile", str(request_file))
    assert code == 0
    assert json.loads(profile)["attributes"] == {
        "name": "Cool",
        "email": "Cool.Person@Example.com",
        "iid": answer["data"]["uuid"],
    }
    code, unknown = look_up(
        "profile", stdin='{"identifiers": {"email": "x@y.z"}, "attributes": []}'
    )
    assert code == 1
    assert json.loads(unknown) == {"error": "no such user for these identifiers: no data"}
    code, malformed = look_up("profile", "-", stdin="{not json")
    assert code == 2
    assert json.loads(malformed)["error"].startswith("bad request: the body is not JSON")


def test_a_look_up_before_any_run_says_what_to_do(
    monkeypatch, tmp_path, landing: Landing, capsys
) -> None:
    assert run_in_process(monkeypatch, tmp_path, landing, "journal", "--email", "a@b.c") == 2
    assert "run `identity-assets run --all` first" in capsys.readouterr().err


def test_explain_tells_how_an_identifier_joined_and_a_hand_block_applies_on_rerun(
    ran: Ran, monkeypatch, tmp_path, capsys
) -> None:
    root, landing = ran.copy(tmp_path / "copy")

    def cli(*args: str) -> tuple[int, str]:
        code = run_in_process(monkeypatch, root, landing, *args)
        return code, capsys.readouterr().out

    code, out = cli("explain", "--email", "Cool.Person@Example.com", "--json")
    assert code == 0, out
    answer = json.loads(out)
    phone = next(m for m in answer["members"] if m["identifier_type"] == "phone")
    assert phone["path"], "the phone joined through an event"
    identity = answer["identity"]["identity_id"]

    rules = tmp_path / "rules.json"
    block = {"type": "phone", "value": "(415) 555-0100", "reason": "call centre line"}
    rules.write_text(json.dumps({"blocks": [block]}))
    # a run of one day applies changed rules to every identity
    monkeypatch.setenv("IDENTITY_RULES", str(rules))
    code, out = cli("run", "--day", "2026-11-18")
    assert code == 0, out
    code, text = cli("explain", "--phone", "+1 415 555 0100")
    assert code == 0, text
    assert "never links: manual: call centre line" in text
    assert "in no identity" in text
    _, again = cli("explain", "--email", "cool.person@example.com")
    assert f"identity {identity}" in again
    assert cli("explain", "--user-id", "nobody")[0] == 1


def run_in_process(
    monkeypatch, tmp_path: Path, landing: Landing, *args: str, stdin: str | None = None
) -> int:
    """`main` in this process: quicker than a process when the exit code and output suffice.
    The stop signals' handlers `run` installs are this process's again afterwards."""
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    monkeypatch.setenv("IDENTITY_LANDING_DIR", str(landing.root))
    monkeypatch.setenv("IDENTITY_DUCKDB_PATH", str(tmp_path / "data" / "identity.duckdb"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("IDENTITY_API_TOKEN", raising=False)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return main(list(args))
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def test_a_failed_warning_check_is_shown_as_a_warning(
    monkeypatch, tmp_path, landing: Landing, capsys
) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK])
    assert run_in_process(monkeypatch, tmp_path, landing, "run", "--day", "2026-11-20") == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "check every_purchase_rule_matches" in line]
    assert line.endswith("warning: 2 purchase rule(s) matched no event")
    assert "FAILED" not in out and "run succeeded" in out


def test_a_day_that_never_landed_is_skipped_saying_so(
    monkeypatch, tmp_path, landing: Landing, capsys
) -> None:
    done = run_in_process(monkeypatch, tmp_path, landing, "run", "--day", "2026-11-19")
    assert done == 0
    out = capsys.readouterr().out
    assert f"no folder landed for 2026-11-19 in {landing.root}: skipped" in out
    assert "nothing to run" in out and "running" not in out
    assert not (tmp_path / "data").exists()


def test_a_configuration_error_is_one_line_and_nothing_runs(
    monkeypatch, tmp_path, landing: Landing, capsys
) -> None:
    landing.write("a.jsonl", [IDENTIFY])
    segments = tmp_path / "segments.json"
    where = "exists (select 1 from read_csv('/etc/passwd'))"
    segments.write_text(json.dumps([{"name": "leak", "where": where}]))
    monkeypatch.setenv("IDENTITY_SEGMENTS", str(segments))
    assert run_in_process(monkeypatch, tmp_path, landing, "run", "--all") == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"identity-assets: configuration error: IDENTITY_SEGMENTS='{segments}'")
    assert "segment 'leak'" in line and "file system operations are disabled" in line
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_the_command_exits_2_naming_a_bad_variable(tmp_path, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY])
    done = run_cli(tmp_path, landing, "run", "--all", env={"IDENTITY_DUCKDB_THREADS": "-3"})
    assert done.returncode == 2
    assert done.stderr == (
        "identity-assets: configuration error: IDENTITY_DUCKDB_THREADS='-3': "
        "must be a whole number of at least 1\n"
    )
    assert not (tmp_path / "data").exists()


CONSOLE_EXIT = """
import atexit
import sys
import threading
import time

from identity_assets import cli


class TornDown:
    def __del__(self):
        print("torn down")


kept = TornDown()
atexit.register(lambda: print("exit handler ran"))


def main():
    sys.stdout.write("unflushed output, ")
    threading.Thread(target=lambda: (time.sleep(0.2), print("thread finished"))).start()
    return 3


cli.main = main
cli.console()
"""


def test_the_console_script_ends_after_the_exit_handlers_without_the_teardown() -> None:
    """`console` exits with `main`'s code once its threads finished, its output flushed and the
    exit handlers run, but without the interpreter's teardown of what it still holds (an
    object's finalizer here)."""
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE_EXIT],
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        3,
        "unflushed output, thread finished\nexit handler ran\n",
        "",
    )
