"""The emulator over plain HTTP: Google's error format, bad input, auth, faults, partial responses, routing."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from skyql.emulator import Emulator

JOBS = "/v1/projects/demo-project/jobs"
HP_JOBS = "/v1/projects/demo-project/locations/us-central1/hyperparameterTuningJobs"


@pytest.fixture
def client(emulator, access_token):
    with httpx.Client(
        base_url=emulator.url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    ) as c:
        yield c


@pytest.fixture
def faults(emulator):
    yield emulator
    emulator.clear_faults()


def google_error(resp: httpx.Response, code: int, status: str) -> dict:
    """Assert the body is exactly Google's error shape; return the error object."""
    assert resp.status_code == code, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "status", "details"}
    assert (err["code"], err["status"]) == (code, status)
    assert err["message"] and "Traceback" not in err["message"]
    assert err["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    return err


# ----- bad input -------------------------------------------------------------------------------------


def test_malformed_json_body_is_a_400_invalid_argument(client):
    google_error(client.post(JOBS, content=b'{"jobId": '), 400, "INVALID_ARGUMENT")


def test_a_body_field_the_schema_lacks_is_a_400_naming_it(client):
    err = google_error(client.post(JOBS, json={"jobId": "x1", "colour": "red"}), 400, "INVALID_ARGUMENT")
    assert '"colour"' in err["message"]


def test_an_unknown_path_is_a_404_not_found(client):
    google_error(client.get("/v1/projects/demo-project/nothingHere/at/all"), 404, "NOT_FOUND")


def test_a_wrong_http_verb_on_a_known_path_is_a_404_naming_the_verbs_that_work(client):
    err = google_error(client.delete(f"{JOBS}/some-job"), 404, "NOT_FOUND")
    assert "GET" in err["message"] and "PATCH" in err["message"]


def test_an_unsupported_http_verb_is_a_google_format_501(client):
    google_error(client.request("PROPFIND", JOBS), 501, "UNIMPLEMENTED")


def test_a_huge_page_size_is_capped_and_a_negative_one_is_a_400(emulator, client):
    emulator.populate("ml", "projects/http-paging/jobs", 60)
    page = client.get("/v1/projects/http-paging/jobs", params={"pageSize": 10**9}).json()
    assert len(page["jobs"]) == 50 and page["nextPageToken"]
    google_error(client.get(JOBS, params={"pageSize": -1}), 400, "INVALID_ARGUMENT")
    google_error(client.get(JOBS, params={"pageSize": "lots"}), 400, "INVALID_ARGUMENT")


def test_a_bad_or_foreign_page_token_is_a_400(emulator, client):
    google_error(client.get(JOBS, params={"pageToken": "not-a-token"}), 400, "INVALID_ARGUMENT")
    emulator.populate("ml", "projects/http-token/jobs", 3)
    token = client.get("/v1/projects/http-token/jobs", params={"pageSize": 1}).json()["nextPageToken"]
    google_error(client.get(JOBS, params={"pageToken": token}), 400, "INVALID_ARGUMENT")


def test_an_unknown_query_parameter_is_a_400_as_google_answers(client):
    err = google_error(client.get(JOBS, params={"pageSise": 5}), 400, "INVALID_ARGUMENT")
    assert "pageSise" in err["message"]


def test_a_request_line_that_is_not_http_gets_a_json_400_and_the_connection_closes(emulator):
    host, port = emulator.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"this is not http\r\n\r\n")
        data = sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error"]["status"] == "INVALID_ARGUMENT"


def test_a_wrong_content_length_is_a_400_not_a_hang(emulator):
    host, port = emulator.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /v1/projects/p/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: nine\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400")


# ----- list, get, patch, fields, filter -----------------------------------------------------------------


