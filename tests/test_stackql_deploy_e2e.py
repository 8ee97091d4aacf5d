"""stackql-deploy's lifecycle (exists, create, statecheck, update, exports, delete) against the emulator.

The resource files in tests/fixtures/stackql_deploy/ are real ones (each names its source), run the way
stackql-deploy runs them: `build` checks `exists`, creates when the count is 0 (else updates), then
requires `statecheck` to count 1 and reads `exports`; `teardown` deletes and `exists` counts 0 again.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from skyql.emulator import Emulator
from skyql.registry import Registry
from skyql.registry.build import build_service
from skyql.registry.loader import default_providers_dir
from skyql.session import Session
from skyql.sql import render_template
from tests.mutation_support import api_calls, open_session

FILES = Path(__file__).parent / "fixtures" / "stackql_deploy"
_ANCHOR = re.compile(r"^/\*\+\s*(\w+)[^*]*\*/\s*$", re.MULTILINE)
PROJECT = "deploy-e2e"


def resource_file(name: str) -> dict[str, str]:
    """The anchored queries of a resource file: {'exists': sql, 'create': sql, ...}."""
    text = "\n".join(line for line in (FILES / name).read_text().splitlines() if not line.startswith("--"))
    parts = _ANCHOR.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


class Deployer:
    """What stackql-deploy does with one resource file and its props, one query at a time."""

    def __init__(self, session: Session, name: str, props: dict[str, Any]) -> None:
        self.session = session
        self.queries = resource_file(name)
        self.props = dict(props)

    def run(self, anchor: str) -> Any:
        return self.session.execute(render_template(self.queries[anchor], self.props))

    def count(self, anchor: str) -> int:
        rows = self.run(anchor).rows
        assert len(rows) == 1, f"{anchor} must return one row with a count, got {rows}"
        return rows[0][0]

    def exports(self) -> dict[str, Any]:
        result = self.run("exports")
        assert len(result.rows) == 1, result.rows
        return dict(zip(result.columns, result.rows[0], strict=True))

    def build(self, *, check_exists: bool = True) -> str:
        """`stackql-deploy build` for this resource: 'created', 'updated' or 'unchanged'."""
        if check_exists and self.count("exists"):
            if self.count("statecheck") == 1:
                return "unchanged"
            self.run("update")
            assert self.count("statecheck") == 1, "statecheck failed after the update"
            return "updated"
        self.run("create")
        assert self.count("statecheck") == 1, "statecheck failed after the create"
        return "created"

    def teardown(self, *, check_exists: bool = True) -> None:
        self.run("delete")
        if check_exists:
            assert self.count("exists") == 0, "the resource still exists after delete"


def network(session: Session, vpc_name: str) -> Deployer:
    return Deployer(session, "network.iql", {"project": PROJECT, "vpc_name": vpc_name})


def vpc_link(vpc_name: str) -> str:
    return f"https://compute.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/{vpc_name}"


# -- network ---------------------------------------------------------------------------------------------


def test_network_lifecycle_creates_updates_exports_and_deletes_a_vpc_by_its_name(session, emulator):
    vpc = network(session, "k8s-dev-vpc")
    assert vpc.count("exists") == 0
    assert vpc.build() == "created"
    assert vpc.exports() == {"vpc_name": "k8s-dev-vpc", "vpc_link": vpc_link("k8s-dev-vpc")}
    # The network is stored under the name the client chose: a GET of that name finds it.
    got = session.execute(
        f"SELECT name, autoCreateSubnetworks, routingConfig FROM google.compute.networks "
        f"WHERE project = '{PROJECT}' AND network = 'k8s-dev-vpc'"
    )
    assert got.rows[0][:2] == ("k8s-dev-vpc", False)
    assert json.loads(got.rows[0][2]) == {"routingMode": "REGIONAL"}
    # A second build finds it in the desired state, so nothing is sent but reads.
    emulator.clear_log()
    assert vpc.build() == "unchanged"
    assert not [r for r in api_calls(emulator) if r["method"] != "GET"]
    vpc.teardown()
    assert api_calls(emulator, "DELETE")[0]["path"].endswith("/global/networks/k8s-dev-vpc")


def test_network_build_updates_a_vpc_that_drifted(session):
    vpc = network(session, "drifted-vpc")
    vpc.build()
    session.execute(
        f'UPDATE google.compute.networks SET data__routingConfig = \'{{"routingMode": "GLOBAL"}}\' '
        f"WHERE network = 'drifted-vpc' AND project = '{PROJECT}'"
    )
    assert vpc.count("statecheck") == 0
    assert vpc.build() == "updated"
    vpc.teardown()


# -- subnetwork ------------------------------------------------------------------------------------------


def subnetwork(session: Session, subnet_name: str, vpc_name: str) -> Deployer:
    return Deployer(
        session,
        "subnetwork.iql",
        {
            "project": PROJECT,
            "region": "us-central1",
            "subnet_name": subnet_name,
            "vpc_link": vpc_link(vpc_name),
            "ip_cidr_range": "10.240.0.0/24",
        },
    )


def test_subnetwork_is_created_checked_updated_exported_and_deleted_in_its_region(session, emulator):
    vpc = network(session, "subnet-vpc")
    vpc.build()
    subnet = subnetwork(session, "k8s-dev-us-central1-subnet", "subnet-vpc")
    assert subnet.build(check_exists=False) == "created"
    created = api_calls(emulator, "POST", "/regions/us-central1/subnetworks")[0]
    assert created["body"]["name"] == "k8s-dev-us-central1-subnet"
    assert subnet.count("exists") == 1
    subnet.props["ip_cidr_range"] = "10.240.0.0/20"
    subnet.run("update")
    assert subnet.count("statecheck") == 1
    assert subnet.exports() == {
        "subnet_name": "k8s-dev-us-central1-subnet",
        "subnet_link": f"https://compute.googleapis.com/compute/v1/projects/{PROJECT}/regions/us-central1/"
        "subnetworks/k8s-dev-us-central1-subnet",
    }
    cidr = session.execute(
        f"SELECT ipCidrRange FROM google.compute.subnetworks WHERE project = '{PROJECT}' "
        "AND region = 'us-central1' AND subnetwork = 'k8s-dev-us-central1-subnet'"
    )
    assert cidr.rows == [("10.240.0.0/20",)]
    subnet.teardown(check_exists=False)
    listed = session.execute(
        f"SELECT name FROM google.compute.subnetworks WHERE project = '{PROJECT}' AND region = 'us-central1'"
    )
    assert listed.rows == []
    vpc.teardown()


def test_subnetwork_full_lifecycle_counts_zero_before_create_and_after_delete(session):
    vpc = network(session, "subnet-vpc-2")
    vpc.build()
    subnet = subnetwork(session, "subnet-2", "subnet-vpc-2")
    assert subnet.build() == "created"
    assert subnet.build() == "unchanged"
    subnet.teardown()
    vpc.teardown()


# -- firewall --------------------------------------------------------------------------------------------


def firewall(session: Session, fw_name: str, vpc_name: str) -> Deployer:
    return Deployer(
        session,
        "firewalls.iql",
        {
            "project": PROJECT,
            "fw_name": fw_name,
            "vpc_link": vpc_link(vpc_name),
            "fw_direction": "INGRESS",
            "fw_source_ranges": json.dumps(["10.240.0.0/24", "10.200.0.0/16"]),
            "fw_allowed": json.dumps([{"IPProtocol": "tcp"}, {"IPProtocol": "udp"}, {"IPProtocol": "icmp"}]),
        },
    )


def test_firewall_is_created_updated_exported_and_deleted_by_its_name(session, emulator):
    vpc = network(session, "fw-vpc")
    vpc.build()
    fw = firewall(session, "k8s-dev-allow-internal-fw", "fw-vpc")
    assert fw.count("exists") == 0
    fw.run("create")
    assert fw.count("exists") == 1
    fw.props["fw_source_ranges"] = json.dumps(["10.240.0.0/24"])
    fw.run("update")
    rows = session.execute(
        f"SELECT network, direction, sourceRanges, allowed FROM google.compute.firewalls "
        f"WHERE project = '{PROJECT}' AND firewall = 'k8s-dev-allow-internal-fw'"
    ).rows
    assert rows[0][:2] == (vpc_link("fw-vpc"), "INGRESS")
    assert json.loads(rows[0][2]) == ["10.240.0.0/24"]
    assert json.loads(rows[0][3]) == [{"IPProtocol": "tcp"}, {"IPProtocol": "udp"}, {"IPProtocol": "icmp"}]
    assert fw.exports()["fw_link"].endswith(f"/projects/{PROJECT}/global/firewalls/k8s-dev-allow-internal-fw")
    fw.teardown()
    vpc.teardown()


def test_firewall_full_lifecycle_with_its_json_equal_statecheck(session):
    vpc = network(session, "fw-vpc-2")
    vpc.build()
    fw = firewall(session, "fw-2", "fw-vpc-2")
    assert fw.build() == "created"
    assert fw.build() == "unchanged"
    fw.teardown()
    vpc.teardown()


# -- bucket ----------------------------------------------------------------------------------------------


def bucket(session: Session, bucket_name: str) -> Deployer:
    return Deployer(
        session,
        "bucket.iql",
        {
            "project": PROJECT,
            "bucket_name": bucket_name,
            "location": "US",
            "labels": json.dumps({"provisioner": "stackql", "purpose": "e2e"}),
        },
    )


def test_bucket_is_created_labelled_checked_exported_and_deleted(session, emulator):
    b = bucket(session, "deploy-e2e-bucket-1")
    b.run("create")
    assert b.count("exists") == 1
    assert b.count("statecheck") == 0, "no labels yet"
    b.run("update")
    assert b.count("statecheck") == 1
    exported = b.exports()
    assert exported["bucket_name"] == "deploy-e2e-bucket-1"
    assert exported["bucket_link"] == "https://storage.googleapis.com/storage/v1/b/deploy-e2e-bucket-1"
    listed = session.execute(f"SELECT name FROM google.storage.buckets WHERE project = '{PROJECT}'").rows
    assert listed == [("deploy-e2e-bucket-1",)], "a bucket lists under the project it was created in"
    b.teardown(check_exists=False)
    assert session.execute(f"SELECT name FROM google.storage.buckets WHERE project = '{PROJECT}'").rows == []


def test_bucket_full_lifecycle_counts_zero_before_create_and_after_delete(session):
    b = bucket(session, "deploy-e2e-bucket-2")
    assert b.count("exists") == 0
    b.run("create")
    b.run("update")
    assert b.build() == "unchanged"
    b.teardown()


# -- service account -------------------------------------------------------------------------------------


def service_account(session: Session, account_id: str, display_name: str) -> Deployer:
    return Deployer(
        session,
        "service_account.iql",
        {
            "project": PROJECT,
            "account_id": account_id,
            "sa_email": f"{account_id}@{PROJECT}.iam.gserviceaccount.com",
            "display_name": display_name,
            "service_account": json.dumps({"displayName": display_name, "description": "k8s nodes"}),
        },
    )


def run_service_account_lifecycle(session: Session) -> None:
    sa = service_account(session, "k8s-dev-nodes", "k8s dev nodes")
    assert sa.build() == "created"
    assert sa.build() == "unchanged"
    changed = service_account(session, "k8s-dev-nodes", "k8s dev worker nodes")
    assert changed.build() == "updated"
    exported = changed.exports()
    assert exported["sa_email"] == f"k8s-dev-nodes@{PROJECT}.iam.gserviceaccount.com"
    assert exported["sa_name"] == f"projects/{PROJECT}/serviceAccounts/{exported['sa_email']}"
    assert exported["sa_unique_id"].isdigit() and len(exported["sa_unique_id"]) == 21
    changed.teardown()


@pytest.fixture(scope="module")
def iam_v1_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """The registry with google.iam built from IAM v1's discovery document (as StackQL serves it)."""
    import googleapiclient

    doc = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "iam.v1.json"
    model = build_service("iam", json.loads(doc.read_text()), {})
    src = default_providers_dir() / "google"
    out = tmp_path_factory.mktemp("providers") / "google"
    (out / "services").mkdir(parents=True)
    for path in (src / "services").iterdir():
        if path.name != "iam.json.gz":
            os.symlink(path, out / "services" / path.name)
    (out / "services" / "iam.json.gz").write_bytes(gzip.compress(json.dumps(model).encode()))
    index = json.loads((src / "provider.json").read_text())
    for service in index["services"]:
        if service["name"] == "iam":
            service.update(id="iam:v1", version="v1", resources=sorted(model["resources"]))
    (out / "provider.json").write_text(json.dumps(index))
    return Registry(out.parent)


