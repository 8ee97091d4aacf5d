"""The google provider: naming, coverage, reproducible generation, lazy loading, and the reference page."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from skyql.errors import NotFoundError
from skyql.registry import Registry
from skyql.registry.build import build_provider, choose_documents, version_rank
from skyql.registry.naming import collection_resource_names, method_sql_verb, snake_case

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = FIXTURES / "stackql-google-aiplatform-hyperparameter_tuning_jobs.md"
PROVIDERS = Path(__file__).resolve().parent.parent / "providers"


def reference_tables() -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(fields: name, type) and (methods: name, verb, required params) from StackQL's page."""
    text = REFERENCE.read_text()
    fields_part, methods_part = text.split("## Methods")
    fields = re.findall(r"^\| `(\w+)` \| `(\w+)` \|", fields_part, re.M)
    methods = re.findall(r"^\| `(\w+)` \| `(\w+)` \| `([\w, ]+)` \|", methods_part, re.M)
    return fields, methods


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


def test_hyperparameter_tuning_jobs_has_every_field_of_the_stackql_page_with_its_type(registry):
    fields, _ = reference_tables()
    assert len(fields) == 16
    columns = {
        c.name: c.type for c in registry.lookup("google.aiplatform.hyperparameter_tuning_jobs").columns()
    }
    for name, type_ in fields:
        assert columns.get(name) == type_, name


def test_hyperparameter_tuning_jobs_has_every_method_of_the_stackql_page(registry):
    _, methods = reference_tables()
    assert len(methods) == 6
    res = registry.lookup("google.aiplatform.hyperparameter_tuning_jobs")
    for name, verb, required in methods:
        method = res.methods[name]
        assert method.sql_verb == verb, name
        assert ", ".join(method.required_params) == required, name


def test_ml_jobs_and_its_iam_policies_resource_follow_stackql_naming(registry):
    jobs = registry.lookup("google.ml.jobs")
    short = ("get", "list", "create", "patch", "cancel", "_list")
    # StackQL names ml's methods with their collection; the Python client's names find them too.
    assert {m: (jobs.find_method(m).name, jobs.find_method(m).sql_verb) for m in short} == {
        "get": ("projects_jobs_get", "SELECT"),
        "list": ("projects_jobs_list", "SELECT"),
        "create": ("projects_jobs_create", "INSERT"),
        "patch": ("projects_jobs_patch", "UPDATE"),
        "cancel": ("projects_jobs_cancel", "EXEC"),
        "_list": ("_projects_jobs_list", "EXEC"),
    }
    assert jobs.find_method("list").object_key == "$.jobs" and jobs.find_method("list").paging
    iam = registry.lookup("google.ml.jobs_iam_policies")
    assert {m.name: m.sql_verb for m in iam.methods.values()} == {
        "projects_jobs_get_iam_policy": "SELECT",
        "projects_jobs_set_iam_policy": "REPLACE",
        "projects_jobs_test_iam_permissions": "EXEC",
    }
    assert [c.name for c in iam.columns()] == ["condition", "members", "role"]
    assert iam.find_method("get_iam_policy").required_params == ["jobsId", "projectsId"]


def test_methods_know_their_http_shape(registry):
    res = registry.lookup("google.aiplatform.hyperparameter_tuning_jobs")
    delete = res.methods["delete"]
    assert delete.http_method == "DELETE" and delete.returns_operation
    assert delete.path == (
        "v1/projects/{projectsId}/locations/{locationsId}/hyperparameterTuningJobs/{hyperparameterTuningJobsId}"
    )
    listing = res.methods["list"]
    assert listing.object_key == "$.hyperparameterTuningJobs" and listing.paging
    assert {p.name for p in listing.query_params} >= {"filter", "pageSize", "pageToken", "readMask"}
    assert res.methods["create"].request_schema == "GoogleCloudAiplatformV1HyperparameterTuningJob"
    assert res.service.endpoints["us-central1"] == "https://us-central1-aiplatform.googleapis.com/"


def test_int64_fields_are_integers_and_timestamps_strings(registry):
    columns = {c.name: c for c in registry.lookup("google.ml.jobs").columns()}
    assert columns["jobPosition"].type == "integer" and columns["jobPosition"].format == "int64"
    assert columns["createTime"].type == "string" and columns["createTime"].format == "google-datetime"


def test_every_google_service_is_there_with_one_version(registry):
    services = registry.provider("google").index["services"]
    names = [s["name"] for s in services]
    assert len(names) == len(set(names)) > 300
    by_name = {s["name"]: s["version"] for s in services}
    assert by_name["aiplatform"] == "v1" and by_name["ml"] == "v1" and by_name["compute"] == "v1"
    assert by_name["admin_directory"] == "directory_v1"


