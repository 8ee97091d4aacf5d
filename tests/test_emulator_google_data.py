"""The emulator's default data for a StackQL user's day: compute, storage, projects, named as people name them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from skyql.emulator import Emulator
from skyql.errors import ApiError
from skyql.session import Session

COMPUTE = "/compute/v1/projects"


def get(emulator: Emulator, token: str, path: str, **query: Any) -> dict[str, Any]:
    reply = httpx.get(emulator.url + path, params=query, headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    return reply.json()


def column(session: Session, sql: str) -> list[Any]:
    return [row[0] for row in session.execute(sql).rows]


# -- aggregatedList ---------------------------------------------------------------------------------------


def test_aggregated_list_keys_items_by_zone_and_its_pages_end(emulator, access_token):
    path = f"{COMPUTE}/demo-project/aggregated/instances"
    first = get(emulator, access_token, path)
    assert "nextPageToken" not in first, "15 instances fit one page: no token"
    assert first["kind"] == "compute#instanceAggregatedList"
    assert list(first["items"]) == ["zones/us-central1-a", "zones/europe-west4-a", "zones/asia-east1-a"]
    names = [i["name"] for i in first["items"]["zones/us-central1-a"]["instances"]]
    assert names == ["instance-1", "instance-2", "instance-3", "instance-4", "instance-5"]
    # Paged 4 at a time: every instance once, then no token.
    seen, token, pages = [], None, 0
    while True:
        page = get(emulator, access_token, path, maxResults=4, **({"pageToken": token} if token else {}))
        pages += 1
        for scope, entry in page["items"].items():
            seen += [(scope, i["name"]) for i in entry.get("instances", [])]
            if "instances" not in entry:
                assert entry["warning"]["code"] == "NO_RESULTS_ON_PAGE"
        token = page.get("nextPageToken")
        if not token:
            break
    assert pages == 4 and len(seen) == 15 and len(set(seen)) == 15


def test_aggregated_list_of_subnetworks_is_by_region_and_holds_created_ones(emulator, access_token):
    reply = httpx.post(
        f"{emulator.url}{COMPUTE}/agg-project/regions/us-east1/subnetworks",
        json={"name": "east", "ipCidrRange": "10.0.0.0/24"},
        headers={"Authorization": f"Bearer {access_token}"},
    )
    assert reply.status_code == 200, reply.text
    page = get(emulator, access_token, f"{COMPUTE}/agg-project/aggregated/subnetworks")
    assert page["items"] == {
        "regions/us-east1": {"subnetworks": [page["items"]["regions/us-east1"]["subnetworks"][0]]}
    }
    assert page["items"]["regions/us-east1"]["subnetworks"][0]["name"] == "east"


def test_a_project_only_compute_query_reads_every_zone_through_the_aggregated_list(session, emulator):
    rows = session.execute(
        "SELECT name, status, zone FROM google.compute.instances WHERE project = 'demo-project'"
    ).rows
    assert len(rows) == 15
    zones = sorted({zone.rsplit("/", 1)[-1] for _, _, zone in rows})
    assert zones == ["asia-east1-a", "europe-west4-a", "us-central1-a"]
    calls = [r["path"] for r in emulator.requests if r["path"] != "/token"]
    assert calls == ["/compute/v1/projects/demo-project/aggregated/instances"]


def test_a_project_only_compute_query_follows_aggregated_pages_to_the_end(emulator, key_file):
    from skyql.session import Options
    from tests.support import auth_for

    with Session(Options(auth=auth_for(key_file), endpoints={"google": emulator.url}, page_size=4)) as sess:
        emulator.clear_log()
        counted = sess.execute(
            "SELECT count(*), count(DISTINCT selfLink) FROM google.compute.instances "
            "WHERE project = 'demo-project'"
        ).rows
    assert counted == [(15, 15)]
    pages = [r for r in emulator.requests if r["path"].endswith("/aggregated/instances")]
    assert len(pages) == 4


# -- names -------------------------------------------------------------------------------------------------


def test_a_network_created_by_name_lists_and_reads_under_that_name(session):
    session.execute(
        "INSERT INTO google.compute.networks (project, data__name) SELECT 'names-project', 'my-vpc'"
    )
    assert column(session, "SELECT name FROM google.compute.networks WHERE project = 'names-project'") == [
        "my-vpc"
    ]
    got = session.execute(
        "SELECT name, id, kind, selfLink FROM google.compute.networks "
        "WHERE project = 'names-project' AND network = 'my-vpc'"
    ).rows[0]
    assert got[0] == "my-vpc" and str(got[1]).isdigit() and got[2] == "compute#network"
    assert got[3] == "https://compute.googleapis.com/compute/v1/projects/names-project/global/networks/my-vpc"


def test_creating_a_network_twice_or_without_a_name_is_refused(emulator, access_token):
    url = f"{emulator.url}{COMPUTE}/names-project-2/global/networks"
    headers = {"Authorization": f"Bearer {access_token}"}
    assert httpx.post(url, json={"name": "twice"}, headers=headers).status_code == 200
    again = httpx.post(url, json={"name": "twice"}, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["status"] == "ALREADY_EXISTS"
    nameless = httpx.post(url, json={"description": "no name"}, headers=headers)
    assert nameless.status_code == 400 and "resource.name" in nameless.json()["error"]["message"]


# -- seeded data -----------------------------------------------------------------------------------------


def test_demo_project_has_named_networks_firewalls_subnetworks_instances_and_disks(session):
    def names(resource: str, where: str = "") -> list[str]:
        return column(
            session, f"SELECT name FROM google.compute.{resource} WHERE project = 'demo-project'{where}"
        )

    assert names("networks") == [f"network-{i}" for i in range(1, 6)]
    assert names("firewalls") == [f"firewall-{i}" for i in range(1, 6)]
    assert names("subnetworks", " AND region = 'us-central1'") == [f"subnetwork-{i}" for i in range(1, 6)]
    assert names("instances", " AND zone = 'europe-west4-a'") == [f"instance-{i}" for i in range(1, 6)]
    assert names("disks", " AND zone = 'us-central1-a'") == [f"disk-{i}" for i in range(1, 6)]
    status = column(
        session,
        "SELECT status FROM google.compute.instances WHERE project = 'demo-project' "
        "AND zone = 'us-central1-a' AND instance = 'instance-2'",
    )
    assert len(status) == 1 and status[0].isupper()
    joined = session.execute(
        "SELECT s.name, n.name FROM google.compute.subnetworks s JOIN google.compute.networks n "
        "ON s.network = n.selfLink WHERE s.project = 'demo-project' AND s.region = 'us-central1' "
        "AND n.project = 'demo-project'"
    ).rows
    assert joined == [(f"subnetwork-{i}", "network-1") for i in range(1, 6)], (
        "seeded items point at each other"
    )
    ips = session.execute(
        "SELECT JSON_EXTRACT(networkInterfaces, '$[0].networkIP'), "
        "JSON_EXTRACT(networkInterfaces, '$[0].accessConfigs[0].natIP') "
        "FROM google.compute.instances WHERE project = 'demo-project' AND zone = 'us-central1-a'"
    ).rows
    assert (
        all(ip.count(".") == 3 and nat.count(".") == 3 for ip, nat in ips) and len({ip for ip, _ in ips}) == 5
    )
    assert column(session, "SELECT name FROM google.compute.networks WHERE project = 'other-project'") == []


def test_demo_project_has_buckets_with_objects_and_other_projects_have_none(session):
    buckets = session.execute(
        "SELECT name, id, projectNumber, location FROM google.storage.buckets WHERE project = 'demo-project'"
    ).rows
    assert [b[0] for b in buckets] == [f"bucket-demo-project-{i}" for i in range(1, 6)]
    assert all(b[0] == b[1] for b in buckets), "a bucket's id is its name"
    number = column(session, "SELECT id FROM google.compute.projects WHERE project = 'demo-project'")
    assert {b[2] for b in buckets} == {int(number[0])}
    objects = column(
        session, "SELECT name FROM google.storage.objects WHERE bucket = 'bucket-demo-project-1'"
    )
    assert len(objects) == 5
    assert column(session, "SELECT name FROM google.storage.buckets WHERE project = 'someone-else'") == []


def test_demo_project_is_readable_from_compute_and_resource_manager(session, emulator, access_token):
    compute = session.execute(
        "SELECT name, id, kind, defaultServiceAccount FROM google.compute.projects "
        "WHERE project = 'demo-project'"
    ).rows
    name, number, kind, account = compute[0]
    assert (name, kind) == ("demo-project", "compute#project")
    assert account == f"{number}-compute@developer.gserviceaccount.com"
    crm = session.execute(
        "SELECT name, projectId, displayName, state, parent FROM google.cloudresourcemanager.projects "
        "WHERE projectsId = 'demo-project'"
    ).rows
    assert crm[0][:4] == (f"projects/{number}", "demo-project", "demo-project", "ACTIVE")
    parent = crm[0][4]
    listed = get(emulator, access_token, "/v3/projects", parent=parent)
    assert [p["projectId"] for p in listed["projects"]] == ["demo-project"]
    assert get(emulator, access_token, "/v3/projects", parent="folders/1") == {}
    found = get(emulator, access_token, "/v3/projects:search", query="id:demo-project")
    assert [p["projectId"] for p in found["projects"]] == ["demo-project"]
    assert get(emulator, access_token, f"/v3/projects/{number}")["projectId"] == "demo-project"


def test_the_same_seed_gives_the_same_compute_data(emulator, access_token, tmp_path):
    with Emulator(require_auth=False) as other:
        path = f"{COMPUTE}/demo-project/zones/us-central1-a/instances"
        mine = get(emulator, access_token, path)
        theirs = httpx.get(other.url + path).json()
        assert mine == theirs


def test_stopping_and_starting_an_instance_moves_its_status(session, emulator):
    where = "@project = 'ops-project', @zone = 'us-central1-a', @instance = 'web-1'"
    session.execute(
        "INSERT INTO google.compute.instances (project, zone, data__name, data__machineType) "
        "SELECT 'ops-project', 'us-central1-a', 'web-1', 'zones/us-central1-a/machineTypes/e2-small'"
    )

    def status() -> str:
        return column(
            session,
            "SELECT status FROM google.compute.instances WHERE project = 'ops-project' "
            "AND zone = 'us-central1-a' AND instance = 'web-1'",
        )[0]

    stopped = session.execute(f"EXEC /*+ AWAIT */ google.compute.instances.stop {where}")
    assert "finished" in stopped.message and status() == "STOPPED"
    op = dict(zip(stopped.columns, stopped.rows[0], strict=True))
    assert op["operationType"] == "stop" and op["status"] == "DONE"
    assert op["targetLink"].endswith("/projects/ops-project/zones/us-central1-a/instances/web-1")
    session.execute(f"EXEC /*+ AWAIT */ google.compute.instances.start {where}")
    assert status() == "RUNNING"
    with pytest.raises(ApiError, match="404"):
        session.execute(
            "EXEC google.compute.instances.stop @project = 'ops-project', @zone = 'us-central1-a', "
            "@instance = 'missing'"
        )


def test_populated_and_added_buckets_list_under_the_default_project():
    with Emulator(require_auth=False) as emu:
        assert emu.populate("storage", "b", 3) == 8, "5 seeded, 3 more"
        emu.add("storage", "b", {"name": "hand-made-bucket"})
        page = httpx.get(f"{emu.url}/storage/v1/b", params={"project": "demo-project"}).json()
        names = [b["name"] for b in page["items"]]
        assert len(names) == 9 and names[-1] == "hand-made-bucket"
        assert httpx.get(f"{emu.url}/storage/v1/b", params={"project": "other"}).json() == {}
        missing = httpx.get(f"{emu.url}/storage/v1/b")
        assert missing.status_code == 400 and "project" in missing.json()["error"]["message"]


# -- storage's object transfers ----------------------------------------------------------------------------


def test_moving_an_object_renames_it_and_copying_one_keeps_both(session, emulator):
    emulator.add("storage", "b/transfer-bkt/o", {"name": "a.txt", "bucket": "transfer-bkt"})
    session.execute(
        "EXEC google.storage.objects.move @bucket = 'transfer-bkt', @sourceObject = 'a.txt', "
        "@destinationObject = 'b.txt'"
    )
    assert column(session, "SELECT name FROM google.storage.objects WHERE bucket = 'transfer-bkt'") == [
        "b.txt"
    ]
    session.execute(
        "EXEC google.storage.objects.copy @sourceBucket = 'transfer-bkt', @sourceObject = 'b.txt', "
        "@destinationBucket = 'transfer-copy', @destinationObject = 'c.txt' @@json = '{}'"
    )
    assert column(session, "SELECT name FROM google.storage.objects WHERE bucket = 'transfer-bkt'") == [
        "b.txt"
    ]
    assert column(session, "SELECT bucket FROM google.storage.objects WHERE bucket = 'transfer-copy'") == [
        "transfer-copy"
    ]
    with pytest.raises(ApiError, match="404"):
        session.execute(
            "EXEC google.storage.objects.move @bucket = 'transfer-bkt', @sourceObject = 'a.txt', "
            "@destinationObject = 'd.txt'"
        )
