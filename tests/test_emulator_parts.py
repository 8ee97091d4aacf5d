"""The emulator's pieces on their own: field selections, filters, URL templates, generated data, the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from random import Random

import httpx
import pytest

from skyql.emulator.api import initial_state, type_url
from skyql.emulator.fields import apply_mask, parse_fields, select
from skyql.emulator.generate import Generator, ItemContext
from skyql.emulator.listfilter import parse_filter
from skyql.emulator.routing import ServiceRouter, parse_template, singular
from skyql.emulator.status import GoogleError
from skyql.registry import Registry


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


def test_fields_selects_nested_members_of_each_array_element():
    tree = parse_fields("nextPageToken,jobs(jobId,trainingInput/region)")
    page = {
        "nextPageToken": "t",
        "other": 1,
        "jobs": [{"jobId": "a", "state": "X", "trainingInput": {"region": "r", "scaleTier": "B"}}],
    }
    assert select(page, tree) == {
        "nextPageToken": "t",
        "jobs": [{"jobId": "a", "trainingInput": {"region": "r"}}],
    }


@pytest.mark.parametrize("bad", ["jobs(jobId", "jobs)", "a,,b", "(", ""])
def test_malformed_field_selections_are_invalid_argument(bad):
    with pytest.raises(GoogleError) as err:
        parse_fields(bad)
    assert err.value.code == 400


def test_update_masks_copy_masked_paths_and_clear_absent_ones():
    current = {"labels": {"a": "1"}, "trainingInput": {"region": "r", "scaleTier": "B"}, "state": "QUEUED"}
    patched = apply_mask(current, {"trainingInput": {"region": "new"}}, ["trainingInput.region", "labels"])
    assert patched == {"trainingInput": {"region": "new", "scaleTier": "B"}, "state": "QUEUED"}
    assert current["labels"] == {"a": "1"}  # the stored item is not changed in place


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("state=RUNNING", ["a"]),
        ("state != RUNNING", ["b", "c"]),
        ('jobId:"b*"', ["b"]),
        ("labels.team=ads AND state=FAILED", ["b"]),
        ("state=RUNNING OR state=FAILED", ["a", "b"]),
        ("NOT labels:team", ["c"]),
        ('createTime > "2024-06-01T00:00:00Z"', ["b", "c"]),
        ('(state=RUNNING OR jobId=c) AND createTime<"2024-07-01"', ["a", "c"]),
    ],
)
def test_list_filters_follow_aip_160(expr, expected):
    items = [
        {"jobId": "a", "state": "RUNNING", "labels": {"team": "ads"}, "createTime": "2024-05-01T00:00:00Z"},
        {"jobId": "b", "state": "FAILED", "labels": {"team": "ads"}, "createTime": "2024-08-01T00:00:00Z"},
        {"jobId": "c", "state": "QUEUED", "createTime": "2024-06-15T00:00:00Z"},
    ]
    pred = parse_filter(expr)
    assert [i["jobId"] for i in items if pred(i)] == expected


@pytest.mark.parametrize("bad", ["state=", "(state=A", "state", "= x", "a=b)"])
def test_unparseable_filters_are_invalid_argument(bad):
    with pytest.raises(GoogleError) as err:
        parse_filter(bad)
    assert err.value.code == 400


def test_a_flat_path_template_splits_into_prefix_collection_and_verb():
    tpl = parse_template(
        "v1/projects/{projectsId}/locations/{locationsId}/hyperparameterTuningJobs/"
        "{hyperparameterTuningJobsId}:cancel"
    )
    assert tpl.verb == "cancel" and tpl.prefix_len == 1 and tpl.is_instance
    assert tpl.collection_key == "projects/{}/locations/{}/hyperparameterTuningJobs"
    assert tpl.regex.fullmatch("v1/projects/p/locations/l/hyperparameterTuningJobs/12:cancel")
    assert not tpl.regex.fullmatch("v1/projects/p/locations/l/hyperparameterTuningJobs/12")
    assert parse_template("compute/v1/projects/{project}/zones/{zone}/instances").prefix_len == 2


@pytest.mark.parametrize(
    ("plural", "one"),
    [
        ("jobs", "job"),
        ("policies", "policy"),
        ("indexes", "index"),
        ("hyperparameterTuningJobs", "hyperparameterTuningJob"),
    ],
)
def test_collection_names_are_made_singular(plural, one):
    assert singular(plural) == one


def test_type_urls_follow_the_proto_package_of_the_schema():
    assert (
        type_url("GoogleCloudAiplatformV1HyperparameterTuningJob")
        == "type.googleapis.com/google.cloud.aiplatform.v1.HyperparameterTuningJob"
    )
    assert type_url("GoogleCloudMlV1__Job") == "type.googleapis.com/google.cloud.ml.v1.Job"
    assert type_url("GoogleProtobufEmpty") == "type.googleapis.com/google.protobuf.Empty"


def test_new_resources_start_in_a_queued_or_pending_state():
    assert initial_state(["STATE_UNSPECIFIED", "QUEUED", "RUNNING"]) == "QUEUED"
    assert (
        initial_state(["JOB_STATE_UNSPECIFIED", "JOB_STATE_QUEUED", "JOB_STATE_PENDING"])
        == "JOB_STATE_QUEUED"
    )
    assert initial_state(["STATE_UNSPECIFIED", "ENABLED", "DISABLED"]) == "ENABLED"


def test_generated_items_follow_the_schema_and_stay_small(registry):
    svc = registry.service("google", "aiplatform")
    spec = ServiceRouter.build(svc).collections["projects/{}/locations/{}/hyperparameterTuningJobs"]
    gen = Generator(svc)
    rng = Random("t")
    name = "projects/demo-project/locations/us-central1/hyperparameterTuningJobs/42"
    items = [
        gen.item(
            spec.schema,
            rng,
            ItemContext(i, "42", name, "demo-project", "us-central1", spec.singular, "aiplatform"),
        )
        for i in range(40)
    ]
    props = spec.schema["properties"]
    for item in items:
        assert item["name"] == name
        assert set(item) <= set(props)
        assert item["state"] in props["state"]["enum"] and "UNSPECIFIED" not in item["state"]
        assert item["createTime"] <= item["updateTime"]
        assert isinstance(item["maxTrialCount"], int)
        assert len(json.dumps(item)) < 4096
    assert len({i["state"] for i in items}) >= 5


def test_skyql_emulator_prints_its_url_writes_a_key_and_stops_on_sigterm(tmp_path):
    key = tmp_path / "key.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "skyql.emulator", "--port", "0", "--make-key", str(key)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:")
        assert "key written" in proc.stdout.readline()
        info = json.loads(key.read_text())
        assert info["type"] == "service_account" and info["token_uri"] == f"{url}/token"
        assert httpx.get(f"{url}/_emulator/health").json()["status"] == "ok"
        assert httpx.get(f"{url}/v1/projects/demo-project/jobs").status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_fault_flags_parse_into_inject_arguments():
    from skyql.emulator.cli import parse_fault

    assert parse_fault("status=429,count=3,match=/jobs,retry_after=2") == {
        "status": 429,
        "count": 3,
        "match": "/jobs",
        "retry_after": 2.0,
    }
    assert parse_fault("drop=true,count=1") == {"drop": True, "count": 1}
    with pytest.raises(ValueError):
        parse_fault("colour=red")
