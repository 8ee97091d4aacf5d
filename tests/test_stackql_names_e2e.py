"""StackQL users' Google statements run with StackQL's names, end to end against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyql.emulator import Emulator
from skyql.errors import ParameterError
from skyql.session import Options, Session
from tests.support import auth_for


@pytest.fixture
def session(emulator: Emulator, key_file: Path) -> Iterator[Session]:
    with Session(Options(auth=auth_for(key_file), endpoints={"google": emulator.url})) as sess:
        yield sess


@pytest.fixture
def dry(emulator: Emulator, key_file: Path) -> Iterator[Session]:
    with Session(Options(auth=auth_for(key_file), endpoints={"google": emulator.url}, dryrun=True)) as sess:
        yield sess


def sent(emulator: Emulator, fragment: str, method: str = "GET") -> list[dict[str, Any]]:
    return [r for r in emulator.requests if r["method"] == method and fragment in r["path"]]


def test_cloudasset_assets_take_a_whole_parent_name(session, emulator):
    for asset_type in (
        "compute.googleapis.com/Disk",
        "compute.googleapis.com/Disk",
        "storage.googleapis.com/Bucket",
    ):
        emulator.add("cloudasset", "v1/projects/123123123123/assets", {"assetType": asset_type})
    # StackQL's `{parentType}/{parent}`: `parent = 'projects/123'` alone gives both halves.
    result = session.execute(
        "SELECT assetType, COUNT(*) FROM google.cloudasset.assets "
        "WHERE parent = 'projects/123123123123' GROUP BY assetType ORDER BY assetType"
    )
    assert result.rows == [("compute.googleapis.com/Disk", 2), ("storage.googleapis.com/Bucket", 1)]
    assert sent(emulator, "/v1/projects/123123123123/assets")


def test_cloudasset_assets_take_parent_type_and_parent_apart(dry):
    (row,) = dry.execute(
        "SELECT assetType FROM google.cloudasset.assets WHERE parentType = 'folders' AND parent = '42'"
    ).rows
    assert row[1] == "list" and "/v1/folders/42/assets" in row[2]


def test_one_logging_sinks_resource_serves_every_parent(session, emulator):
    session.execute(
        "INSERT INTO google.logging.sinks (organizationsId, data__name, data__destination) "
        "SELECT '4242', 'org-sink', 'storage.googleapis.com/bkt'"
    )
    assert sent(emulator, "/v2/organizations/4242/sinks", "POST")
    rows = session.execute(
        "SELECT name, destination FROM google.logging.sinks WHERE organizationsId = '4242'"
    ).rows
    assert [destination for _, destination in rows] == ["storage.googleapis.com/bkt"]
    session.execute(
        "INSERT INTO google.logging.sinks (projectsId, data__name, data__destination) "
        "SELECT 'sink-proj', 'proj-sink', 'storage.googleapis.com/other'"
    )
    assert session.execute(
        "SELECT destination FROM google.logging.sinks WHERE projectsId = 'sink-proj'"
    ).rows == [("storage.googleapis.com/other",)]
    sink_id = rows[0][0].rsplit("/", 1)[-1]
    session.execute(
        f"DELETE FROM google.logging.sinks WHERE organizationsId = '4242' AND sinksId = '{sink_id}'"
    )
    assert sent(emulator, f"/v2/organizations/4242/sinks/{sink_id}", "DELETE")
    assert session.execute("SELECT name FROM google.logging.sinks WHERE organizationsId = '4242'").rows == []


def test_a_resource_with_several_parents_names_each_alternative_when_none_fits(session):
    with pytest.raises(ParameterError) as err:
        session.execute("SELECT name FROM google.logging.sinks")
    message = str(err.value)
    for alternative in (
        "organizationsId (organizations_sinks_list)",
        "projectsId (projects_sinks_list)",
        "foldersId (folders_sinks_list)",
        "billingAccountsId",
    ):
        assert alternative in message


def test_bigquery_takes_projectId_datasetId_and_tableId(dry):
    (row,) = dry.execute(
        "SELECT id FROM google.bigquery.tables WHERE projectId = 'p' AND datasetId = 'd' AND tableId = 't'"
    ).rows
    assert row[1] == "get" and "/bigquery/v2/projects/p/datasets/d/tables/t" in row[2]


def test_sqladmin_instances_and_iam_v1_roles_are_stackqls(dry):
    (row,) = dry.execute("SELECT name FROM google.sqladmin.instances WHERE project = 'p'").rows
    assert row[:2] == ("google.sqladmin.instances", "list") and "/v1/projects/p/instances" in row[2]
    (row,) = dry.execute("SELECT name FROM google.iam.roles WHERE projectsId = 'p'").rows
    assert row[1] == "list_project_roles" and "/v1/projects/p/roles" in row[2]


def test_compute_regional_and_global_collections_are_one_resource(dry):
    (regional,) = dry.execute(
        "SELECT name FROM google.compute.addresses WHERE project = 'p' AND region = 'r'"
    ).rows
    assert "/compute/v1/projects/p/regions/r/addresses" in regional[2]
    (project_wide,) = dry.execute("SELECT name FROM google.compute.xpn_hosts WHERE project = 'p'").rows
    assert project_wide[1] == "list_xpn_hosts" and "/projects/p/listXpnHosts" in project_wide[2]


def test_exec_takes_stackqls_older_method_spellings(dry):
    (attach,) = dry.execute(
        "EXEC google.compute.instances.attachDisk @project = 'p', @zone = 'z', "
        "@instance = 'i' @@json = '{\"source\": \"d\"}'"
    ).rows
    assert (
        attach[1] == "attach_disk"
        and attach[2].startswith("POST ")
        and "/instances/i/attachDisk" in attach[2]
    )
    (policy,) = dry.execute(
        "EXEC google.storage.buckets.setIamPolicy @bucket = 'b' @@json = '{\"bindings\": []}'"
    ).rows
    assert policy[:2] == ("google.storage.buckets_iam_policies", "set_iam_policy")
    assert policy[2].startswith("PUT ") and "/storage/v1/b/b/iam" in policy[2]
    (cancel,) = dry.execute("EXEC google.ml.jobs.cancel @projectsId = 'p', @jobsId = 'j'").rows
    assert cancel[:2] == ("google.ml.jobs", "projects_jobs_cancel")


def test_exec_on_a_merged_compute_resource_picks_the_regional_method_by_its_parameters(session, emulator):
    emulator.add("compute", "projects/demo-project/regions/us-central1/disks", {"name": "replicated"})
    session.execute(
        "EXEC google.compute.disks.stop_async_replication @project = 'demo-project', "
        "@region = 'us-central1', @disk = 'replicated'"
    )
    assert sent(
        emulator, "/projects/demo-project/regions/us-central1/disks/replicated/stopAsyncReplication", "POST"
    )
    with pytest.raises(ParameterError, match="has no parameter @zones.*it takes @project, @zone, @disk"):
        session.execute(
            "EXEC google.compute.disks.stop_async_replication @project = 'demo-project', "
            "@zones = 'us-central1-a', @disk = 'replicated'"
        )


def test_stackqls_older_compute_resource_names_reach_their_collection_in_the_merged_resource(
    session, emulator
):
    emulator.add("compute", "projects/demo-project/global/addresses", {"name": "old-name-global"})
    emulator.add(
        "compute", "projects/demo-project/regions/us-central1/addresses", {"name": "old-name-regional"}
    )
    # `global_addresses` with the project alone reads the global collection, not the regional aggregate.
    names = [
        n
        for (n,) in session.execute(
            "SELECT name FROM google.compute.global_addresses WHERE project = 'demo-project'"
        ).rows
    ]
    assert "old-name-global" in names and "old-name-regional" not in names
    session.execute(
        "DELETE FROM google.compute.global_addresses WHERE project = 'demo-project' "
        "AND address = 'old-name-global'"
    )
    assert sent(emulator, "/projects/demo-project/global/addresses/old-name-global", "DELETE")
    listed = session.execute("SHOW RESOURCES IN google.compute LIKE '%addresses'").rows
    assert [row[0] for row in listed] == ["addresses"]  # the old name is an alias, not a resource of its own


def test_paged_custom_methods_of_the_emulator_end_after_their_one_page(session, emulator):
    # A generated response carries no nextPageToken: one that named the same page again never ended.
    session.execute("SELECT id FROM google.compute.xpn_resources WHERE project = 'demo-project'")
    assert len(sent(emulator, "/projects/demo-project/getXpnResources")) == 1


def test_serviceusage_batch_get_is_a_select_when_where_gives_names(session, emulator):
    # StackQL's registry docs: `SELECT services ... WHERE parentType AND parent AND names`; a parent given with
    # its type as well (`projects/demo-project`, as its description has it) does not repeat the type.
    wanted = "projects/demo-project/services/compute.googleapis.com"
    rows = session.execute(
        "SELECT services FROM google.serviceusage.services WHERE parentType = 'projects' "
        f"AND parent = 'projects/demo-project' AND names = '{wanted}'"
    ).rows
    assert len(rows) == 1
    [call] = sent(emulator, "/v1/projects/demo-project/services:batchGet")
    assert call["query"]["names"] == [wanted]
    session.execute(
        "SELECT name FROM google.serviceusage.services WHERE parentType = 'projects' "
        "AND parent = 'projects/demo-project'"
    )
    assert sent(emulator, "/v1/projects/demo-project/services")  # without names: the list, as before


def test_a_generic_segment_takes_a_whole_relative_name(dry):
    # StackQL keeps Google's `{v1Id}` for iap's `{+name}`: its value is a relative name, slashes included.
    (row,) = dry.execute("SELECT * FROM google.iap.iap_settings WHERE v1Id = 'projects/1/iap_web'").rows
    assert row[2].endswith("/v1/projects/1/iap_web:iapSettings")
    (row,) = dry.execute("SELECT name FROM google.logging.sinks WHERE sinkName = 'projects/p/sinks/s'").rows
    assert row[1] == "sinks_get" and row[2].split("?")[0].endswith("/v2/projects/p/sinks/s")


def test_mutations_pick_the_method_their_parameters_fit_or_name_the_alternatives(dry):
    (patch,) = dry.execute(
        "UPDATE google.logging.sinks SET data__destination = 'storage.googleapis.com/x' "
        "WHERE foldersId = 'f' AND sinksId = 's'"
    ).rows
    assert (
        patch[1] == "folders_sinks_patch"
        and patch[2].startswith("PATCH ")
        and "/v2/folders/f/sinks/s" in patch[2]
    )
    (put,) = dry.execute(
        "REPLACE google.logging.sinks SET data__destination = 'storage.googleapis.com/x' "
        "WHERE sinkName = 'projects/p/sinks/s'"
    ).rows
    assert put[1] == "sinks_update" and "/v2/projects/p/sinks/s " in put[2]
    with pytest.raises(ParameterError) as err:
        dry.execute("INSERT INTO google.logging.sinks (data__name) SELECT 'x'")
    assert "projectsId (projects_sinks_create)" in str(err.value) and "got none" in str(err.value)
    with pytest.raises(ParameterError) as err:
        dry.execute("DELETE FROM google.logging.sinks WHERE sinksId = 's'")
    assert "projectsId and sinksId (projects_sinks_delete)" in str(err.value)