@pytest.mark.parametrize(
    ("versions", "chosen"),
    [
        (["v1", "v1beta1", "v2alpha"], "v1"),
        (["v1", "v2"], "v2"),
        (["v1beta1", "v1beta2", "v1alpha"], "v1beta2"),
        (["v1.3", "v1.4"], "v1.4"),
        (["alpha", "beta"], "beta"),
    ],
)
def test_the_newest_stable_version_is_chosen_else_the_newest_beta(versions, chosen):
    assert max(versions, key=version_rank) == chosen


def test_registry_is_committed_compact():
    size = sum(p.stat().st_size for p in (PROVIDERS / "google").rglob("*") if p.is_file())
    assert size < 15 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("hyperparameterTuningJobs", "hyperparameter_tuning_jobs"),
        ("getIamPolicy", "get_iam_policy"),
        ("jobs", "jobs"),
        ("aggregatedList", "aggregated_list"),
        ("IPAddresses", "ip_addresses"),
    ],
)
def test_snake_case(name, snake):
    assert snake_case(name) == snake


@pytest.mark.parametrize(
    ("method", "http", "verb"),
    [
        ("list", "GET", "SELECT"),
        ("get", "GET", "SELECT"),
        ("aggregatedList", "GET", "SELECT"),
        ("create", "POST", "INSERT"),
        ("insert", "POST", "INSERT"),
        ("delete", "DELETE", "DELETE"),
        ("patch", "PATCH", "UPDATE"),
        ("update", "PUT", "REPLACE"),
        ("update", "PATCH", "UPDATE"),
        ("cancel", "POST", "EXEC"),
        ("setIamPolicy", "POST", "REPLACE"),
        ("getIamPolicy", "GET", "SELECT"),
    ],
)
def test_sql_verbs(method, http, verb):
    assert method_sql_verb(method, http) == verb


def test_colliding_collections_get_deterministic_distinct_names():
    collections = [
        (("projects", "locations", "operations"), False),
        (("projects", "locations", "datasets", "operations"), False),
        (("organizations", "locations", "operations"), False),
        (("folders", "locations", "operations"), False),
        (("projects", "locations", "jobs"), False),
        (("projects", "locations", "jobs"), True),
        (("datasets",), False),
        (("projects", "locations", "datasets"), False),
    ]
    names = collection_resource_names(collections)
    assert names == [
        "operations",
        "datasets_operations",
        "organizations_locations_operations",
        "folders_locations_operations",
        "jobs",
        "jobs_iam_policies",
        "global_datasets",
        "datasets",
    ]
    assert names == collection_resource_names(collections)


def test_unknown_names_suggest_the_closest(registry):
    with pytest.raises(NotFoundError, match="did you mean google.aiplatform.hyperparameter_tuning_jobs"):
        registry.lookup("google.aiplatform.hyperparameter_tuning_job")
    with pytest.raises(NotFoundError, match="did you mean aiplatform"):
        registry.service("google", "aiplatfrom")
    with pytest.raises(NotFoundError, match="malformed name"):
        registry.lookup("google..jobs")


def discovery_doc(name: str, version: str, revision: str = "20260101") -> dict:
    return {
        "name": name,
        "version": version,
        "title": f"{name} API",
        "description": "d",
        "revision": revision,
        "rootUrl": f"https://{name}.googleapis.com/",
        "servicePath": "",
        "schemas": {
            "Thing": {"id": "Thing", "type": "object", "properties": {"name": {"type": "string"}}},
            "ListThingsResponse": {
                "type": "object",
                "properties": {
                    "things": {"type": "array", "items": {"$ref": "Thing"}},
                    "nextPageToken": {"type": "string"},
                },
            },
        },
        "resources": {
            "projects": {
                "resources": {
                    "things": {
                        "methods": {
                            "list": {
                                "id": f"{name}.projects.things.list",
                                "httpMethod": "GET",
                                "path": f"{version}/{{+parent}}/things",
                                "flatPath": f"{version}/projects/{{projectsId}}/things",
                                "parameters": {
                                    "parent": {"location": "path", "required": True, "type": "string"},
                                    "pageToken": {"location": "query", "type": "string"},
                                },
                                "response": {"$ref": "ListThingsResponse"},
                            },
                        }
                    }
                }
            }
        },
    }