def test_service_account_lifecycle_runs_against_an_iam_v1_registry(iam_v1_registry, tmp_path):
    with Emulator(registry=iam_v1_registry) as emu:
        sess = open_session(emu, emu.make_key(tmp_path / "key.json"))
        sess.registry = iam_v1_registry
        with sess:
            run_service_account_lifecycle(sess)
            created = [r for r in emu.requests if r["method"] == "POST" and r["path"] != "/token"][0]
            assert created["body"] == {
                "accountId": "k8s-dev-nodes",
                "serviceAccount": {"displayName": "k8s dev nodes", "description": "k8s nodes"},
            }
            seeded = sess.execute(
                "SELECT email FROM google.iam.service_accounts WHERE projectsId = 'demo-project'"
            )
            assert [r[0] for r in seeded.rows][:2] == [
                "service-account-1@demo-project.iam.gserviceaccount.com",
                "service-account-2@demo-project.iam.gserviceaccount.com",
            ]


def test_service_account_lifecycle_runs_with_the_built_in_registry(session):
    run_service_account_lifecycle(session)


# -- long-running operations ------------------------------------------------------------------------------


def test_compute_insert_with_await_polls_the_operation_self_link_until_done(session, emulator):
    result = session.execute(
        f"INSERT /*+ AWAIT */ INTO google.compute.networks (project, data__name) "
        f"SELECT '{PROJECT}', 'awaited-vpc'"
    )
    assert "finished" in result.message
    polls = api_calls(emulator, "GET", f"/projects/{PROJECT}/global/operations/")
    assert len(polls) == 2, "the emulator finishes an operation on its second read"
    deleted = session.execute(
        f"DELETE FROM google.compute.networks WHERE project = '{PROJECT}' AND network = 'awaited-vpc'"
    )
    assert "started (add /*+ AWAIT */ to wait)" in deleted.message


def test_compute_insert_answers_a_compute_operation(emulator, access_token):
    import httpx

    reply = httpx.post(
        f"{emulator.url}/compute/v1/projects/{PROJECT}/zones/us-central1-a/disks",
        json={"name": "op-disk", "sizeGb": "10"},
        headers={"Authorization": f"Bearer {access_token}"},
    )
    op = reply.json()
    assert op["kind"] == "compute#operation"
    assert op["operationType"] == "insert" and op["status"] == "PENDING"
    assert op["targetLink"].endswith(f"/projects/{PROJECT}/zones/us-central1-a/disks/op-disk")
    assert op["zone"].endswith("/zones/us-central1-a")
    path = op["selfLink"].removeprefix("https://compute.googleapis.com")
    assert path == f"/compute/v1/projects/{PROJECT}/zones/us-central1-a/operations/{op['name']}"
    statuses = [
        httpx.get(emulator.url + path, headers={"Authorization": f"Bearer {access_token}"}).json()["status"]
        for _ in range(2)
    ]
    assert statuses == ["RUNNING", "DONE"]
