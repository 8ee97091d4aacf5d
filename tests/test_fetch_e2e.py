"""The fetcher against the local emulator over loopback: real HTTP, real tokens, real pagination."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from skyql.emulator import Emulator
from skyql.errors import ApiError
from skyql.fetch import Fetcher, FetchOptions, Page, Request, build_request, load_credentials
from skyql.registry import Registry
from skyql.session import Options, Session
from tests.support import auth_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The shared emulator, left as found: no faults, no latency, no denied project of ours."""
    yield emulator
    emulator.clear_faults()
    emulator.latency_ms = 0
    for project in ("fetch-denied",):
        emulator.deny(project, denied=False)


@pytest.fixture
def creds(key_file: Path):
    return load_credentials(
        {"google": {"type": "service_account", "credentialsfilepath": str(key_file)}}, env={}
    )


def jobs_list(registry: Registry, emu: Emulator, project: str, **kwargs) -> Request:
    ml = registry.service("google", "ml")
    return build_request(
        ml, ml.resources["jobs"].find_method("list"), {"projectsId": project}, endpoint=emu.url, **kwargs
    )


def job_ids(pages: list[Page]) -> list[str]:
    return [job["jobId"] for p in pages for job in json.loads(p.body).get("jobs", [])]


def api_requests(emu: Emulator, fragment: str) -> list[dict]:
    return [r for r in emu.requests if fragment in r["path"]]


async def fetch_all(fetcher: Fetcher, requests: list[Request], limit: int | None = None) -> list[Page]:
    return [p async for p in fetcher.pages(requests, "jobs", limit=limit)]


async def test_every_page_is_read_exactly_once(registry, emu, creds):
    emu.populate("ml", "projects/fetch-paging/jobs", 523)
    async with Fetcher(creds, FetchOptions(endpoint=emu.url)) as f:
        pages = await fetch_all(f, [jobs_list(registry, emu, "fetch-paging")])
    ids = job_ids(pages)
    assert len(ids) == 523 and len(set(ids)) == 523
    assert [p.number for p in pages] == list(range(1, 12))  # the emulator caps pages at 50 rows
    sent = api_requests(emu, "/projects/fetch-paging/jobs")
    assert len(sent) == 11
    assert {r["host"] for r in sent} == {"ml.googleapis.com"}
    assert all(r["status"] == 200 for r in sent)


async def test_partitions_are_fetched_concurrently_within_the_limit(registry, emu, creds):
    projects = [f"fetch-conc-{i}" for i in range(6)]
    for project in projects:
        emu.populate("ml", f"projects/{project}/jobs", 120)
    emu.latency_ms = 30
    async with Fetcher(creds, FetchOptions(endpoint=emu.url, concurrency=4)) as f:
        pages = await fetch_all(f, [jobs_list(registry, emu, p) for p in projects])
    assert len(job_ids(pages)) == 6 * 120
    assert {p.partition["projectsId"] for p in pages} == set(projects)
    sent = [r for r in emu.requests if "/projects/fetch-conc-" in r["path"]]
    events = sorted([(r["start"], 1) for r in sent] + [(r["end"], -1) for r in sent])
    running, peak = 0, 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert 2 <= peak <= 4


async def test_a_429_with_retry_after_is_waited_out(registry, emu, creds):
    emu.populate("ml", "projects/fetch-429/jobs", 120)
    emu.inject(status=429, count=2, match="projects/fetch-429/", retry_after=0.1)
    async with Fetcher(creds, FetchOptions(endpoint=emu.url)) as f:
        pages = await fetch_all(f, [jobs_list(registry, emu, "fetch-429")])
    assert len(job_ids(pages)) == 120
    statuses = [r["status"] for r in api_requests(emu, "/projects/fetch-429/")]
    assert statuses == [429, 429, 200, 200, 200]


