"""The official google-api-python-client, pointed at the emulator, gets the answers Google would give."""

from __future__ import annotations

import pytest
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.conftest import CLOUD_PLATFORM

PROJECT = "client-tests"


@pytest.fixture
def credentials(key_file):
    return service_account.Credentials.from_service_account_file(str(key_file), scopes=[CLOUD_PLATFORM])


@pytest.fixture
def ml(emulator, credentials):
    return build(
        "ml",
        "v1",
        credentials=credentials,
        client_options={"api_endpoint": emulator.url},
        static_discovery=True,
        cache_discovery=False,
    )


@pytest.fixture
def aiplatform(emulator, credentials):
    return build(
        "aiplatform",
        "v1",
        credentials=credentials,
        client_options={"api_endpoint": emulator.url},
        static_discovery=True,
        cache_discovery=False,
    )


def test_list_next_pages_through_every_job_under_the_server_page_cap(emulator, ml):
    emulator.populate("ml", f"projects/{PROJECT}-list/jobs", 120)
    jobs = ml.projects().jobs()
    request = jobs.list(parent=f"projects/{PROJECT}-list", pageSize=1000)
    ids, pages = [], 0
    while request is not None:
        response = request.execute()
        assert len(response["jobs"]) <= 50  # the server caps pages, so clients must follow tokens
        ids += [j["jobId"] for j in response["jobs"]]
        pages += 1
        request = jobs.list_next(request, response)
    assert pages == 3
    assert len(ids) == len(set(ids)) == 120


def test_an_ml_job_is_created_read_patched_and_cancelled(ml):
    jobs = ml.projects().jobs()
    body = {
        "jobId": "census_1",
        "labels": {"team": "a"},
        "trainingInput": {"region": "us-central1", "scaleTier": "BASIC"},
    }
    created = jobs.create(parent=f"projects/{PROJECT}", body=body).execute()
    assert created["jobId"] == "census_1"
    assert created["state"] == "QUEUED"
    assert created["createTime"].endswith("Z")
    assert created["etag"]

    name = f"projects/{PROJECT}/jobs/census_1"
    assert jobs.get(name=name).execute()["trainingInput"] == body["trainingInput"]

    patched = jobs.patch(
        name=name,
        updateMask="labels",
        body={"labels": {"owner": "me"}, "trainingInput": {"region": "elsewhere"}},
    ).execute()
    assert patched["labels"] == {"owner": "me"}
    assert patched["trainingInput"]["region"] == "us-central1"  # not in the mask: unchanged
    assert patched["etag"] != created["etag"]

    assert jobs.cancel(name=name, body={}).execute() == {}
    assert jobs.get(name=name).execute()["state"] == "CANCELLING"


def test_creating_a_job_twice_is_a_409_and_a_missing_required_field_a_400(ml):
    jobs = ml.projects().jobs()
    jobs.create(parent=f"projects/{PROJECT}", body={"jobId": "twice"}).execute()
    with pytest.raises(HttpError) as err:
        jobs.create(parent=f"projects/{PROJECT}", body={"jobId": "twice"}).execute()
    assert err.value.status_code == 409
    with pytest.raises(HttpError) as err:
        jobs.create(parent=f"projects/{PROJECT}", body={"labels": {"a": "b"}}).execute()
    assert err.value.status_code == 400
    assert "jobId" in err.value.reason


def test_getting_a_missing_job_is_a_404_with_googles_error_body(ml):
    with pytest.raises(HttpError) as err:
        ml.projects().jobs().get(name=f"projects/{PROJECT}/jobs/nope").execute()
    assert err.value.status_code == 404
    assert err.value.error_details[0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"


def test_iam_policy_round_trips_with_etag_checks(ml):
    jobs = ml.projects().jobs()
    jobs.create(parent=f"projects/{PROJECT}", body={"jobId": "iam_job"}).execute()
    resource = f"projects/{PROJECT}/jobs/iam_job"
    policy = jobs.getIamPolicy(resource=resource).execute()
    assert policy["version"] == 1 and policy["etag"] and len(policy["bindings"]) == 2

    policy["bindings"].append({"role": "roles/ml.developer", "members": ["user:dev@example.com"]})
    stored = jobs.setIamPolicy(resource=resource, body={"policy": policy}).execute()
    assert stored["etag"] != policy["etag"]
    assert jobs.getIamPolicy(resource=resource).execute() == stored

    with pytest.raises(HttpError) as err:  # the old etag is stale now
        jobs.setIamPolicy(resource=resource, body={"policy": policy}).execute()
    assert err.value.status_code == 409

    granted = jobs.testIamPermissions(
        resource=resource, body={"permissions": ["ml.jobs.get", "ml.jobs.cancel"]}
    ).execute()
    assert granted == {"permissions": ["ml.jobs.get", "ml.jobs.cancel"]}


def test_aiplatform_lists_the_default_population_of_demo_project(aiplatform):
    hp = aiplatform.projects().locations().hyperparameterTuningJobs()
    listed = hp.list(parent="projects/demo-project/locations/europe-west4").execute()
    jobs = listed["hyperparameterTuningJobs"]
    assert len(jobs) == 5
    for job in jobs:
        assert job["name"].startswith(
            "projects/demo-project/locations/europe-west4/hyperparameterTuningJobs/"
        )
        assert job["name"].rsplit("/", 1)[1].isdigit()
        assert job["state"].startswith("JOB_STATE_") and job["state"] != "JOB_STATE_UNSPECIFIED"
    assert len({j["state"] for j in jobs}) > 1
    assert hp.get(name=jobs[0]["name"]).execute() == jobs[0]


def test_aiplatform_create_assigns_a_numeric_id_and_delete_returns_an_operation_that_finishes(
    emulator, aiplatform
):
    hp = aiplatform.projects().locations().hyperparameterTuningJobs()
    parent = f"projects/{PROJECT}/locations/us-central1"
    body = {
        "displayName": "tune",
        "maxTrialCount": 4,
        "parallelTrialCount": 2,
        "studySpec": {"metrics": [{"metricId": "loss", "goal": "MINIMIZE"}]},
        "trialJobSpec": {
            "workerPoolSpecs": [{"machineSpec": {"machineType": "n1-standard-4"}, "replicaCount": "1"}]
        },
    }
    created = hp.create(parent=parent, body=body).execute()
    assert created["name"].startswith(f"{parent}/hyperparameterTuningJobs/")
    assert created["name"].rsplit("/", 1)[1].isdigit()
    assert created["state"] == "JOB_STATE_QUEUED"

    operation = hp.delete(name=created["name"]).execute()
    assert operation["name"].startswith(f"{parent}/operations/")
    assert not operation.get("done")
    operations = aiplatform.projects().locations().operations()
    polls = 0
    while not operation.get("done"):
        operation = operations.get(name=operation["name"]).execute()
        polls += 1
    assert polls == emulator.config.operation_polls
    assert operation["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
    with pytest.raises(HttpError) as err:
        hp.get(name=created["name"]).execute()
    assert err.value.status_code == 404


def test_cancel_moves_an_aiplatform_job_to_cancelling(aiplatform):
    hp = aiplatform.projects().locations().hyperparameterTuningJobs()
    parent = f"projects/{PROJECT}/locations/asia-east1"
    created = hp.create(
        parent=parent,
        body={
            "displayName": "c",
            "maxTrialCount": 1,
            "parallelTrialCount": 1,
            "studySpec": {},
            "trialJobSpec": {},
        },
    ).execute()
    assert hp.cancel(name=created["name"], body={}).execute() == {}
    assert hp.get(name=created["name"]).execute()["state"] == "JOB_STATE_CANCELLING"
