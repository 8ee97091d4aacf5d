"""skyql's Google registry has StackQL's names: resources, methods, parameters, SQL verb order, API versions.

The facts are StackQL's own registry (`providers/google/stackql-names.json.gz`, a copy of
`../shared/reference/stackql-google-names.json.gz`); this is a golden subset of it, plus the whole-registry
agreement figure docs/providers.md quotes.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from skyql.registry import Registry
from skyql.registry.loader import default_providers_dir
from skyql.registry.stackql import agreement, derived_path, load_names

GOOGLE = default_providers_dir() / "google"
NAMES = load_names(GOOGLE / "stackql-names.json.gz")

GOLDEN = [
    ("aiplatform", "hyperparameter_tuning_jobs"),
    ("bigquery", "datasets"),
    ("bigquery", "tables"),
    ("bigquery", "jobs"),
    ("cloudasset", "assets"),
    ("logging", "sinks"),
    ("logging", "buckets"),
    ("iam", "roles"),
    ("iam", "service_accounts"),
    ("iam", "service_account_keys"),
    ("iam", "workload_identity_pools"),
    ("dns", "managed_zones"),
    ("dns", "resource_record_sets"),
    ("sqladmin", "instances"),
    ("storage", "buckets"),
    ("storage", "objects"),
    ("cloudresourcemanager", "projects"),
    ("serviceusage", "services"),
    ("monitoring", "service_level_objectives"),
    ("iap", "iap_settings"),
    ("ml", "jobs"),
    ("ml", "jobs_iam_policies"),
]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


@pytest.mark.parametrize(("service", "resource"), GOLDEN, ids=[".".join(g) for g in GOLDEN])
def test_resource_has_stackqls_methods_parameters_and_verb_order(registry, service, resource):
    stackql = NAMES[service]["resources"][resource]
    res = registry.resource("google", service, resource)
    for name, method in stackql["methods"].items():
        mine = res.methods[name]
        assert mine.path == method["path"].lstrip("/"), name
        assert mine.required_params == sorted(method["required"]), name
        assert mine.http_method == method["http"], name
    for verb, order in stackql["sqlVerbs"].items():
        assert [m.name for m in res.methods_for(verb.upper())][: len(order)] == order, verb


@pytest.mark.parametrize(
    ("service", "version"), [("iam", "v1"), ("dns", "v1"), ("iamv2", "v2"), ("bigquery", "v2")]
)
def test_services_are_the_api_versions_stackql_serves(registry, service, version):
    assert registry.service("google", service).version == version == NAMES[service]["version"]


def test_iam_v1_has_roles_service_accounts_keys_and_workload_identity_pools(registry):
    resources = registry.service("google", "iam").resources
    assert {
        "roles",
        "service_accounts",
        "service_account_keys",
        "workload_identity_pools",
    } <= resources.keys()
    assert registry.resource("google", "iam", "roles").methods["list"].path == "v1/roles"


def test_bigquery_parameters_are_projectId_datasetId_tableId(registry):
    get = registry.resource("google", "bigquery", "tables").methods["get"]
    assert [p.name for p in get.path_params] == ["projectId", "datasetId", "tableId"]


COMPUTE = [
    "instances",
    "xpn_hosts",
    "xpn_resources",
    "instances_screenshot",
    "instances_serial_port_output",
    "operations",
    "backend_services_aggregated",
    "forwarding_rules_aggregated",
    "instances_access_config",
    "networks_peering",
    "commitments",
    "router_nat_ip_info",
]


def test_compute_resources_have_stackqls_names(registry):
    compute = registry.service("google", "compute").resources
    assert set(COMPUTE) <= compute.keys() and set(COMPUTE) <= NAMES["compute"]["resources"].keys()
    # Custom GETs are SELECT resources of their own; project-level ones keep compute's parameter names.
    screenshot = compute["instances_screenshot"].methods_for("SELECT")[0]
    assert screenshot.required_params == ["instance", "project", "zone"]
    assert compute["xpn_hosts"].methods_for("SELECT")[0].required_params == ["project"]


def test_compute_global_and_regional_collections_are_one_resource_tried_most_specific_first(registry):
    addresses = registry.resource("google", "compute", "addresses")
    assert [m.name for m in addresses.methods_for("INSERT")] == ["insert", "global_addresses_insert"]
    assert addresses.first_fit("INSERT", {"project"}).path == "projects/{project}/global/addresses"
    assert (
        addresses.first_fit("INSERT", {"project", "region"}).path
        == "projects/{project}/regions/{region}/addresses"
    )


def test_older_method_spellings_find_stackqls_methods(registry):
    instances = registry.resource("google", "compute", "instances")
    assert instances.find_method("attachDisk") is instances.methods["attach_disk"]
    buckets = registry.resource("google", "storage", "buckets")
    policies = registry.resource("google", "storage", "buckets_iam_policies")
    assert buckets.find_method("setIamPolicy") is policies.methods["set_iam_policy"]
    # ml's Python client names (the reference's) for StackQL's `projects_jobs_*` methods.
    jobs = registry.resource("google", "ml", "jobs")
    assert jobs.find_method("cancel") is jobs.methods["projects_jobs_cancel"]
    assert jobs.find_method("_list") is jobs.methods["_projects_jobs_list"]


def test_most_of_stackqls_registry_is_in_skyqls_under_the_same_names(capsys):
    services = {
        p.name.removesuffix(".json.gz"): json.loads(gzip.decompress(p.read_bytes()))
        for p in sorted((GOOGLE / "services").glob("*.json.gz"))
    }
    result = agreement(services, NAMES)
    by_name = result["same_name"] / result["resources"]
    exact = result["same_methods"] / result["resources"]
    methods = result["same_method"] / result["methods"]
    with capsys.disabled():
        print(
            f"\nStackQL agreement: {by_name:.1%} of {result['resources']} resources by name, {exact:.1%} with "
            f"every method, parameter and verb order; {methods:.1%} of {result['methods']} methods"
        )
    # What is left are methods Google's discovery documents no longer have (docs/providers.md says which).
    assert by_name >= 0.97 and exact >= 0.97 and methods >= 0.998
    doc = (Path(__file__).resolve().parents[1] / "docs" / "providers.md").read_text()
    for count, share in (
        (result["same_name"], by_name),
        (result["same_methods"], exact),
        (result["same_method"], methods),
    ):
        assert f"| {count} ({share:.1%}) |" in doc, "docs/providers.md quotes other figures: update it"


def test_names_file_is_the_shared_reference():
    shared = (
        Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "stackql-google-names.json.gz"
    )
    if not shared.exists():
        pytest.skip("../shared is not beside this checkout")
    assert load_names(shared) == NAMES


@pytest.mark.parametrize(
    ("path", "flat", "service", "derived"),
    [
        (
            "projects/{project}/zones/{zone}/instances",
            None,
            "compute",
            "projects/{project}/zones/{zone}/instances",
        ),
        (
            "projects/{+projectId}/datasets",
            "projects/{projectsId}/datasets",
            "bigquery",
            "projects/{projectId}/datasets",
        ),
        ("v1/{+parent}/jobs", "v1/projects/{projectsId}/jobs", "ml", "v1/projects/{projectsId}/jobs"),
        ("v1/{+parent}/assets", "v1/{v1Id}/{v1Id1}/assets", "cloudasset", "v1/{parentType}/{parent}/assets"),
        (
            "v2/{+parent}/buckets",
            "v2/{v2Id}/{v2Id1}/locations/{locationsId}/buckets",
            "logging",
            "v2/{parentType}/{parent}/buckets",
        ),
        ("v2/{+sinkName}", "v2/{v2Id}/{v2Id1}/sinks/{sinksId}", "logging", "v2/{sinkName}"),
        ("v1/{+name}:iapSettings", "v1/{v1Id}:iapSettings", "iap", "v1/{v1Id}:iapSettings"),
    ],
    ids=[
        "no-flatPath",
        "bigquery",
        "flatPath",
        "parent-pair",
        "parent-pair-spanning",
        "whole-name",
        "one-generic",
    ],
)
def test_parameter_names_follow_the_rules_derived_from_stackqls_file(path, flat, service, derived):
    method = {"path": path, **({"flatPath": flat} if flat else {})}
    assert derived_path(method, service) == derived