async def test_a_dropped_connection_mid_stream_repeats_that_page(registry, emu, creds):
    emu.populate("ml", "projects/fetch-drop/jobs", 150)
    # Faults apply in order: the first page passes (after 1 ms), the second loses its connection.
    emu.inject(delay_ms=1, count=1, match="projects/fetch-drop/")
    emu.inject(drop=True, count=1, match="projects/fetch-drop/")
    async with Fetcher(creds, FetchOptions(endpoint=emu.url)) as f:
        pages = await fetch_all(f, [jobs_list(registry, emu, "fetch-drop")])
    assert len(set(job_ids(pages))) == 150
    sent = api_requests(emu, "/projects/fetch-drop/")
    assert [r["status"] for r in sent] == [200, None, 200, 200]
    assert sent[1]["query"]["pageToken"] == sent[2]["query"]["pageToken"]


async def test_a_denied_project_fails_with_a_message_naming_it(registry, emu, creds):
    emu.populate("ml", "projects/fetch-allowed/jobs", 3)
    emu.deny("fetch-denied")
    requests = [jobs_list(registry, emu, "fetch-allowed"), jobs_list(registry, emu, "fetch-denied")]
    async with Fetcher(creds, FetchOptions(endpoint=emu.url)) as f:
        with pytest.raises(ApiError) as err:
            await fetch_all(f, requests)
    message = str(err.value)
    assert message.startswith("google.ml.jobs (projectsId='fetch-denied'): HTTP 403 PERMISSION_DENIED: ")
    assert err.value.http_status == 403 and err.value.params == {"projectsId": "fetch-denied"}
    assert not any(token in message for token in emu.issued_tokens)


async def test_partial_results_keep_the_projects_that_worked(registry, emu, creds):
    emu.populate("ml", "projects/fetch-allowed/jobs", 3)
    emu.deny("fetch-denied")
    requests = [jobs_list(registry, emu, "fetch-allowed"), jobs_list(registry, emu, "fetch-denied")]
    async with Fetcher(creds, FetchOptions(endpoint=emu.url, allow_partial=True)) as f:
        pages = await fetch_all(f, requests)
    assert {p.partition["projectsId"] for p in pages} == {"fetch-allowed"}
    assert [w.status for w in f.warnings] == ["PERMISSION_DENIED"]


async def test_an_expired_token_is_refreshed_once_for_all_requests(registry, emu, creds):
    projects = [f"fetch-401-{i}" for i in range(8)]
    for project in projects:
        emu.populate("ml", f"projects/{project}/jobs", 60)
    async with Fetcher(creds, FetchOptions(endpoint=emu.url, concurrency=8)) as f:
        await f.call(jobs_list(registry, emu, projects[0]))
        issued = len(emu.issued_tokens)
        emu.auth.tokens[creds.token] = 0.0  # the emulator now calls this token expired
        emu.clear_log()
        pages = await fetch_all(f, [jobs_list(registry, emu, p) for p in projects])
    assert len(job_ids(pages)) == 8 * 60
    assert len(emu.issued_tokens) == issued + 1
    statuses = [r["status"] for r in emu.requests if r["path"] != "/token"]
    assert 1 <= statuses.count(401) <= 8 and statuses.count(200) == 16


async def test_without_credentials_the_401_says_how_to_log_in(registry, emu):
    async with Fetcher(None, FetchOptions(endpoint=emu.url, retries=0)) as f:
        with pytest.raises(ApiError, match="HTTP 401 UNAUTHENTICATED: .*no credentials were found"):
            await fetch_all(f, [jobs_list(registry, emu, "fetch-anon")])


async def test_the_fields_projection_reaches_the_api_and_paging_still_works(registry, emu, creds):
    emu.populate("ml", "projects/fetch-fields/jobs", 120)
    request = jobs_list(registry, emu, "fetch-fields", fields=["jobId", "state"], page_size=40)
    async with Fetcher(creds, FetchOptions(endpoint=emu.url)) as f:
        pages = await fetch_all(f, [request])
    rows = [job for p in pages for job in json.loads(p.body)["jobs"]]
    assert len(rows) == 120 and len(pages) == 3
    assert all(set(job) <= {"jobId", "state"} for job in rows)


