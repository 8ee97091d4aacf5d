"""Faults end to end: Session and CLI against the emulator's fault injection (retries, tokens, paging, partials).

The fetch layer's own tests (test_fetch_*.py) check each mechanism with a mock transport; these check what a
user sees when the real HTTP path meets the faults.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyql.cli.main import main
from skyql.emulator import Emulator
from skyql.emulator.emulator import shared_registry
from skyql.errors import ApiError
from skyql.fetch import Fetcher, FetchOptions, Request, build_request
from skyql.session import Options, Session
from tests.support import auth_for

ANY_STATUS = [429, 500, 502, 503, 504]


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The shared emulator, left as found: no faults, no latency, no denied project, default token lifetime."""
    ttl = emulator.token_ttl
    yield emulator
    emulator.clear_faults()
    emulator.latency_ms = 0
    emulator.token_ttl = ttl
    emulator.deny("rel-denied", denied=False)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def session_for(emu: Emulator, key_file: Path, **options: Any) -> Session:
    return Session(Options(auth=auth_for(key_file), endpoints={"google": emu.url}, **options))


def sent(emu: Emulator, fragment: str, method: str = "GET") -> list[dict[str, Any]]:
    return [r for r in emu.requests if r["method"] == method and fragment in r["path"]]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def cli(emu: Emulator, key_file: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """`skyql exec` with these flags, in this process (Ctrl-C is tested in a subprocess elsewhere)."""
    status = main(
        ["exec", "--auth", json.dumps(auth_for(key_file)), "--endpoint", f"google={emu.url}", *args]
    )
    out, err = capsys.readouterr()
    return Run(status, out, err)


# -- retries ----------------------------------------------------------------------------------------------


def test_every_retryable_status_and_a_reset_connection_are_retried_and_no_row_is_lost_or_doubled(
    emu, key_file
):
    emu.populate("ml", "projects/rel-retry/jobs", 300)
    for status in ANY_STATUS:  # one fault on each of the 6 pages, so that each is a first retry
        emu.inject(status=status, count=1, match="projects/rel-retry/", retry_after=0)
        emu.inject(delay_ms=1, count=1, match="projects/rel-retry/")
    emu.inject(drop=True, count=1, match="projects/rel-retry/")
    with session_for(emu, key_file, page_size=50) as session:
        result = session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'rel-retry'")
    ids = [row[0] for row in result.rows]
    assert len(ids) == 300 and len(set(ids)) == 300
    statuses = [r["status"] for r in sent(emu, "projects/rel-retry/")]
    assert statuses == [s for f in ANY_STATUS for s in (f, 200)] + [None, 200]  # None: the dropped one


def test_retry_after_is_waited_out_before_the_next_attempt(emu, key_file):
    emu.inject(status=429, count=1, match="projects/rel-after/", retry_after=0.4)
    with session_for(emu, key_file) as session:
        session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'rel-after'")
    first, second = sent(emu, "projects/rel-after/")
    assert (first["status"], second["status"]) == (429, 200)
    assert second["start"] - first["end"] >= 0.38


def test_a_stuck_response_is_given_up_and_retried_before_the_deadline(emu, key_file):
    emu.populate("ml", "projects/rel-stuck/jobs", 3)
    emu.inject(delay_ms=1500, count=1, match="projects/rel-stuck/")
    with session_for(emu, key_file, timeout=2.0) as session:
        result = session.execute("SELECT count(*) FROM google.ml.jobs WHERE projectsId = 'rel-stuck'")
    assert result.rows == [(3,)]
    stuck, answered = sent(emu, "projects/rel-stuck/")
    # Given up after half of the 2 s deadline: the retry went out while the stuck answer was still coming
    # (the emulator may not even have finished it yet).
    assert answered["status"] == 200
    assert stuck["end"] is None or answered["start"] < stuck["end"]


def test_retries_stop_at_the_configured_count_and_name_the_partition(emu, key_file, capsys):
    emu.inject(status=503, count=10, match="projects/rel-giveup/", retry_after=0)
    done = cli(
        emu,
        key_file,
        capsys,
        "--retries",
        "2",
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'rel-giveup'",
    )
    assert done.returncode == 1
    assert done.stderr.startswith("skyql: google.ml.jobs (projectsId='rel-giveup'): HTTP 503 UNAVAILABLE")
    assert len(sent(emu, "projects/rel-giveup/")) == 3


def test_the_statement_deadline_stops_retrying(emu, key_file, capsys):
    emu.inject(status=503, count=100, match="projects/rel-deadline/", retry_after=0.3)
    done = cli(
        emu,
        key_file,
        capsys,
        "--timeout",
        "1",
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'rel-deadline'",
    )
    assert done.returncode == 1
    assert "no answer within the 1 s deadline" in done.stderr
    assert "last error: google.ml.jobs (projectsId='rel-deadline'): HTTP 503" in done.stderr
    assert (
        2 <= len(sent(emu, "projects/rel-deadline/")) <= 5
    )  # of 100 failures queued: the deadline stopped it


# -- creates are not repeated blindly ------------------------------------------------------------------------


def test_a_create_whose_answer_is_lost_is_not_sent_again_and_the_user_is_told(emu, key_file):
    where = "projects/rel-lost/locations/us-central1/hyperparameterTuningJobs"
    emu.inject(drop=True, count=1, match=f"POST /{where}")
    insert = (
        "INSERT INTO google.aiplatform.hyperparameter_tuning_jobs (projectsId, locationsId, displayName)"
        " SELECT 'rel-lost', 'us-central1', 'lost'"
    )
    with session_for(emu, key_file) as session, pytest.raises(ApiError) as err:
        session.execute(insert)
    assert "may or may not have taken effect" in str(err.value)
    assert "did not send it again" in str(err.value)
    assert len(sent(emu, where, "POST")) == 1


def test_a_create_with_a_client_chosen_id_is_sent_again_after_a_lost_answer(emu, key_file):
    emu.inject(drop=True, count=1, match="POST /v1/projects/rel-lost-id/jobs")
    insert = (
        "INSERT INTO google.ml.jobs (projectsId, jobId, trainingInput)"
        """ SELECT 'rel-lost-id', 'train_1', '{"region": "us-central1", "scaleTier": "BASIC"}'"""
    )
    with session_for(emu, key_file) as session:
        session.execute(insert)
        rows = session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'rel-lost-id'").rows
    assert [r["status"] for r in sent(emu, "/v1/projects/rel-lost-id/jobs", "POST")] == [None, 200]
    assert rows == [("train_1",)]


@pytest.mark.parametrize(
    ("resource", "method", "values", "body", "repeatable"),
    [
        ("google.ml.jobs", "create", {"projectsId": "p"}, {"jobId": "j1"}, True),  # the id is in the body
        ("google.ml.jobs", "create", {"projectsId": "p"}, {"labels": {}}, False),
        (
            "google.aiplatform.featurestores",
            "create",
            {"projectsId": "p", "locationsId": "us-central1", "featurestoreId": "f1"},
            {},
            True,
        ),  # AIP-133
        (
            "google.aiplatform.featurestores",
            "create",
            {"projectsId": "p", "locationsId": "us-central1"},
            {},
            False,
        ),
        ("google.compute.instances", "insert", {"project": "p", "zone": "z", "requestId": "r-1"}, {}, True),
        ("google.compute.instances", "insert", {"project": "p", "zone": "z"}, {"name": "vm"}, False),
        ("google.ml.jobs", "cancel", {"projectsId": "p", "jobsId": "j1"}, {}, False),
    ],
)
def test_a_post_may_be_sent_again_only_when_the_server_refuses_a_second_copy(
    resource, method, values, body, repeatable
):
    found = shared_registry().lookup(resource)
    request = build_request(found.service, found.find_method(method), values, body=body)
    assert (request.method, request.retry_safe) == ("POST", repeatable)


@pytest.mark.anyio
async def test_a_409_after_a_lost_answer_says_the_lost_attempt_probably_created_it(anyio_backend):
    attempts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        if len(attempts) == 1:
            raise httpx.ReadError("connection reset by peer", request=request)
        body = {"error": {"code": 409, "status": "ALREADY_EXISTS", "message": "Job train_1 already exists."}}
        return httpx.Response(409, json=body)

    create = Request(
        "POST",
        "https://ml.googleapis.com/v1/projects/p/jobs",
        body={"jobId": "train_1"},
        resource="google.ml.jobs",
        params={"projectsId": "p"},
        retry_safe=True,
    )
    async with Fetcher(None, FetchOptions(retries=2), transport=httpx.MockTransport(answer)) as fetcher:
        with pytest.raises(ApiError) as err:
            await fetcher.call(create)
    assert attempts == ["POST", "POST"]
    assert "ALREADY_EXISTS" in str(err.value)
    assert "an earlier attempt of this request got no answer, so that attempt most likely created it" in str(
        err.value
    )


# -- tokens --------------------------------------------------------------------------------------------------


def test_a_token_that_expires_between_statements_is_refreshed_once_for_a_whole_fan_out(emu, key_file):
    projects = [f"rel-401-{i}" for i in range(6)]
    for project in projects:
        emu.populate("ml", f"projects/{project}/jobs", 60)
    listed = ", ".join(f"'{p}'" for p in projects)
    with session_for(emu, key_file, concurrency=6, page_size=50) as session:
        session.execute(f"SELECT count(*) FROM google.ml.jobs WHERE projectsId = '{projects[0]}'")
        before = len(emu.issued_tokens)
        emu.auth.tokens[emu.issued_tokens[-1]] = 0.0  # the emulator now calls this token expired
        result = session.execute(f"SELECT count(*) FROM google.ml.jobs WHERE projectsId IN ({listed})")
    assert result.rows == [(360,)]
    assert len(emu.issued_tokens) == before + 1


# -- pagination ----------------------------------------------------------------------------------------------


def test_a_failure_on_page_7_of_20_retries_page_7_only(emu, key_file):
    emu.populate("ml", "projects/rel-page7/jobs", 200)
    emu.inject(delay_ms=1, count=6, match="projects/rel-page7/")  # pages 1-6 pass
    emu.inject(status=503, count=2, match="projects/rel-page7/", retry_after=0)
    with session_for(emu, key_file, page_size=10) as session:
        result = session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId = 'rel-page7'")
    ids = [row[0] for row in result.rows]
    assert len(ids) == 200 and len(set(ids)) == 200
    log = sent(emu, "projects/rel-page7/")
    tokens = [r["query"].get("pageToken", [None])[0] for r in log]
    assert len(log) == 22
    assert [r["status"] for r in log[6:9]] == [503, 503, 200]
    assert tokens[6] == tokens[7] == tokens[8] is not None  # the same page, three times
    assert tokens.count(None) == 1  # never started over
    assert len(set(tokens)) == 20  # no page skipped


# -- partial answers -----------------------------------------------------------------------------------------


def test_a_partition_that_keeps_failing_fails_the_statement_and_is_named(emu, key_file):
    emu.populate("ml", "projects/rel-fail-ok/jobs", 3)
    emu.inject(status=503, count=50, match="projects/rel-flaky/", retry_after=0)
    with session_for(emu, key_file, retries=2) as session, pytest.raises(ApiError) as err:
        session.execute("SELECT jobId FROM google.ml.jobs WHERE projectsId IN ('rel-fail-ok', 'rel-flaky')")
    assert str(err.value).startswith("google.ml.jobs (projectsId='rel-flaky'): HTTP 503")
    assert err.value.params == {"projectsId": "rel-flaky"}


def test_allow_partial_returns_the_rest_and_lists_what_is_missing(emu, key_file, capsys):
    emu.populate("ml", "projects/rel-partial-ok/jobs", 3)
    emu.deny("rel-denied")
    query = "SELECT jobId FROM google.ml.jobs WHERE projectsId IN ('rel-partial-ok', 'rel-denied')"
    with session_for(emu, key_file, allow_partial=True) as session:
        result = session.execute(query)
    assert len(result.rows) == 3
    assert len(result.warnings) == 1
    assert "google.ml.jobs (projectsId='rel-denied'): HTTP 403 PERMISSION_DENIED" in result.warnings[0]

    done = cli(emu, key_file, capsys, "--allow-partial", "-o", "json", query)
    assert done.returncode == 0
    assert len(json.loads(done.stdout)) == 3
    assert done.stderr.startswith(
        "skyql: warning: rows missing (--allow-partial): google.ml.jobs (projectsId='rel-denied'): HTTP 403"
    )


# -- adaptive concurrency ------------------------------------------------------------------------------------


def peak_in_flight(requests: list[dict[str, Any]]) -> int:
    events = sorted([(r["start"], 1) for r in requests] + [(r["end"], -1) for r in requests])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_repeated_429s_halve_the_requests_in_flight_for_the_rest_of_the_statement(emu, key_file):
    projects = [f"rel-rate-{i}" for i in range(24)]
    for project in projects:
        emu.populate("ml", f"projects/{project}/jobs", 2)
    listed = ", ".join(f"'{p}'" for p in projects)
    query = f"SELECT count(*) FROM google.ml.jobs WHERE projectsId IN ({listed})"
    emu.latency_ms = 60
    with session_for(emu, key_file, concurrency=8) as session:
        emu.clear_log()
        session.execute(query)
        unthrottled = peak_in_flight(sent(emu, "projects/rel-rate-"))

        emu.inject(status=429, count=8, match="projects/rel-rate-", retry_after=0)
        emu.clear_log()
        assert session.execute(query).rows == [(48,)]
    log = sent(emu, "projects/rel-rate-")
    last_429 = max(r["end"] for r in log if r["status"] == 429)
    after = [r for r in log if r["start"] > last_429]
    assert unthrottled >= 6
    assert len(after) >= 16 and peak_in_flight(after) <= 4


def test_a_429_here_and_there_does_not_slow_a_statement_down(emu, key_file, caplog):
    projects = [f"rel-sparse-{i}" for i in range(60)]
    for project in projects:
        emu.populate("ml", f"projects/{project}/jobs", 2)
    listed = ", ".join(f"'{p}'" for p in projects)
    # Seed 28 hits the 13th, 28th, 39th and 54th request of the statement: never two close together.
    emu.inject(
        status=429, count=10**6, match="projects/rel-sparse-", retry_after=0, probability=0.08, seed=28
    )
    caplog.set_level(logging.INFO, logger="skyql.fetch")
    with session_for(emu, key_file, concurrency=4) as session:
        emu.clear_log()
        result = session.execute(f"SELECT count(*) FROM google.ml.jobs WHERE projectsId IN ({listed})")
    assert result.rows == [(120,)]
    assert [r["status"] for r in sent(emu, "projects/rel-sparse-")].count(429) == 4
    assert "keeps answering 429" not in caplog.text