def test_fields_gives_a_partial_response(client):
    resp = client.get(
        HP_JOBS, params={"pageSize": 2, "fields": "nextPageToken,hyperparameterTuningJobs(name,state)"}
    )
    body = resp.json()
    assert set(body) == {"nextPageToken", "hyperparameterTuningJobs"}
    assert all(set(j) == {"name", "state"} for j in body["hyperparameterTuningJobs"])
    google_error(
        client.get(HP_JOBS, params={"fields": "hyperparameterTuningJobs(colour)"}), 400, "INVALID_ARGUMENT"
    )


def test_a_masked_list_page_is_the_full_page_masked_and_follows_changes(client):
    full = client.get(HP_JOBS, params={"pageSize": 3}).json()
    mask = "nextPageToken,hyperparameterTuningJobs(displayName,studySpec/metrics)"
    masked = client.get(HP_JOBS, params={"pageSize": 3, "fields": mask}).json()
    assert masked["nextPageToken"] == full["nextPageToken"]
    assert masked["hyperparameterTuningJobs"] == [
        {"displayName": j["displayName"], "studySpec": {"metrics": j["studySpec"]["metrics"]}}
        for j in full["hyperparameterTuningJobs"]
    ]
    # Without nextPageToken in the mask there is none, as on Google; with no items selected, only the token.
    assert (
        "nextPageToken"
        not in client.get(HP_JOBS, params={"pageSize": 3, "fields": "hyperparameterTuningJobs(name)"}).json()
    )
    assert client.get(HP_JOBS, params={"pageSize": 3, "fields": "nextPageToken"}).json() == {
        "nextPageToken": full["nextPageToken"]
    }


def test_a_changed_item_is_masked_afresh_in_list_pages(emulator, client):
    emulator.populate("ml", "projects/mask-afresh/jobs", 2)
    jobs, mask = "/v1/projects/mask-afresh/jobs", "jobs(jobId,labels)"
    job_id = client.get(jobs, params={"pageSize": 1, "fields": mask}).json()["jobs"][0]["jobId"]
    patched = client.patch(
        f"{jobs}/{job_id}", params={"updateMask": "labels"}, json={"labels": {"team": "masked-afresh"}}
    )
    assert patched.status_code == 200, patched.text
    again = client.get(jobs, params={"pageSize": 1, "fields": mask}).json()["jobs"][0]
    assert again == {"jobId": job_id, "labels": {"team": "masked-afresh"}}


def test_filter_selects_items_as_the_api_would(client):
    everything = client.get(JOBS).json()["jobs"]
    state = everything[0]["state"]
    filtered = client.get(JOBS, params={"filter": f"state={state}"}).json()["jobs"]
    assert filtered and all(j["state"] == state for j in filtered)
    assert len(filtered) == sum(1 for j in everything if j["state"] == state)
    google_error(client.get(JOBS, params={"filter": "state = ("}), 400, "INVALID_ARGUMENT")


def test_an_empty_collection_lists_as_an_empty_object(client):
    resp = client.get("/v1/projects/nobody-home/jobs")
    assert resp.status_code == 200 and resp.json() == {}


def test_patch_with_an_unknown_mask_field_is_a_400_and_changes_nothing(client):
    job = client.get(JOBS).json()["jobs"][0]
    url = f"{JOBS}/{job['jobId']}"
    google_error(
        client.patch(url, params={"updateMask": "labels,nonsense"}, json={"labels": {}}),
        400,
        "INVALID_ARGUMENT",
    )
    google_error(
        client.patch(url, json={"labels": {"a": "b"}}), 400, "INVALID_ARGUMENT"
    )  # ml requires a mask
    assert client.get(url).json() == job


def test_the_python_api_adds_items_verbatim(emulator, client):
    item = emulator.add("ml", "projects/http-add/jobs", {"jobId": "mine", "state": "RUNNING"})
    assert item == {"jobId": "mine", "state": "RUNNING"}
    assert client.get("/v1/projects/http-add/jobs/mine").json() == item