def write_docs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, version in [
        ("alpha", "v1"),
        ("alpha", "v2beta"),
        ("beta", "v1beta1"),
        ("admin", "directory_v1"),
    ]:
        (folder / f"{name}.{version}.json").write_text(json.dumps(discovery_doc(name, version)))


def test_building_twice_gives_identical_bytes_and_one_version_per_service(tmp_path):
    write_docs(tmp_path / "docs")
    assert sorted(choose_documents(tmp_path / "docs")) == ["admin_directory", "alpha", "beta"]
    build_provider(tmp_path / "docs", tmp_path / "a" / "google")
    build_provider(tmp_path / "docs", tmp_path / "b" / "google")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    model = json.loads(gzip.decompress((tmp_path / "a/google/services/alpha.json.gz").read_bytes()))
    assert model["version"] == "v1"
    assert model["resources"]["things"]["methods"]["list"]["key"] == "$.things"
    assert "_list" in model["resources"]["things"]["methods"]


def test_overlay_corrections_are_applied(tmp_path):
    write_docs(tmp_path / "docs")
    overlay = tmp_path / "overlay.json"
    overlay.write_text(
        json.dumps({"services": {"alpha": {"methods": {"alpha.projects.things.list": {"key": "$.x"}}}}})
    )
    build_provider(tmp_path / "docs", tmp_path / "out" / "google", overlay)
    model = json.loads(gzip.decompress((tmp_path / "out/google/services/alpha.json.gz").read_bytes()))
    assert model["resources"]["things"]["methods"]["list"]["key"] == "$.x"


def test_overlay_adds_a_parameter_the_discovery_document_omits_to_the_methods_it_names(tmp_path):
    write_docs(tmp_path / "docs")
    overlay = tmp_path / "overlay.json"
    overlay.write_text(
        json.dumps(
            {
                "services": {
                    "alpha": {
                        "parameters": {
                            "returnPartialSuccess": {
                                "why": "the API takes it",
                                "methods": ["alpha.*.list"],
                                "type": "boolean",
                                "location": "query",
                            }
                        }
                    }
                }
            }
        )
    )
    build_provider(tmp_path / "docs", tmp_path / "out" / "google", overlay)
    registry = Registry(tmp_path / "out")
    methods = registry.lookup("google.alpha.things").methods
    added = methods["list"].param("returnPartialSuccess")
    assert added is not None and added.location == "query" and added.type == "boolean" and not added.required
    assert all(
        m.param("returnPartialSuccess") is None for name, m in methods.items() if not name.endswith("list")
    )


def test_cli_registry_build_writes_a_provider_that_skyql_can_query(tmp_path):
    write_docs(tmp_path / "docs")
    out = tmp_path / "providers"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "skyql.cli.main",
            "registry",
            "build",
            "google",
            "--from",
            str(tmp_path / "docs"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    registry = Registry(out)
    assert registry.lookup("google.alpha.things").methods["list"].required_params == ["projectsId"]


def test_a_query_on_one_service_reads_only_that_service(registry, monkeypatch):
    fresh = Registry(registry.root)
    opened: list[str] = []
    original = Path.read_bytes

    def spy(self: Path) -> bytes:
        opened.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", spy)
    fresh.lookup("google.aiplatform.hyperparameter_tuning_jobs")
    assert opened == ["aiplatform.json.gz"]


def test_the_build_takes_stackqls_version_resource_method_and_parameter_names(tmp_path):
    write_docs(tmp_path / "docs")
    names = {
        "services": {
            "alpha": {
                "version": "v2beta",
                "resources": {
                    "items": {
                        "methods": {
                            "projects_things_list": {
                                "http": "GET",
                                "path": "/v2beta/projects/{projectId}/things",
                                "required": ["projectId"],
                                "objectKey": "$.things",
                            }
                        },
                        "sqlVerbs": {"select": ["projects_things_list"]},
                    }
                },
            }
        }
    }
    names_file = tmp_path / "names.json.gz"
    names_file.write_bytes(gzip.compress(json.dumps(names).encode()))
    build_provider(tmp_path / "docs", tmp_path / "out" / "google", names_path=names_file)
    res = Registry(tmp_path / "out").lookup("google.alpha.items")
    assert res.service.version == "v2beta" and "things" not in res.service.resources
    (method,) = res.methods_for("SELECT")
    assert (method.name, method.path, method.required_params) == (
        "projects_things_list",
        "v2beta/projects/{projectId}/things",
        ["projectId"],
    )
    # Services the file does not have keep the derived names.
    assert Registry(tmp_path / "out").lookup("google.beta.things").find_method("list").required_params == [
        "projectsId"
    ]
