"""Building requests: URLs with safely encoded parameters, regional endpoints, overrides, query strings."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from skyql.errors import ParameterError
from skyql.fetch import build_request
from skyql.registry import Registry
from skyql.registry.model import Method, Param, Resource, Service


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


@pytest.fixture(scope="module")
def ml(registry):
    return registry.service("google", "ml")


@pytest.fixture(scope="module")
def aiplatform(registry):
    return registry.service("google", "aiplatform")


def method(service: Service, resource: str, name: str) -> Method:
    return service.resources[resource].find_method(name)


def test_a_get_puts_each_parameter_into_its_path_segment(ml):
    req = build_request(ml, method(ml, "jobs", "get"), {"projectsId": "p1", "jobsId": "train_1"})
    assert req.method == "GET"
    assert req.url == "https://ml.googleapis.com/v1/projects/p1/jobs/train_1"
    assert req.query == ()
    assert req.resource == "google.ml.jobs"
    assert req.params == {"projectsId": "p1", "jobsId": "train_1"}
    assert req.host_header is None


def test_a_value_with_slashes_and_dots_stays_inside_one_segment(ml):
    req = build_request(ml, method(ml, "jobs", "get"), {"projectsId": "p1", "jobsId": "a/../../b"})
    assert req.url == "https://ml.googleapis.com/v1/projects/p1/jobs/a%2F..%2F..%2Fb"
    # httpx (what sends it) must not turn it back into a path that escapes the resource.
    assert httpx.URL(req.url).raw_path == b"/v1/projects/p1/jobs/a%2F..%2F..%2Fb"


@pytest.mark.parametrize("value", ["..", ".", ""])
def test_a_dot_or_empty_path_value_is_refused(ml, value):
    with pytest.raises(ParameterError, match="jobsId"):
        build_request(ml, method(ml, "jobs", "get"), {"projectsId": "p1", "jobsId": value})


def test_reserved_parameters_keep_their_slashes_but_not_dot_segments():
    svc = Service(name="things", provider="google", version="v1", root_url="https://things.googleapis.com/")
    get = Method(
        name="get",
        discovery_id="things.get",
        http_method="GET",
        path="v1/{+name}",
        params=(Param("name", "path", True, reserved=True),),
        sql_verb="SELECT",
    )
    svc.resources["things"] = Resource(name="things", service=svc, collection="things", methods={"get": get})
    req = build_request(svc, get, {"name": "projects/p 1/things/x?y"})
    assert req.url == "https://things.googleapis.com/v1/projects/p%201/things/x%3Fy"
    for bad in ("projects/../secrets", "projects/./x", "projects//x"):
        with pytest.raises(ParameterError, match="not allowed"):
            build_request(svc, get, {"name": bad})


def test_missing_required_parameters_are_all_named(aiplatform):
    get = method(aiplatform, "hyperparameter_tuning_jobs", "get")
    with pytest.raises(ParameterError) as err:
        build_request(aiplatform, get, {"projectsId": "p"})
    message = str(err.value)
    assert "locationsId" in message and "hyperparameterTuningJobsId" in message
    assert "google.aiplatform.hyperparameter_tuning_jobs.get" in message


def test_a_none_value_counts_as_missing(ml):
    with pytest.raises(ParameterError, match="jobsId"):
        build_request(ml, method(ml, "jobs", "get"), {"projectsId": "p", "jobsId": None})


def test_a_location_picks_the_regional_endpoint(aiplatform):
    listing = method(aiplatform, "hyperparameter_tuning_jobs", "list")
    req = build_request(aiplatform, listing, {"projectsId": "p", "locationsId": "us-central1"})
    assert req.url == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/hyperparameterTuningJobs"
    )
    assert req.items_key == "hyperparameterTuningJobs"


def test_a_location_without_a_regional_endpoint_uses_the_global_one(aiplatform):
    listing = method(aiplatform, "hyperparameter_tuning_jobs", "list")
    req = build_request(aiplatform, listing, {"projectsId": "p", "locationsId": "global"})
    assert urlsplit(req.url).hostname == "aiplatform.googleapis.com"


def test_data_residency_endpoints_are_not_chosen_automatically(registry, aiplatform):
    # aiplatform's 'us' endpoint is a pre-production .rep. host; compute's regions only have .rep. hosts.
    listing = method(aiplatform, "hyperparameter_tuning_jobs", "list")
    req = build_request(aiplatform, listing, {"projectsId": "p", "locationsId": "us"})
    assert urlsplit(req.url).hostname == "aiplatform.googleapis.com"
    compute = registry.service("google", "compute")
    addresses = compute.resources["addresses"].find_method("list")
    req = build_request(compute, addresses, {"project": "p", "region": "us-central1"})
    assert req.url == "https://compute.googleapis.com/compute/v1/projects/p/regions/us-central1/addresses"


def test_an_endpoint_override_keeps_the_real_host_for_the_host_header(aiplatform, registry):
    listing = method(aiplatform, "hyperparameter_tuning_jobs", "list")
    values = {"projectsId": "p", "locationsId": "europe-west4"}
    req = build_request(aiplatform, listing, values, endpoint="http://127.0.0.1:8089/")
    assert req.url == "http://127.0.0.1:8089/v1/projects/p/locations/europe-west4/hyperparameterTuningJobs"
    assert req.host_header == "europe-west4-aiplatform.googleapis.com"
    compute = registry.service("google", "compute")
    get = compute.resources["instances"].find_method("get")
    req = build_request(
        compute, get, {"project": "p", "zone": "z", "instance": "i"}, endpoint="http://127.0.0.1:8089"
    )
    assert req.url == "http://127.0.0.1:8089/compute/v1/projects/p/zones/z/instances/i"
    assert req.host_header == "compute.googleapis.com"


def test_query_parameters_are_sent_and_unknown_values_are_not(ml):
    listing = method(ml, "jobs", "list")
    values = {"projectsId": "p", "filter": "state=FAILED", "pageSize": 7, "jobId": "not a parameter"}
    req = build_request(ml, listing, values)
    assert req.query == (("filter", "state=FAILED"), ("pageSize", "7"))
    assert req.params == values  # the partition, as the caller gave it


def test_repeated_parameters_become_repeated_keys(registry):
    adsense = registry.service("google", "adsense")
    generate = adsense.resources["reports"].find_method("generate")
    values = {"accountsId": "a", "dimensions": ["DATE", "COUNTRY_NAME"], "metrics": "CLICKS"}
    req = build_request(adsense, generate, values)
    assert ("dimensions", "DATE") in req.query and ("dimensions", "COUNTRY_NAME") in req.query
    assert ("metrics", "CLICKS") in req.query
    assert "dimensions=DATE&dimensions=COUNTRY_NAME" in req.describe()


def test_a_list_for_a_single_valued_parameter_is_refused(ml):
    with pytest.raises(ParameterError, match="filter takes one value"):
        build_request(ml, method(ml, "jobs", "list"), {"projectsId": "p", "filter": ["a", "b"]})


def test_booleans_are_sent_as_json_words(aiplatform):
    delete = method(aiplatform, "contexts", "delete")
    values = {
        "projectsId": "p",
        "locationsId": "l",
        "metadataStoresId": "m",
        "contextsId": "c",
        "force": True,
    }
    req = build_request(aiplatform, delete, values)
    assert req.method == "DELETE"
    assert ("force", "true") in req.query


def test_fields_of_a_list_keep_the_page_token(ml):
    req = build_request(ml, method(ml, "jobs", "list"), {"projectsId": "p"}, fields=["jobId", "state"])
    assert ("fields", "nextPageToken,jobs(jobId,state)") in req.query


def test_fields_of_a_get_are_the_columns(ml):
    get = method(ml, "jobs", "get")
    req = build_request(ml, get, {"projectsId": "p", "jobsId": "j"}, fields=["jobId", "state", "jobId"])
    assert req.query == (("fields", "jobId,state"),)


def test_no_fields_are_sent_unless_asked(ml):
    req = build_request(ml, method(ml, "jobs", "list"), {"projectsId": "p"})
    assert not any(k == "fields" for k, _ in req.query)


def test_fields_are_not_pushed_into_an_aggregated_map(registry):
    compute = registry.service("google", "compute")
    aggregated = compute.resources["instances"].find_method("aggregated_list")
    req = build_request(compute, aggregated, {"project": "p"}, fields=["name"])
    assert not any(k == "fields" for k, _ in req.query)


def test_page_size_uses_the_methods_own_parameter_and_defers_to_the_user(ml, registry):
    listing = method(ml, "jobs", "list")
    assert ("pageSize", "500") in build_request(ml, listing, {"projectsId": "p"}, page_size=500).query
    req = build_request(ml, listing, {"projectsId": "p", "pageSize": 3}, page_size=500)
    assert [v for k, v in req.query if k == "pageSize"] == ["3"]
    compute = registry.service("google", "compute")
    instances = compute.resources["instances"].find_method("list")
    req = build_request(compute, instances, {"project": "p", "zone": "z"}, page_size=200)
    assert ("maxResults", "200") in req.query


def test_a_body_is_carried_as_data(ml):
    create = method(ml, "jobs", "create")
    req = build_request(ml, create, {"projectsId": "p"}, body={"jobId": "j1"})
    assert req.method == "POST"
    assert req.body == {"jobId": "j1"}
    assert req.describe() == 'POST https://ml.googleapis.com/v1/projects/p/jobs {"jobId":"j1"}'