def test_the_host_header_picks_the_service_when_paths_are_shared(client):
    # `v1/projects/p/locations` exists in well over a hundred services; the Host names the one meant.
    resp = client.get("/v1/projects/demo-project/locations", headers={"Host": "cloudkms.googleapis.com"})
    assert resp.status_code == 200
    regional = client.get(HP_JOBS, headers={"Host": "us-central1-aiplatform.googleapis.com"})
    assert len(regional.json()["hyperparameterTuningJobs"]) == 5
    wrong = client.get(HP_JOBS, headers={"Host": "ml.googleapis.com"})
    google_error(wrong, 404, "NOT_FOUND")


def test_the_request_log_records_each_call(emulator, client):
    emulator.clear_log()
    client.post(JOBS, params={"alt": "json"}, json={"jobId": "logged_job"})
    (entry,) = emulator.requests
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", JOBS, 200)
    assert entry["query"] == {"alt": ["json"]}
    assert entry["body"] == {"jobId": "logged_job"}
    assert entry["start"] <= entry["end"]


# ----- auth --------------------------------------------------------------------------------------------


def test_a_call_without_a_token_is_a_401_unauthenticated(emulator):
    resp = httpx.get(f"{emulator.url}{JOBS}")
    google_error(resp, 401, "UNAUTHENTICATED")
    assert resp.headers["www-authenticate"].startswith("Bearer")
    resp = httpx.get(f"{emulator.url}{JOBS}", headers={"Authorization": "Bearer ya29.made-up"})
    google_error(resp, 401, "UNAUTHENTICATED")


def test_the_token_endpoint_verifies_the_jwt_signature(emulator):
    from google.auth import crypt, jwt

    now = int(time.time())
    claims = {
        "iss": "x@demo-project.iam.gserviceaccount.com",
        "aud": f"{emulator.url}/token",
        "iat": now,
        "exp": now + 600,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
    }
    good = jwt.encode(crypt.RSASigner.from_service_account_info(emulator.key_info), claims).decode()
    stranger_key = Emulator().key_info  # a key this emulator did not make
    forged = jwt.encode(crypt.RSASigner.from_service_account_info(stranger_key), claims).decode()
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    ok = httpx.post(f"{emulator.url}/token", data={"grant_type": grant, "assertion": good})
    assert ok.status_code == 200 and ok.json()["token_type"] == "Bearer"
    assert ok.json()["access_token"] in emulator.issued_tokens
    bad = httpx.post(f"{emulator.url}/token", data={"grant_type": grant, "assertion": forged})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    tampered = good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB")
    assert (
        httpx.post(f"{emulator.url}/token", data={"grant_type": grant, "assertion": tampered}).status_code
        == 400
    )


def test_an_expired_token_is_refused():
    with Emulator(token_ttl=0.2) as emu:
        from google.auth.transport.requests import Request
        from google.oauth2 import service_account

        creds = service_account.Credentials.from_service_account_info(emu.key_info, scopes=["x"])
        creds.refresh(Request())
        headers = {"Authorization": f"Bearer {creds.token}"}
        assert httpx.get(f"{emu.url}{JOBS}", headers=headers).status_code == 200
        time.sleep(0.3)
        google_error(httpx.get(f"{emu.url}{JOBS}", headers=headers), 401, "UNAUTHENTICATED")


def test_a_denied_project_gets_403_permission_denied(emulator, client):
    emulator.deny("locked-project")
    try:
        err = google_error(client.get("/v1/projects/locked-project/jobs"), 403, "PERMISSION_DENIED")
        assert "ml.jobs.list" in err["message"]
        assert client.get(JOBS).status_code == 200
    finally:
        emulator.deny("locked-project", denied=False)


# ----- faults -------------------------------------------------------------------------------------------


def test_injected_429s_carry_retry_after_and_then_stop(faults, client):
    faults.inject(status=429, count=2, match="/jobs", retry_after=3)
    for _ in range(2):
        resp = client.get(JOBS)
        google_error(resp, 429, "RESOURCE_EXHAUSTED")
        assert resp.headers["retry-after"] == "3"
    assert client.get(JOBS).status_code == 200


