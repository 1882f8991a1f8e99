"""The `identity-assets` command line, run as a user runs it: a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.test_utils import create_run_for_test

from identity_assets.cli import main
from identity_assets.definitions import DAILY_JOB_NAME
from identity_assets.writers import WAREHOUSE_TAG, WRITE
from identity_assets_tests.conftest import Landing
from identity_assets_tests.ingest.test_core import EVENTS, IDENTIFIER, IDENTIFY, TRACK

CLI = Path(sys.executable).with_name("identity-assets")
ROOT = Path(__file__).resolve().parents[1]


def cli_env(tmp_path: Path, landing: Landing, env: dict[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment: this landing, a warehouse and a Dagster home under tmp_path."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    return {
        **os.environ,
        "IDENTITY_LANDING_DIR": str(landing.root),
        "IDENTITY_DUCKDB_PATH": str(tmp_path / "data" / "identity.duckdb"),
        "DAGSTER_HOME": str(home),
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


def test_run_all_materialises_every_landed_day(tmp_path, landing: Landing) -> None:
    on_18th = {"timestamp": "2026-11-18T10:00:00Z", "receivedAt": "2026-11-18T10:00:01Z"}
    landing.write("a.jsonl", [IDENTIFY | on_18th, TRACK | on_18th, "x"], day=date(2026, 11, 18))
    landing.write("b.jsonl.gz", [EVENTS, IDENTIFIER], day=date(2026, 11, 20))
    done = run_cli(tmp_path, landing, "run", "--all")

    assert done.returncode == 0, done.stderr
    assert done.stdout.count("running daily_pipeline") == 2
    assert "for 2026-11-18\n" in done.stdout and "for 2026-11-20\n" in done.stdout
    assert "materialised raw_events" in done.stdout
    assert "materialised identity_map" in done.stdout
    assert "check no_blocked_identifier_linked" in done.stdout
    assert "check lines_balance" in done.stdout and "passed" in done.stdout
    with duckdb.connect(str(tmp_path / "data" / "identity.duckdb"), read_only=True) as conn:
        assert conn.execute(
            "select day, count(*) from raw_events group by 1 order by 1"
        ).fetchall() == [
            (date(2026, 11, 18), 2),
            (date(2026, 11, 20), 4),
        ]
    assert (tmp_path / "dagster_home").is_dir()


def test_consecutive_days_share_one_run_reported_as_their_sum(tmp_path, landing: Landing) -> None:
    for day in (18, 19, 20):
        tracks = [
            {**TRACK, "messageId": f"t-{day}-{n}", "timestamp": f"2026-11-{day}T10:00:00Z"}
            for n in range(day - 17)
        ]
        landing.write("a.jsonl", tracks, day=date(2026, 11, day))
    done = run_cli(tmp_path, landing, "run", "--day", "2026-11-18", "--day", "2026-11-19")
    assert done.returncode == 0, done.stderr
    assert "running daily_pipeline for 2026-11-18..2026-11-19" in done.stdout
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert "materialised raw_events 3 rows over 2 days" in lines
    assert "materialised raw_files 2 rows over 2 days" in lines


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
        with output.open("w") as sink:
            cli = subprocess.Popen(
                [str(CLI), "run", "--all"],
                env=env,
                cwd=tmp_path,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 120
            while f"waiting for run {writer.run_id}" not in output.read_text():
                assert cli.poll() is None and time.monotonic() < deadline, output.read_text()
                time.sleep(0.2)
            time.sleep(3)  # longer than a poll: still waiting, nothing written
            assert "running daily_pipeline" not in output.read_text()
            assert not (tmp_path / "data" / "identity.duckdb").exists()
            instance.report_run_canceled(writer)
            assert cli.wait(timeout=300) == 0, output.read_text()
        finally:
            if cli.poll() is None:
                os.killpg(cli.pid, signal.SIGKILL)
                cli.wait()
        (own,) = [
            run
            for run in instance.get_runs(dg.RunsFilter(job_name=DAILY_JOB_NAME))
            if run.run_id != writer.run_id
        ]
    text = output.read_text()
    assert text.count("waiting for run") == 1
    assert text.index("waiting for run") < text.index("running daily_pipeline for 2026-11-20")
    assert own.status == dg.DagsterRunStatus.SUCCESS and own.tags[WAREHOUSE_TAG] == WRITE


def test_a_stray_landing_folder_is_named_and_nothing_runs(tmp_path, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY])
    (landing.root / "archive").mkdir()
    done = run_cli(tmp_path, landing, "run", "--all")
    assert done.returncode == 2
    assert "archive (not a YYYY-MM-DD day)" in done.stderr
    assert not (tmp_path / "data" / "identity.duckdb").exists()


def test_an_unreadable_file_fails_the_run_naming_the_file(tmp_path, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY])
    (landing.root / "2026-11-20" / "bad.jsonl.gz").write_bytes(b"not gzip")
    done = run_cli(tmp_path, landing, "run", "--day", "2026-11-20")
    assert done.returncode == 1
    # the summary says our message first, then the reader's on a line of its own
    summary = done.stderr[done.stderr.index("  step ingest_landed_days FAILED: ") :].splitlines()
    assert summary[0].startswith(
        "  step ingest_landed_days FAILED: cannot read landed file 2026-11-20/bad.jsonl.gz: "
    )
    assert "Fix or remove the file and re-run its day" in summary[0]
    assert summary[1].startswith("    caused by BadGzipFile: Not a gzipped file")
    assert "run FAILED" in done.stdout


@pytest.mark.parametrize("day", ["2023-06-01", "2999-01-01"])
def test_days_outside_the_partitions_are_refused(tmp_path, landing: Landing, day) -> None:
    landing.write("a.jsonl", [IDENTIFY], day=date.fromisoformat(day))
    done = run_cli(tmp_path, landing, "run", "--day", day)
    assert done.returncode == 2
    assert f"outside the daily partitions 2024-01-01..{date.today().year}" in done.stderr


def test_journal_and_profile_look_ups_answer_in_the_apis_shapes(tmp_path, landing: Landing) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK], day=date(2026, 11, 20))
    assert run_cli(tmp_path, landing, "run", "--all").returncode == 0

    found = run_cli(tmp_path, landing, "journal", "--email", "cool.person@example.com")
    assert found.returncode == 0, found.stderr
    answer = json.loads(found.stdout)
    assert [entry["payload"]["type"] for entry in answer["data"]["journal"]] == [
        "track",
        "identify",
    ]
    seed_request = {"platform": "web", "anonymous_id": "nobody", "email": "Cool.Person@Example.com"}
    by_request = run_cli(tmp_path, landing, "journal", "-", stdin=json.dumps(seed_request))
    assert by_request.returncode == 0, by_request.stderr
    assert json.loads(by_request.stdout) == answer
    by_phone = run_cli(tmp_path, landing, "journal", "--phone", "(415) 555-0100")
    assert json.loads(by_phone.stdout)["data"]["uuid"] == answer["data"]["uuid"]

    latest = run_cli(
        tmp_path, landing, "journal", "--phone", "4155550100", "--limit", "1", "--pretty"
    )
    assert latest.returncode == 0, latest.stderr
    assert latest.stdout.startswith('{\n  "success": true,')
    assert json.loads(latest.stdout)["data"]["journal"] == answer["data"]["journal"][:1]

    missing = run_cli(tmp_path, landing, "journal", "--device-id", "nope")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["error"]["code"] == "IDENTIFIER_NOT_FOUND"

    request = {"identifiers": {"user_id": "97980cfea0067"}, "attributes": ["name", "email"]}
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(request))
    profile = run_cli(tmp_path, landing, "profile", str(request_file))
    assert profile.returncode == 0, profile.stderr
    assert json.loads(profile.stdout)["attributes"] == {
        "name": "Cool",
        "email": "Cool.Person@Example.com",
        "iid": answer["data"]["uuid"],
    }
    unknown = run_cli(
        tmp_path, landing, "profile", stdin='{"identifiers": {"email": "x@y.z"}, "attributes": []}'
    )
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout) == {"error": "no such user for these identifiers: no data"}
    malformed = run_cli(tmp_path, landing, "profile", "-", stdin="{not json")
    assert malformed.returncode == 2
    assert json.loads(malformed.stdout)["error"].startswith("bad request: the body is not JSON")


def test_a_look_up_before_any_run_says_what_to_do(tmp_path, landing: Landing) -> None:
    done = run_cli(tmp_path, landing, "journal", "--email", "a@b.c")
    assert done.returncode == 2
    assert "run `identity-assets run --all` first" in done.stderr


def test_explain_tells_how_an_identifier_joined_and_a_hand_block_applies_on_rerun(
    tmp_path, landing: Landing
) -> None:
    landing.write("a.jsonl", [IDENTIFY, TRACK], day=date(2026, 11, 20))
    assert run_cli(tmp_path, landing, "run", "--all").returncode == 0
    done = run_cli(tmp_path, landing, "explain", "--email", "Cool.Person@Example.com", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    phone = next(m for m in answer["members"] if m["identifier_type"] == "phone")
    assert phone["path"], "the phone joined through an event"
    identity = answer["identity"]["identity_id"]

    rules = tmp_path / "rules.json"
    block = {"type": "phone", "value": "(415) 555-0100", "reason": "call centre line"}
    rules.write_text(json.dumps({"blocks": [block]}))
    rerun = run_cli(tmp_path, landing, "run", "--all", env={"IDENTITY_RULES": str(rules)})
    assert rerun.returncode == 0, rerun.stderr
    text = run_cli(tmp_path, landing, "explain", "--phone", "+1 415 555 0100")
    assert text.returncode == 0, text.stderr
    assert "never links: manual: call centre line" in text.stdout
    assert "in no identity" in text.stdout
    again = run_cli(tmp_path, landing, "explain", "--email", "cool.person@example.com")
    assert f"identity {identity}" in again.stdout
    assert run_cli(tmp_path, landing, "explain", "--user-id", "nobody").returncode == 1


def run_in_process(monkeypatch, tmp_path: Path, landing: Landing, *args: str) -> int:
    """`main` in this process: quicker than a process when the exit code and output suffice."""
    monkeypatch.setenv("IDENTITY_LANDING_DIR", str(landing.root))
    monkeypatch.setenv("IDENTITY_DUCKDB_PATH", str(tmp_path / "data" / "identity.duckdb"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("IDENTITY_API_TOKEN", raising=False)
    return main(list(args))


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
