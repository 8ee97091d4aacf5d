"""Every script in examples/ runs through the `skyql` command against the emulator and says what it should.

Each test seeds its own project with known jobs, runs the example unchanged with its vars file (the project
given with --var, which wins), and checks the rows printed and, for the cleanup, what the emulator received.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from skyql.cli.main import main
from skyql.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HPT_COLLECTION = "projects/{project}/locations/{location}/hyperparameterTuningJobs"


def skyql(
    *args: str, emulator: Emulator | None = None, key_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`skyql exec ARGS` in a subprocess, pointed at the emulator when one is given."""
    connection: list[str] = []
    if emulator is not None and key_file is not None:
        auth = {"google": {"type": "service_account", "credentialsfilepath": str(key_file)}}
        connection = ["--endpoint", f"google={emulator.url}", "--auth", json.dumps(auth)]
    return subprocess.run(
        [sys.executable, "-m", "skyql.cli.main", "exec", *args, *connection],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=dict(os.environ),
    )


def run_example(name: str, vars_file: str, project: str, emulator: Emulator, key_file: Path) -> list[Any]:
    """Run examples/<name>.iql with its vars file and -o json; returns one list of rows per statement."""
    done = skyql(
        "-i",
        f"examples/{name}.iql",
        "--iqldata",
        f"examples/{vars_file}",
        "--var",
        f"project={project}",
        "-o",
        "json",
        emulator=emulator,
        key_file=key_file,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def hpt_job(
    emulator: Emulator,
    project: str,
    location: str,
    name: str,
    state: str,
    *,
    metric: str = "accuracy",
    trials: tuple[str, ...] = (),
    error: str | None = None,
    ended_days_ago: int = 60,
) -> str:
    """Add a tuning job to the emulator; returns its id (the last segment of its name)."""
    ended = datetime.now(UTC) - timedelta(days=ended_days_ago)
    item: dict[str, Any] = {
        "displayName": name,
        "state": state,
        "maxTrialCount": 10,
        "createTime": (ended - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endTime": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "studySpec": {"metrics": [{"metricId": metric, "goal": "MAXIMIZE"}], "algorithm": "RANDOM_SEARCH"},
        "trials": [{"id": str(i + 1), "state": s} for i, s in enumerate(trials)],
    }
    if error is not None:
        item["error"] = {"code": 9, "message": error}
    added = emulator.add("aiplatform", HPT_COLLECTION.format(project=project, location=location), item)
    return added["name"].rsplit("/", 1)[-1]


def test_the_tuning_report_counts_states_lists_failures_and_reads_trials_and_metrics(emulator, key_file):
    project = "ex-report"
    failed = hpt_job(
        emulator,
        project,
        "us-central1",
        "lr-sweep",
        "JOB_STATE_FAILED",
        metric="auc",
        trials=("SUCCEEDED", "INFEASIBLE"),
        error="Trial 2 ran out of memory.",
    )
    hpt_job(
        emulator,
        project,
        "us-central1",
        "depth-sweep",
        "JOB_STATE_SUCCEEDED",
        metric="accuracy",
        trials=("SUCCEEDED", "SUCCEEDED", "STOPPING"),
    )
    hpt_job(
        emulator, project, "europe-west4", "eu-sweep", "JOB_STATE_RUNNING", metric="loss", trials=("ACTIVE",)
    )
    hpt_job(emulator, project, "europe-west4", "eu-sweep-2", "JOB_STATE_SUCCEEDED", metric="loss")

    by_state, failures, jobs, trials = run_example(
        "vertex_tuning_report", "vertex_tuning_report.yaml", project, emulator, key_file
    )

    assert by_state == [
        {"location": "europe-west4", "state": "JOB_STATE_RUNNING", "jobs": 1},
        {"location": "europe-west4", "state": "JOB_STATE_SUCCEEDED", "jobs": 1},
        {"location": "us-central1", "state": "JOB_STATE_FAILED", "jobs": 1},
        {"location": "us-central1", "state": "JOB_STATE_SUCCEEDED", "jobs": 1},
    ]
    assert [
        (f["location"], f["job_id"], f["displayName"], str(f["error_code"]), f["error_message"])
        for f in failures
    ] == [("us-central1", failed, "lr-sweep", "9", "Trial 2 ran out of memory.")]
    assert [(j["location"], j["displayName"], j["trials_run"], j["metric_id"], j["goal"]) for j in jobs] == [
        ("europe-west4", "eu-sweep", 1, "loss", "MAXIMIZE"),
        ("europe-west4", "eu-sweep-2", 0, "loss", "MAXIMIZE"),
        ("us-central1", "depth-sweep", 3, "accuracy", "MAXIMIZE"),
        ("us-central1", "lr-sweep", 2, "auc", "MAXIMIZE"),
    ]
    assert {t["trial_state"]: t["trials"] for t in trials} == {
        "SUCCEEDED": 3,
        "INFEASIBLE": 1,
        "STOPPING": 1,
        "ACTIVE": 1,
    }


def test_the_cleanup_deletes_exactly_the_old_failed_jobs_and_reports_them_first(
    emulator, key_file, monkeypatch
):
    # Operations finish at once, so that /*+ AWAIT */ does not wait.
    monkeypatch.setattr(emulator.config, "operation_polls", 0)
    project = "ex-cleanup"
    old_failed = {
        ("us-central1", hpt_job(emulator, project, "us-central1", "f1", "JOB_STATE_FAILED", error="boom")),
        ("us-central1", hpt_job(emulator, project, "us-central1", "f2", "JOB_STATE_FAILED", error="bang")),
        ("europe-west4", hpt_job(emulator, project, "europe-west4", "f3", "JOB_STATE_FAILED", error="oops")),
    }
    recent_failure = hpt_job(
        emulator, project, "europe-west4", "f4", "JOB_STATE_FAILED", error="today", ended_days_ago=1
    )
    hpt_job(emulator, project, "us-central1", "ok", "JOB_STATE_SUCCEEDED")
    hpt_job(emulator, project, "europe-west4", "busy", "JOB_STATE_RUNNING")

    done = skyql(
        "-i",
        "examples/cleanup_failed_tuning_jobs.iql",
        "--iqldata",
        "examples/cleanup_failed_tuning_jobs.yaml",
        "--var",
        f"project={project}",
        "-o",
        "json",
        emulator=emulator,
        key_file=key_file,
    )

    assert done.returncode == 0, done.stderr
    will_go, left = [json.loads(line) for line in done.stdout.splitlines()]
    assert {(r["location"], r["job_id"]) for r in will_go} == old_failed
    deletes = [
        r for r in emulator.requests if r["method"] == "DELETE" and f"/projects/{project}/" in r["path"]
    ]
    assert sorted(r["path"] for r in deletes) == sorted(
        f"/v1/{HPT_COLLECTION.format(project=project, location=loc)}/{job_id}" for loc, job_id in old_failed
    )
    assert all(r["status"] == 200 for r in deletes)
    assert left == [
        {"location": "europe-west4", "state": "JOB_STATE_FAILED", "jobs": 1},
        {"location": "europe-west4", "state": "JOB_STATE_RUNNING", "jobs": 1},
        {"location": "us-central1", "state": "JOB_STATE_SUCCEEDED", "jobs": 1},
    ]
    assert recent_failure not in {job_id for _, job_id in old_failed}
    assert re.findall(r"(\d+) rows? deleted", done.stderr) == ["2", "1", "0"]


def test_the_iam_audit_finds_risky_roles_and_public_jobs(emulator, key_file, access_token):
    project = "ex-audit"
    policies = {
        "train_a": [
            {"role": "roles/owner", "members": ["user:alice@example.com"]},
            {"role": "roles/ml.viewer", "members": ["group:research@example.com"]},
        ],
        "train_b": [
            {"role": "roles/ml.viewer", "members": ["allUsers", "group:research@example.com"]},
            {"role": "roles/ml.admin", "members": ["user:carol@example.com"]},
        ],
        "train_c": [{"role": "roles/ml.viewer", "members": ["group:research@example.com"]}],
    }
    for job_id, bindings in policies.items():
        emulator.add("ml", f"projects/{project}/jobs", {"jobId": job_id, "state": "SUCCEEDED"})
        reply = httpx.post(
            f"{emulator.url}/v1/projects/{project}/jobs/{job_id}:setIamPolicy",
            json={"policy": {"bindings": bindings}},
            headers={"Authorization": f"Bearer {access_token}"},
        )
        assert reply.status_code == 200, reply.text

    findings, public, reach = run_example(
        "ml_jobs_iam_audit", "ml_jobs_iam_audit.json", project, emulator, key_file
    )

    assert [(f["jobId"], f["role"], f["member"], f["finding"]) for f in findings] == [
        ("train_b", "roles/ml.viewer", "allUsers", "public"),
        ("train_a", "roles/owner", "user:alice@example.com", "risky role"),
        ("train_b", "roles/ml.admin", "user:carol@example.com", "risky role"),
    ]
    assert public == [{"jobId": "train_b", "state": "SUCCEEDED", "public_roles": "roles/ml.viewer"}]
    assert reach[0] == {"member": "group:research@example.com", "jobs": 3, "roles": "roles/ml.viewer"}
    assert Counter(r["jobs"] for r in reach) == Counter({3: 1, 1: 3})


def readme_commands() -> list[str]:
    text = (EXAMPLES / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    lines = [line.strip() for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [line for line in lines if line.startswith("skyql exec")]


def test_every_example_has_a_vars_file_and_both_ways_to_run_it_in_the_readme():
    scripts = sorted(EXAMPLES.glob("*.iql"))
    assert len(scripts) >= 3
    commands = readme_commands()
    for script in scripts:
        vars_files = [p for p in EXAMPLES.glob(f"{script.stem}.*") if p.suffix in (".yaml", ".yml", ".json")]
        assert len(vars_files) == 1, f"{script.name} needs one vars file next to it"
        mine = [
            c for c in commands if f"examples/{script.name}" in c and f"examples/{vars_files[0].name}" in c
        ]
        assert any("--emulator" in c for c in mine), f"README: how to run {script.name} against the emulator"
        assert any("--emulator" not in c and "--auth" in c for c in mine), (
            f"README: how to run {script.name} against Google Cloud"
        )


EMULATOR_COMMANDS = [c for c in readme_commands() if "--emulator" in c]


@pytest.mark.parametrize(
    "command",
    EMULATOR_COMMANDS,
    ids=[re.search(r"examples/(\w+)\.iql", c).group(1) for c in EMULATOR_COMMANDS],
)
def test_the_readme_emulator_commands_run_as_written(command, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    status = main(shlex.split(command)[1:])  # in-process: the tests above cover the installed command
    out, err = capsys.readouterr()
    assert status == 0, err
    assert out.strip()
