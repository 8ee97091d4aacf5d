"""The skyql command: metadata statements, output formats, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

RESOURCE = "google.aiplatform.hyperparameter_tuning_jobs"


def skyql(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyql.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def test_show_methods_answers_as_stackqls_page_does():
    run = skyql("exec", "-o", "json", f"SHOW METHODS IN {RESOURCE}")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert rows[0] == {
        "MethodName": "get",
        "RequiredParams": "hyperparameterTuningJobsId, locationsId, projectsId",
        "SQLVerb": "SELECT",
    }
    assert [r["MethodName"] for r in rows] == ["get", "list", "create", "delete", "_list", "cancel"]


def test_extended_forms_add_a_description_column():
    for statement, columns in [
        (f"SHOW EXTENDED METHODS IN {RESOURCE}", ["MethodName", "RequiredParams", "SQLVerb", "description"]),
        (f"DESCRIBE EXTENDED {RESOURCE}", ["name", "type", "description"]),
        ("SHOW EXTENDED SERVICES IN google LIKE 'ml'", ["id", "name", "title", "description"]),
        ("SHOW EXTENDED RESOURCES IN google.ml LIKE 'jobs'", ["name", "id", "description"]),
    ]:
        run = skyql("exec", "-o", "json", statement)
        assert run.returncode == 0, run.stderr
        assert list(json.loads(run.stdout)[0]) == columns


def test_csv_and_text_output_with_and_without_headers():
    csv = skyql("exec", "-o", "csv", "SHOW SERVICES IN google LIKE 'ml'")
    assert csv.stdout.splitlines() == ["id,name,title", "ml:v1,ml,AI Platform Training & Prediction API"]
    text = skyql("exec", "-o", "text", "-H", "SHOW SERVICES IN google LIKE 'ml'")
    assert text.stdout == "ml:v1\tml\tAI Platform Training & Prediction API\n"


def test_outfile_receives_the_results(tmp_path):
    out = tmp_path / "methods.csv"
    run = skyql("exec", "-o", "csv", "-f", str(out), f"SHOW METHODS IN {RESOURCE}")
    assert run.returncode == 0 and run.stdout == ""
    assert out.read_text().startswith("MethodName,RequiredParams,SQLVerb\n")


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ["exec", "SELECT * FROM google.aiplatform.hyperparameter_tuning_job"],
            1,
            "did you mean google.aiplatform.hyperparameter_tuning_jobs",
        ),
        (["exec", "SHOW RESOURCES IN google.aiplatfrom"], 1, "did you mean aiplatform"),
        (["exec", "SHOW SERVICES IN gogle"], 1, "did you mean google"),
        (["exec", "SHOW SERVICES"], 1, "SHOW SERVICES needs IN <provider>"),
        (["exec", "SHOW RESOURCES IN google..jobs"], 1, "google..jobs"),
        (["exec", ""], 1, "empty statement"),
        (["exec", "-i", "no-such-script.iql"], 1, "no such script file"),
        (["exec", "DROP TABLE x"], 1, "not supported"),
        (["exec"], 2, "exec needs either"),
        (["exec", "-o", "yaml", "SHOW PROVIDERS"], 2, "invalid choice"),
        (["frobnicate"], 2, "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_the_right_exit_status(args, status, message):
    run = skyql(*args)
    assert run.returncode == status
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    if status == 1:
        assert len(run.stderr.strip().splitlines()) == 1


def test_a_metadata_statement_loads_neither_duckdb_nor_httpx_nor_the_emulator():
    code = (
        "import sys\n"
        "from skyql.cli.main import main\n"
        f"assert main(['exec', 'SHOW METHODS IN {RESOURCE}']) == 0\n"
        "heavy = [m for m in ('duckdb', 'httpx', 'aiohttp', 'google.auth', 'skyql.emulator.emulator', 'jinja2') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr


def test_a_select_loads_neither_numpy_nor_jinja_nor_a_token_library_it_does_not_need(
    emulator, key_file, tmp_path
):
    # Each costs a first query ~0.05-0.1 s: numpy comes with DuckDB's Python functions (only json_tree's depth
    # check has one), Jinja and jsonnet with templates, google-auth and httpx with a token exchange.
    auth = json.dumps({"google": {"type": "service_account", "credentialsfilepath": str(key_file)}})
    query = "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'demo-project' LIMIT 1"
    code = (
        "import sys\n"
        # DuckDB 1.x imports pandas and numpy by itself to bind query parameters; then they are not skyql's.
        "import duckdb\n"
        "duckdb.connect().execute('SELECT ?', ['x']).fetchone()\n"
        "theirs = {m for m in ('numpy',) if m in sys.modules}\n"
        "from skyql.cli.main import main\n"
        f"assert main(['exec', '--endpoint', 'google={emulator.url}', '--auth', {auth!r}, {query!r}]) == 0\n"
        f"assert main(['exec', '--endpoint', 'google={emulator.url}', '--auth', {auth!r}, {query!r}]) == 0\n"
        "heavy = [m for m in ('numpy', 'jinja2', '_jsonnet', 'google.auth', 'httpx') if m in sys.modules]\n"
        "heavy = [m for m in heavy if m not in theirs]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "SKYQL_TOKEN_CACHE": "on", "SKYQL_CACHE_DIR": str(tmp_path)}
    # The first process gets the token (and may import what that takes); the second reuses it.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "skyql.cli.main",
            "exec",
            "--endpoint",
            f"google={emulator.url}",
            "--auth",
            auth,
            query,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert run.returncode == 0, run.stderr


def test_json_tree_still_refuses_json_nested_deeper_than_sqlite_does():
    run = skyql("exec", "SELECT count(*) AS n FROM json_tree('" + "[" * 1001 + "]" * 1001 + "')")
    assert run.returncode == 1 and "nested more than 1000 levels" in run.stderr
    run = skyql("exec", "-o", "json", "SELECT count(*) AS n FROM json_tree('" + "[" * 50 + "]" * 50 + "')")
    assert run.returncode == 0 and json.loads(run.stdout) == [{"n": 50}]


def test_registry_list_and_show_providers_name_the_google_provider():
    run = skyql("registry", "list")
    assert run.returncode == 0 and "google" in run.stdout
    providers = json.loads(skyql("exec", "-o", "json", "SHOW PROVIDERS").stdout)
    assert providers[0]["name"] == "google" and providers[0]["version"].startswith("v")


def test_show_insert_prints_a_template_with_placeholders():
    run = skyql("exec", "-o", "text", "-H", "SHOW INSERT /*+ REQUIRED */ INTO google.ml.jobs")
    assert run.returncode == 0
    assert run.stdout.startswith("INSERT INTO google.ml.jobs (")
    assert "'{{ projectsId }}'" in run.stdout and "data__jobId" in run.stdout