def test_injected_503_and_500_use_googles_statuses(faults, client):
    faults.inject(status=503, count=1)
    faults.inject(status=500, count=1)
    google_error(client.get(JOBS), 503, "UNAVAILABLE")
    google_error(client.get(JOBS), 500, "INTERNAL")


def test_an_injected_drop_closes_the_connection_without_an_answer(faults, client):
    faults.inject(drop=True, count=1)
    with pytest.raises(httpx.TransportError):
        client.get(JOBS)
    assert client.get(JOBS).status_code == 200


def test_an_injected_delay_slows_only_the_matching_request(faults, client):
    faults.inject(delay_ms=300, count=1, match="hyperparameterTuningJobs")
    # Only lower bounds are timed (a loaded machine can't make them fail): had the other request taken the
    # one delay, the matching request would not be delayed.
    assert client.get(JOBS).status_code == 200
    start = time.perf_counter()
    assert client.get(HP_JOBS).status_code == 200
    assert time.perf_counter() - start >= 0.3


def test_an_operation_can_be_made_to_fail(faults, client):
    name = client.get(HP_JOBS).json()["hyperparameterTuningJobs"][-1]["name"]
    faults.inject(status=500, count=1, match="DELETE hyperparameterTuningJobs", in_operation=True)
    op = client.delete(f"/v1/{name}").json()
    while not op.get("done"):
        op = client.get(f"/v1/{op['name']}").json()
    assert op["error"]["code"] == 13 and "response" not in op


def test_the_control_endpoint_drives_faults_and_population(emulator, client):
    resp = httpx.post(
        f"{emulator.url}/_emulator/faults", json={"status": 503, "count": 1, "match": "ctl-proj"}
    )
    assert resp.json()["faults"][0]["status"] == 503
    assert httpx.post(
        f"{emulator.url}/_emulator/populate",
        json={"service": "ml", "collection": "projects/ctl-proj/jobs", "count": 7},
    ).json() == {"count": 7}
    google_error(client.get("/v1/projects/ctl-proj/jobs"), 503, "UNAVAILABLE")
    assert len(client.get("/v1/projects/ctl-proj/jobs").json()["jobs"]) == 7
    log = httpx.get(f"{emulator.url}/_emulator/log").json()["requests"]
    assert log[-1]["path"] == "/v1/projects/ctl-proj/jobs"
    bad = httpx.post(
        f"{emulator.url}/_emulator/populate", json={"service": "ml", "collection": "nope", "count": 1}
    )
    google_error(bad, 400, "INVALID_ARGUMENT")


# ----- determinism -----------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    def snapshot(seed: int) -> list:
        with Emulator(seed=seed, require_auth=False) as emu:
            return [httpx.get(f"{emu.url}{path}").json() for path in (JOBS, HP_JOBS)]

    first = snapshot(7)
    assert snapshot(7) == first
    assert snapshot(8) != first
    assert len(first[0]["jobs"]) == 5


@pytest.mark.parametrize("service", ["ml", "aiplatform"])
def test_every_method_of_a_service_answers_in_googles_format_never_a_5xx(service):
    from skyql.registry import Registry

    svc = Registry().service("google", service)
    host = svc.root_url.split("/")[2]
    statuses = set()
    with Emulator(require_auth=False) as emu, httpx.Client(base_url=emu.url, timeout=10) as c:
        for res in svc.resources.values():
            for m in res.methods.values():
                path = svc.service_path + m.path
                for p in m.path_params:
                    value = {"projectsId": "demo-project", "locationsId": "us-central1"}.get(p.name, "x1")
                    path = path.replace("{" + p.name + "}", value)
                body = {} if m.http_method in ("POST", "PUT", "PATCH") else None
                resp = c.request(m.http_method, f"/{path}", json=body, headers={"Host": host})
                assert resp.status_code < 500, (m.discovery_id, resp.text)
                assert isinstance(resp.json(), dict)
                if resp.status_code >= 400:
                    google_error(resp, resp.status_code, resp.json()["error"]["status"])
                statuses.add(resp.status_code)
    assert {200, 404} <= statuses