async def test_a_limit_stops_reading_pages(registry, emu, creds):
    emu.populate("ml", "projects/fetch-limit/jobs", 1000)
    async with Fetcher(creds, FetchOptions(endpoint=emu.url, concurrency=1)) as f:
        pages = await fetch_all(f, [jobs_list(registry, emu, "fetch-limit")], limit=120)
    assert len(pages) == 3
    assert len(api_requests(emu, "/projects/fetch-limit/")) < 20


async def test_an_unreachable_endpoint_is_named(registry):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    ml = registry.service("google", "ml")
    request = build_request(
        ml, ml.resources["jobs"].find_method("list"), {"projectsId": "p"}, endpoint=endpoint
    )
    async with Fetcher(None, FetchOptions(endpoint=endpoint, retries=1)) as f:
        with pytest.raises(ApiError, match=f"the endpoint {endpoint} is unreachable"):
            await fetch_all(f, [request])


async def test_a_long_running_delete_is_awaited_at_the_regional_host(registry, emu, creds):
    ai = registry.service("google", "aiplatform")
    jobs = ai.resources["hyperparameter_tuning_jobs"]
    where = {"projectsId": "fetch-lro", "locationsId": "us-central1"}
    emu.populate("aiplatform", "projects/fetch-lro/locations/us-central1/hyperparameterTuningJobs", 2)
    async with Fetcher(creds, FetchOptions(endpoint=emu.url)) as f:
        listing = await f.call(build_request(ai, jobs.find_method("list"), where, endpoint=emu.url))
        job_id = listing["hyperparameterTuningJobs"][0]["name"].rsplit("/", 1)[-1]
        delete = build_request(
            ai, jobs.find_method("delete"), {**where, "hyperparameterTuningJobsId": job_id}, endpoint=emu.url
        )
        operation = await f.call(delete)
        emu.clear_log()
        final = await f.wait_operation(operation, ai, resource=jobs.id, params=delete.params)
    assert final["done"] is True and "error" not in final
    polls = api_requests(emu, "/operations/")
    assert polls and {r["host"] for r in polls} == {"us-central1-aiplatform.googleapis.com"}
    assert polls[0]["path"] == f"/v1/{operation['name']}"


async def test_cancelling_a_fetch_leaves_nothing_running(registry, emu, creds):
    projects = [f"fetch-cancel-{i}" for i in range(4)]
    for project in projects:
        emu.populate("ml", f"projects/{project}/jobs", 200)
    emu.latency_ms = 50
    before = asyncio.all_tasks()
    async with Fetcher(creds, FetchOptions(endpoint=emu.url)) as f:
        task = asyncio.create_task(fetch_all(f, [jobs_list(registry, emu, p) for p in projects]))
        await asyncio.sleep(0.08)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert asyncio.all_tasks() == before


def test_answers_come_gzipped_the_way_google_serves_them_and_read_the_same(emulator, key_file, access_token):
    emulator.populate("ml", "projects/gzip-e2e/jobs", 5)
    query = "SELECT jobId, state, labels FROM google.ml.jobs WHERE projectsId = 'gzip-e2e' ORDER BY jobId"
    options = Options(auth=auth_for(key_file), endpoints={"google": emulator.url}, page_size=2)
    answers = {}
    try:
        for gzipped in (False, True):
            emulator.gzip = gzipped
            emulator.clear_log()
            with Session(options) as session:
                answers[gzipped] = session.execute(query).rows
            pages = [r for r in emulator.requests if r["path"] == "/v1/projects/gzip-e2e/jobs"]
            assert len(pages) >= 3
            assert all(r.get("encoding") == ("gzip" if gzipped else None) for r in pages)
        # A client that does not say gzip in its User-Agent gets plain JSON, as from Google.
        plain = httpx.get(
            f"{emulator.url}/v1/projects/gzip-e2e/jobs",
            headers={"Authorization": f"Bearer {access_token}", "Accept-Encoding": "gzip"},
        )
        assert plain.status_code == 200 and "content-encoding" not in plain.headers
    finally:
        emulator.gzip = False
    assert answers[True] == answers[False] and len(answers[True]) == 5
