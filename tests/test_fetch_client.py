"""The fetcher's HTTP behaviour, against httpx.MockTransport with a clock that does not wait."""

from __future__ import annotations

import asyncio
import datetime
import json
import random
import threading
from collections.abc import Awaitable, Callable
from contextlib import aclosing

import google.auth.credentials
import httpx
import pytest

from skyql.errors import ApiError, ConfigError
from skyql.fetch import Clock, Fetcher, FetchOptions, Page, Request
from skyql.fetch.budget import STRIKES, HostLimit
from skyql.fetch.client import MAX_EMPTY_PAGES
from skyql.registry import Registry

pytestmark = pytest.mark.anyio
BASE = "https://ml.googleapis.com/v1/projects"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock(Clock):
    """Time moves only when someone sleeps; sleeps are recorded."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


class FakeCredentials(google.auth.credentials.Credentials):
    """Issues tok-1, tok-2, ... on each refresh, and notes the thread it refreshed on."""

    def __init__(self) -> None:
        super().__init__()
        self.refreshes = 0
        self.threads: list[str] = []

    def refresh(self, request: object) -> None:
        self.refreshes += 1
        self.threads.append(threading.current_thread().name)
        self.token = f"tok-{self.refreshes}"
        self.expiry = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(hours=1)


def listing(project: str = "p", **extra: object) -> Request:
    return Request(
        "GET", f"{BASE}/{project}/jobs", resource="google.ml.jobs", params={"projectsId": project}, **extra
    )


def page_body(rows: int, token: str | None, start: int = 0) -> bytes:
    doc: dict = {"jobs": [{"jobId": f"j{start + i}"} for i in range(rows)]}
    if token:
        doc["nextPageToken"] = token
    return json.dumps(doc).encode()


def paged(pages_per_project: int, rows: int = 2) -> Handler:
    """A list API: each project has `pages_per_project` pages of `rows` jobs."""

    async def handle(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("pageToken", "0"))
        token = str(n + 1) if n + 1 < pages_per_project else None
        return httpx.Response(200, content=page_body(rows, token, start=n * rows))

    return handle


def fetcher(handler: Handler, clock: FakeClock | None = None, credentials=None, **options: object) -> Fetcher:
    return Fetcher(
        credentials,
        FetchOptions(**options),
        transport=httpx.MockTransport(handler),
        clock=clock or FakeClock(),
        rng=random.Random(0),
    )


async def collect(f: Fetcher, requests: list[Request], limit: int | None = None) -> list[Page]:
    async with f:
        return [p async for p in f.pages(requests, "t1", limit=limit)]


async def test_every_page_of_a_partition_is_yielded_in_order():
    sent = []

    async def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.params.get("pageToken"))
        return await paged(7)(request)

    pages = await collect(fetcher(handle), [listing()])
    assert [p.number for p in pages] == [1, 2, 3, 4, 5, 6, 7]
    assert sent == [None, "1", "2", "3", "4", "5", "6"]
    assert all(p.fetch_key == "t1" and p.partition == {"projectsId": "p"} for p in pages)
    rows = [job["jobId"] for p in pages for job in json.loads(p.body)["jobs"]]
    assert rows == [f"j{i}" for i in range(14)]


async def test_partitions_run_concurrently_within_the_limit():
    in_flight, peak = 0, 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        return await paged(3)(request)

    pages = await collect(fetcher(handle, concurrency=4), [listing(f"p{i}") for i in range(10)])
    assert len(pages) == 30
    assert {p.partition["projectsId"] for p in pages} == {f"p{i}" for i in range(10)}
    assert peak == 4


async def test_a_server_error_is_retried_with_growing_jittered_waits():
    calls = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 3:
            return httpx.Response(
                503, json={"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}}
            )
        return httpx.Response(200, content=page_body(1, None))

    clock = FakeClock()
    pages = await collect(fetcher(handle, clock), [listing()])
    assert len(pages) == 1 and calls == 4
    assert len(clock.sleeps) == 3
    for attempt, slept in enumerate(clock.sleeps):
        assert 0 <= slept <= 0.2 * 2**attempt


async def test_retry_after_is_honoured():
    calls = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(
                429, headers={"Retry-After": "3"}, json={"error": {"status": "RESOURCE_EXHAUSTED"}}
            )
        return httpx.Response(200, content=page_body(1, None))

    clock = FakeClock()
    await collect(fetcher(handle, clock), [listing()])
    assert clock.sleeps == [3.0]


async def test_a_failure_on_a_later_page_retries_that_page():
    sent = []

    async def handle(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken")
        sent.append(token)
        if token == "4" and sent.count("4") == 1:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return await paged(6)(request)

    pages = await collect(fetcher(handle), [listing()])
    assert [p.number for p in pages] == [1, 2, 3, 4, 5, 6]
    assert sent == [None, "1", "2", "3", "4", "4", "5"]


async def test_retries_give_up_after_the_configured_count():
    calls = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500, json={"error": {"code": 500, "status": "INTERNAL", "message": "boom"}})

    with pytest.raises(ApiError, match="HTTP 500 INTERNAL: boom") as err:
        await collect(fetcher(handle, retries=2), [listing()])
    assert calls == 3
    assert err.value.http_status == 500 and err.value.status == "INTERNAL"


async def test_a_post_is_not_retried_but_a_read_only_custom_method_is():
    calls: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503, json={"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}})

    f = fetcher(handle, retries=3)
    cancel = Request("POST", f"{BASE}/p/jobs/j:cancel", body={}, resource="google.ml.jobs")
    with pytest.raises(ApiError, match="503"):
        await f.call(cancel)
    assert len(calls) == 1
    policy = Request("POST", f"{BASE}/p/jobs/j:getIamPolicy", body={}, resource="google.ml.jobs_iam_policies")
    with pytest.raises(ApiError, match="503"):
        await f.call(policy)
    assert len(calls) == 1 + 4
    await f.aclose()


async def test_a_refused_connection_names_the_unreachable_endpoint():
    async def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    req = Request(
        "GET", "http://127.0.0.1:9/v1/projects/p/jobs", resource="google.ml.jobs", params={"projectsId": "p"}
    )
    with pytest.raises(ApiError) as err:
        await collect(fetcher(handle, retries=1), [req])
    assert "google.ml.jobs (projectsId='p'): the endpoint http://127.0.0.1:9 is unreachable" in str(err.value)


async def test_an_api_error_names_the_resource_and_partition():
    async def handle(request: httpx.Request) -> httpx.Response:
        if "/p2/" in request.url.path:
            error = {"code": 403, "message": "Permission denied on project p2", "status": "PERMISSION_DENIED"}
            return httpx.Response(403, json={"error": error})
        return await paged(2)(request)

    with pytest.raises(ApiError) as err:
        await collect(fetcher(handle), [listing("p1"), listing("p2")])
    assert str(err.value) == (
        "google.ml.jobs (projectsId='p2'): HTTP 403 PERMISSION_DENIED: Permission denied on project p2"
    )
    assert err.value.params == {"projectsId": "p2"} and err.value.resource == "google.ml.jobs"


async def test_a_non_json_error_page_is_shown_as_text():
    html = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>" + "x" * 500
    html += "</body></html>"

    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text=html, headers={"Content-Type": "text/html"})

    with pytest.raises(ApiError) as err:
        await collect(fetcher(handle, retries=0), [listing()])
    message = str(err.value)
    assert message.startswith("google.ml.jobs (projectsId='p'): HTTP 502: 502 Bad Gateway Bad Gateway xxx")
    assert len(message) < 300


async def test_partial_results_turn_a_failed_partition_into_a_warning():
    async def handle(request: httpx.Request) -> httpx.Response:
        if "/p2/" in request.url.path:
            return httpx.Response(
                404, json={"error": {"code": 404, "status": "NOT_FOUND", "message": "gone"}}
            )
        return await paged(2)(request)

    f = fetcher(handle, allow_partial=True)
    pages = await collect(f, [listing("p1"), listing("p2"), listing("p3")])
    assert {p.partition["projectsId"] for p in pages} == {"p1", "p3"}
    assert [w.params for w in f.warnings] == [{"projectsId": "p2"}]


async def test_googles_404_on_a_first_page_reads_as_no_pages_when_missing_is_ok():
    async def handle(request: httpx.Request) -> httpx.Response:
        if "/gone/" in request.url.path:
            return httpx.Response(
                404,
                json={
                    "error": {
                        "code": 404,
                        "message": "The resource was not found",
                        "errors": [{"reason": "notFound"}],
                    }
                },
            )
        return await paged(2)(request)

    f = fetcher(handle)
    async with f:
        pages = [p async for p in f.pages([listing("p1"), listing("gone")], "t1", missing_ok=True)]
    assert {p.partition["projectsId"] for p in pages} == {"p1"}
    assert [m.params for m in f.missing] == [{"projectsId": "gone"}]
    with pytest.raises(ApiError, match="HTTP 404"):  # without missing_ok (mutations, EXEC) it is an error
        await collect(fetcher(handle), [listing("gone")])


@pytest.mark.parametrize("case", ["html", "second page"])
async def test_a_404_that_is_not_googles_or_comes_mid_list_stays_an_error(case):
    async def handle(request: httpx.Request) -> httpx.Response:
        if case == "html":  # a wrong URL or endpoint: a web server's page, not Google's JSON error
            return httpx.Response(404, html="<html><body>Not Found</body></html>")
        if request.url.params.get("pageToken"):
            return httpx.Response(
                404, json={"error": {"code": 404, "status": "NOT_FOUND", "message": "gone"}}
            )
        return httpx.Response(200, content=page_body(1, "t2"))

    f = fetcher(handle, retries=0)
    with pytest.raises(ApiError, match="HTTP 404"):
        async with f:
            [p async for p in f.pages([listing()], "t1", missing_ok=True)]


async def test_a_repeated_page_token_ends_with_an_error_not_a_loop():
    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=page_body(1, "same"))

    with pytest.raises(ApiError, match="pagination did not end: page 2 repeated an earlier page token"):
        await collect(fetcher(handle), [listing()])


async def test_endless_empty_pages_end_with_an_error():
    calls = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json={"nextPageToken": f"t{calls}"})

    with pytest.raises(ApiError, match="pagination did not end: .* empty pages in a row"):
        await collect(fetcher(handle), [listing(items_key="jobs")])
    assert calls == MAX_EMPTY_PAGES + 1


async def test_a_few_empty_pages_between_full_ones_are_fine():
    async def handle(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("pageToken", "0"))
        if n == 9:
            return httpx.Response(200, content=page_body(3, None))
        return httpx.Response(200, content=page_body(0 if n % 4 else 1, str(n + 1)))

    pages = await collect(fetcher(handle), [listing(items_key="jobs")])
    assert len(pages) == 10


async def test_a_limit_stops_fetching_once_enough_rows_arrived():
    calls = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return await paged(100, rows=10)(request)

    pages = await collect(fetcher(handle, concurrency=1), [listing(items_key="jobs")], limit=25)
    assert len(pages) == 3
    assert calls <= 6  # the pages already requested when the limit was reached, no more


async def test_cancelling_the_consumer_cancels_requests_in_flight():
    started = asyncio.Event()
    cancelled = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal cancelled
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled += 1
            raise
        return httpx.Response(200, content=page_body(1, None))

    before = asyncio.all_tasks()
    f = fetcher(handle, concurrency=3)
    consumer = asyncio.create_task(collect(f, [listing(f"p{i}") for i in range(5)]))
    await started.wait()
    await asyncio.sleep(0.01)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert cancelled == 3
    assert asyncio.all_tasks() == before


async def test_leaving_the_loop_early_leaves_no_task_behind():
    before = asyncio.all_tasks()
    f = fetcher(paged(50), concurrency=4)
    async with aclosing(f.pages([listing(f"p{i}") for i in range(8)], "t1")) as pages:
        async for _ in pages:
            break
    assert asyncio.all_tasks() == before
    await f.aclose()


async def test_expired_tokens_are_refreshed_once_for_all_concurrent_requests():
    creds = FakeCredentials()
    accepted = "tok-1"

    async def handle(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)
        if request.headers.get("Authorization") != f"Bearer {accepted}":
            error = {"code": 401, "status": "UNAUTHENTICATED", "message": "expired"}
            return httpx.Response(401, json={"error": error})
        return await paged(2)(request)

    async with fetcher(handle, credentials=creds, concurrency=16) as f:
        await f.call(listing())
        accepted = "tok-2"  # the server revokes tok-1: every request in flight sees a 401
        pages = [p async for p in f.pages([listing(f"p{i}") for i in range(16)], "t1")]
    assert len(pages) == 32
    assert creds.refreshes == 2
    assert all(name != threading.current_thread().name for name in creds.threads)


async def test_a_token_that_stays_refused_is_an_auth_error():
    creds = FakeCredentials()

    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "no"}}
        )

    with pytest.raises(ApiError, match="HTTP 401 UNAUTHENTICATED: no; check the credentials") as err:
        await collect(fetcher(handle, credentials=creds), [listing()])
    assert creds.refreshes == 2  # the first token, and one refresh after the 401
    assert "tok-" not in str(err.value)


async def test_anonymous_requests_send_no_authorization_and_401_says_how_to_log_in():
    seen = []

    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(
            401, json={"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "login"}}
        )

    with pytest.raises(ApiError, match="no credentials were found; check the credentials"):
        await collect(fetcher(handle), [listing()])
    assert seen == [None]


async def test_a_token_echoed_back_by_the_server_never_reaches_the_message():
    creds = FakeCredentials()

    async def handle(request: httpx.Request) -> httpx.Response:
        echo = f"<html>denied for {request.headers['Authorization']}</html>"
        return httpx.Response(403, text=echo)

    with pytest.raises(ApiError) as err:
        await collect(fetcher(handle, credentials=creds), [listing()])
    assert "tok-1" not in str(err.value) and "[redacted]" in str(err.value)
    assert "tok-1" not in repr(err.value.params)


async def test_credentials_are_not_sent_over_plain_http_to_another_host():
    creds = FakeCredentials()
    with pytest.raises(ConfigError, match="plain http"):
        Fetcher(creds, FetchOptions(endpoint="http://10.1.2.3:8089"))
    Fetcher(creds, FetchOptions(endpoint="http://10.1.2.3:8089", insecure=True))
    Fetcher(creds, FetchOptions(endpoint="http://127.0.0.5:8089"))
    Fetcher(creds, FetchOptions(endpoint="http://[::1]:8089"))
    Fetcher(None, FetchOptions(endpoint="http://10.1.2.3:8089"))

    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    f = fetcher(handle, credentials=creds)
    with pytest.raises(ConfigError, match="http://example.com"):
        await f.call(Request("GET", "http://example.com/v1/x"))
    assert creds.refreshes == 0
    await f.aclose()


async def test_the_host_header_names_the_real_api_behind_an_override():
    seen = []

    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers["Host"]))
        return httpx.Response(200, json={"name": "x"})

    f = fetcher(handle)
    req = Request("GET", "http://127.0.0.1:8089/v1/projects/p/jobs/j", host_header="ml.googleapis.com")
    assert await f.call(req) == {"name": "x"}
    assert seen == [("127.0.0.1", "ml.googleapis.com")]
    await f.aclose()


async def test_call_returns_json_and_an_empty_body_as_an_empty_object():
    bodies = iter([b'{"done": true}', b"", b"not json at all"])

    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=next(bodies))

    f = fetcher(handle)
    assert await f.call(listing()) == {"done": True}
    assert await f.call(listing()) == {}
    with pytest.raises(ApiError, match="not JSON: not json at all"):
        await f.call(listing())
    await f.aclose()


async def test_the_deadline_stops_retries_that_would_wait_past_it():
    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, headers={"Retry-After": "120"}, json={"error": {"status": "RESOURCE_EXHAUSTED"}}
        )

    clock = FakeClock()
    with pytest.raises(ApiError, match="no answer within the 60 s deadline.*RESOURCE_EXHAUSTED"):
        await collect(fetcher(handle, clock), [listing()])
    assert clock.sleeps == []


async def test_one_deadline_is_shared_by_a_statement():
    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    clock = FakeClock()
    f = fetcher(handle, clock, timeout=10)
    with f.statement():
        await f.call(listing())
        clock.t += 11
        with pytest.raises(ApiError, match="deadline"):
            await f.call(listing())
    await f.call(listing())  # a new statement, a new deadline
    await f.aclose()


def test_a_host_halves_its_concurrency_after_repeated_429s():
    host = HostLimit("ml.googleapis.com", 16)
    for _ in range(STRIKES):
        host.throttled(0)
    assert host.limit == 8
    # 429s from requests started before the cut say nothing about the new limit.
    for _ in range(10):
        host.throttled(0)
    assert host.limit == 8
    for _ in range(STRIKES):
        host.throttled(1)
    assert host.limit == 4


async def test_a_throttled_host_gets_fewer_requests_at_once():
    in_flight, peaks = 0, []
    throttled = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, throttled
        in_flight += 1
        peaks.append(in_flight)
        await asyncio.sleep(0.002)
        in_flight -= 1
        if throttled < 8:
            throttled += 1
            return httpx.Response(
                429, headers={"Retry-After": "0"}, json={"error": {"status": "RESOURCE_EXHAUSTED"}}
            )
        return await paged(4)(request)

    pages = await collect(fetcher(handle, concurrency=8, retries=8), [listing(f"p{i}") for i in range(8)])
    assert len(pages) == 32
    assert max(peaks[:8]) == 8
    assert max(peaks[-16:]) <= 4


async def test_waiting_for_an_operation_polls_until_it_is_done():
    registry = Registry()
    aiplatform = registry.service("google", "aiplatform")
    name = "projects/p/locations/us-central1/hyperparameterTuningJobs/1/operations/42"
    polls = []

    async def handle(request: httpx.Request) -> httpx.Response:
        polls.append((str(request.url), request.headers["Host"]))
        done = len(polls) >= 3
        return httpx.Response(
            200, json={"name": name, "done": done, **({"response": {"ok": 1}} if done else {})}
        )

    clock = FakeClock()
    f = fetcher(handle, clock, endpoint="http://127.0.0.1:8089")
    final = await f.wait_operation(
        {"name": name}, aiplatform, resource="google.aiplatform.hyperparameter_tuning_jobs"
    )
    assert final["response"] == {"ok": 1}
    assert polls[0] == (f"http://127.0.0.1:8089/v1/{name}", "us-central1-aiplatform.googleapis.com")
    assert len(polls) == 3
    assert clock.sleeps == [0.5, 0.75, 1.125]
    await f.aclose()


async def test_a_failed_operation_raises_its_error():
    ml = Registry().service("google", "ml")

    async def handle(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://ml.googleapis.com/v1/projects/p/operations/op1"
        error = {"code": 9, "message": "the job is already finished"}
        return httpx.Response(200, json={"name": "projects/p/operations/op1", "done": True, "error": error})

    f = fetcher(handle)
    with pytest.raises(
        ApiError, match="operation projects/p/operations/op1 failed: FAILED_PRECONDITION: the job"
    ) as err:
        await f.wait_operation({"name": "projects/p/operations/op1"}, ml, resource="google.ml.jobs")
    assert err.value.status == "FAILED_PRECONDITION"
    await f.aclose()


async def test_an_operation_that_outlives_the_timeout_is_reported_as_still_running():
    ml = Registry().service("google", "ml")

    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"name": "projects/p/operations/op1", "done": False})

    f = fetcher(handle)
    with pytest.raises(ApiError, match="still running after 20 s"):
        await f.wait_operation({"name": "projects/p/operations/op1"}, ml, timeout=20)
    await f.aclose()


async def test_compute_operations_are_polled_through_their_self_link():
    compute = Registry().service("google", "compute")
    link = "https://compute.googleapis.com/compute/v1/projects/p/zones/z/operations/op-1"
    statuses = iter(["RUNNING", "DONE"])

    async def handle(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == link
        return httpx.Response(200, json={"name": "op-1", "status": next(statuses), "selfLink": link})

    f = fetcher(handle)
    final = await f.wait_operation({"name": "op-1", "status": "PENDING", "selfLink": link}, compute)
    assert final["status"] == "DONE"
    await f.aclose()
