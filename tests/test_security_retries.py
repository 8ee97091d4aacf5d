"""A create is sent again after a lost answer only when the registry knows the server refuses a second copy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from skyql.emulator import Emulator
from skyql.emulator.emulator import shared_registry
from skyql.emulator.routing import singular
from skyql.errors import ApiError
from skyql.fetch import build_request
from skyql.registry.model import Method, Service
from skyql.session import Options, Session
from tests.support import auth_for

# Query parameters of creates that name another resource, never the new one (issue 13's findings and kin).
FOREIGN_IDS = {
    "projectId",
    "customerId",
    "externalId",
    "replaceJobId",
    "feedId",
    "parentId",
    "postId",
    "itemId",
    "productId",
    "sourceSkuId",
    "channelId",
    "externalChannelId",
    "clientOperationId",
}


def every_method() -> Iterator[tuple[Service, Method]]:
    registry = shared_registry()
    provider = registry.provider("google")
    for name in provider.service_index:
        service = provider.service(name)
        for resource in service.resources.values():
            for method in resource.methods.values():
                yield service, method


@pytest.fixture(scope="module")
def methods() -> list[tuple[Service, Method]]:
    return list(every_method())


def by_discovery_id(methods: list[tuple[Service, Method]], discovery_id: str) -> tuple[Service, Method]:
    return next((s, m) for s, m in methods if m.discovery_id == discovery_id)


def names_its_collection(discovery_id: str, key: str) -> bool:
    """`featurestoreId` for featurestores.create, `tensorboardExperimentId` for ...experiments.create."""
    collection, stem = discovery_id.split(".")[-2], key.removesuffix("Id").lower()
    readings = {collection, singular(collection), collection.removesuffix("es")}
    return any(stem.endswith(own.lower()) or own.lower().endswith(stem) for own in readings)


def test_no_create_in_the_registry_is_retried_on_the_strength_of_another_resources_id(methods):
    marked = [
        (m.discovery_id, name)
        for _, m in methods
        for _, name in m.idempotency_keys
        if name != "requestId" and not names_its_collection(m.discovery_id, name)
    ]
    assert marked == []
    foreign = [
        (m.discovery_id, name)
        for _, m in methods
        for _, name in m.idempotency_keys
        if name in FOREIGN_IDS and not names_its_collection(m.discovery_id, name)
    ]
    assert foreign == []
    creates = [m for _, m in methods if m.http_method == "POST" and m.sql_verb == "INSERT"]
    safe = [m for m in creates if m.idempotency_keys]
    # The rule still recognises the common cases: most AIP-133 creates name their object.
    assert len(safe) > 600 and len(safe) < len(creates)
    for _, m in methods:
        for where, name in m.idempotency_keys:
            assert m.http_method == "POST"
            assert where == "body" or m.param(name) is not None, m.discovery_id


@pytest.mark.parametrize(
    ("discovery_id", "values"),
    [
        ("androidmanagement.enterprises.create", {"projectId": "p"}),
        ("alertcenter.alerts.feedback.create", {"alertId": "a", "customerId": "c"}),
        (
            "assuredworkloads.organizations.locations.workloads.create",
            {"organizationsId": "o", "locationsId": "us", "externalId": "x"},
        ),
        ("dataflow.projects.jobs.create", {"projectId": "p", "replaceJobId": "j"}),
        ("content.products.insert", {"merchantId": "1", "feedId": "2"}),
    ],
)
def test_a_create_that_names_another_resource_is_never_sent_twice(methods, discovery_id, values):
    service, method = by_discovery_id(methods, discovery_id)
    assert build_request(service, method, values, body={}).retry_safe is False


@pytest.mark.parametrize(
    ("discovery_id", "values", "body"),
    [
        (
            "aiplatform.projects.locations.hyperparameterTuningJobs.create",
            {"projectsId": "p", "locationsId": "us-central1"},
            {},
        ),
        (
            "aiplatform.projects.locations.featurestores.create",
            {"projectsId": "p", "locationsId": "us-central1", "featurestoreId": "f"},
            {},
        ),
        (
            "aiplatform.projects.locations.tensorboards.experiments.create",
            {"projectsId": "p", "locationsId": "l", "tensorboardsId": "t", "tensorboardExperimentId": "e"},
            {},
        ),
        (
            "alloydb.projects.locations.clusters.create",
            {"projectsId": "p", "locationsId": "l", "clusterId": "c"},
            {},
        ),
        ("compute.instances.insert", {"project": "p", "zone": "z", "requestId": "r-1"}, {}),
        ("ml.projects.jobs.create", {"projectsId": "p"}, {"jobId": "j"}),
    ],
)
def test_a_create_that_names_its_own_object_or_carries_a_request_id_may_be_sent_again(
    methods, discovery_id, values, body
):
    service, method = by_discovery_id(methods, discovery_id)
    expected = bool(set(values) & {name for _, name in method.idempotency_keys} or body)
    assert build_request(service, method, values, body=body).retry_safe is expected


# -- end to end ----------------------------------------------------------------------------------------------


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    yield emulator
    emulator.clear_faults()


def posts(emu: Emulator, fragment: str) -> list[dict[str, Any]]:
    return [r for r in emu.requests if r["method"] == "POST" and fragment in r["path"]]


def test_a_create_with_a_foreign_id_whose_answer_times_out_is_sent_once_and_the_user_is_told(emu, key_file):
    emu.inject(delay_ms=2500, count=1, match="POST /v1/enterprises")
    insert = "INSERT INTO google.androidmanagement.enterprises (projectId, enterpriseDisplayName) SELECT 'sec-timeout', 'e'"
    before = len(posts(emu, "/v1/enterprises"))
    options = Options(auth=auth_for(key_file), endpoints={"google": emu.url}, timeout=1.0)
    with Session(options) as session, pytest.raises(ApiError) as err:
        session.execute(insert)
    assert len(posts(emu, "/v1/enterprises")) - before == 1
    message = str(err.value)
    assert "may or may not have taken effect" in message and "did not send it again" in message


def test_the_emulator_makes_a_new_object_for_each_create_that_names_another_resource(emu, key_file):
    insert = "INSERT INTO google.androidmanagement.enterprises (projectId, enterpriseDisplayName) SELECT 'sec-twice', 'e'"
    with Session(Options(auth=auth_for(key_file), endpoints={"google": emu.url})) as session:
        first = session.execute(insert)
        second = session.execute(insert)  # as at Google: a second enterprise, not 409 ALREADY_EXISTS
    assert first.rowcount == second.rowcount == 1
    names = [
        r["status"] for r in posts(emu, "/v1/enterprises") if r["query"].get("projectId") == ["sec-twice"]
    ]
    assert names == [200, 200]


def test_a_create_with_a_request_id_is_sent_again_and_the_emulator_carries_it_out_once(emu, key_file):
    where = "/compute/v1/projects/sec-rq/zones/us-central1-a/instances"
    select = "SELECT name FROM google.compute.instances WHERE project = 'sec-rq' AND zone = 'us-central1-a'"
    insert = (
        "INSERT INTO google.compute.instances (project, zone, requestId, name)"
        " SELECT 'sec-rq', 'us-central1-a', 'req-1', 'vm1'"
    )
    options = Options(auth=auth_for(key_file), endpoints={"google": emu.url}, timeout=6.0)
    with Session(options) as session:
        session.execute(select)  # compute's routes are built now, not while the clock below runs
        emu.inject(delay_ms=4000, count=1, match=f"POST {where}")
        session.execute(
            insert
        )  # the first answer is late: skyql gives up on it and sends the same requestId again
        for _ in range(200):  # until the emulator has finished the late first copy too
            if all(r["end"] is not None for r in posts(emu, where)):
                break
            time.sleep(0.05)
        rows = session.execute(select).rows
    assert len(posts(emu, where)) == 2
    assert len(rows) == 1
