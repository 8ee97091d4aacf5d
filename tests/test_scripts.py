"""`skyql exec -i script.iql`: order, comments and hints, variables and templates, failures, output files.

The CLI runs in-process (fast), against the session's emulator, so every request really goes over HTTP; each
test works in its own project so that the emulator's request log tells what that test sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from skyql.cli.main import main
from skyql.emulator import Emulator

HPT = "google.aiplatform.hyperparameter_tuning_jobs"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def skyql(emulator: Emulator, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """skyql(script_text, *flags) -> (exit status, stdout, stderr), run against the emulator."""

    def run(script: str, *flags: str) -> tuple[int, str, str]:
        path = tmp_path / "script.iql"
        path.write_text(script)
        auth = json.dumps({"google": {"type": "service_account", "credentialsfilepath": str(key_file)}})
        capsys.readouterr()
        endpoint = f"google={emulator.url}"
        status = main(["exec", "-i", str(path), "--endpoint", endpoint, "--auth", auth, *flags])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def sent(emulator: Emulator, project: str) -> list[dict[str, Any]]:
    """The API requests the emulator received for one project."""
    return [r for r in emulator.requests if f"/projects/{project}/" in r["path"]]


def json_lines(out: str) -> list[Any]:
    return [json.loads(line) for line in out.splitlines()]


def add_jobs(emulator: Emulator, project: str, *states: str) -> list[str]:
    """ml jobs with the given states; returns their ids."""
    ids = [f"job_{i}" for i in range(len(states))]
    for job_id, state in zip(ids, states, strict=True):
        emulator.add("ml", f"projects/{project}/jobs", {"jobId": job_id, "state": state})
    return ids


def test_results_come_out_in_statement_order_one_json_array_each(skyql, emulator):
    add_jobs(emulator, "scr-order", "RUNNING", "FAILED")
    status, out, _ = skyql(
        "SELECT 'first' AS step;\n"
        "SELECT jobId, state FROM google.ml.jobs WHERE projectsId = 'scr-order' ORDER BY jobId;\n"
        "SELECT 'third' AS step;\n",
        "-o",
        "json",
    )
    assert status == 0
    assert json_lines(out) == [
        [{"step": "first"}],
        [{"jobId": "job_0", "state": "RUNNING"}, {"jobId": "job_1", "state": "FAILED"}],
        [{"step": "third"}],
    ]


def test_comments_are_skipped_and_hints_are_kept(skyql, emulator, monkeypatch):
    monkeypatch.setattr(emulator.config, "operation_polls", 1)  # done at the first poll: a short wait
    job = emulator.add(
        "aiplatform",
        "projects/scr-hints/locations/us-central1/hyperparameterTuningJobs",
        {"displayName": "old", "state": "JOB_STATE_FAILED"},
    )
    job_id = job["name"].rsplit("/", 1)[-1]
    status, out, err = skyql(
        "-- a comment; with a semicolon\n"
        "/* a block comment; also with one */\n"
        f"DELETE /*+ AWAIT */ FROM {HPT}\n"
        f"WHERE projectsId = 'scr-hints' AND locationsId = 'us-central1' -- the region\n"
        f"  AND hyperparameterTuningJobsId = '{job_id}';\n"
        "/* only a comment */;\n"
    )
    assert status == 0, err
    assert "1 row deleted" in err and "finished" in err
    operation_reads = [
        r for r in sent(emulator, "scr-hints") if r["method"] == "GET" and "/operations/" in r["path"]
    ]
    assert operation_reads, "AWAIT waits for the delete's operation"


def test_variables_come_from_var_and_from_json_and_yaml_iqldata_files(skyql, emulator, tmp_path):
    add_jobs(emulator, "scr-vars-json", "RUNNING")
    add_jobs(emulator, "scr-vars-yaml", "QUEUED", "QUEUED")
    script = (
        "SELECT '{{ label }}' AS label, count(*) AS jobs FROM google.ml.jobs "
        "WHERE projectsId = '{{ project }}';"
    )
    (tmp_path / "vars.json").write_text(json.dumps({"project": "scr-vars-json", "label": "from json"}))
    (tmp_path / "vars.yaml").write_text("project: scr-vars-yaml\nlabel: from yaml\n")

    assert json_lines(skyql(script, "-o", "json", "--iqldata", str(tmp_path / "vars.json"))[1]) == [
        [{"label": "from json", "jobs": 1}]
    ]
    assert json_lines(skyql(script, "-o", "json", "--iqldata", str(tmp_path / "vars.yaml"))[1]) == [
        [{"label": "from yaml", "jobs": 2}]
    ]
    status, out, _ = skyql(
        script, "-o", "json", "--iqldata", str(tmp_path / "vars.yaml"), "--var", "label=cli"
    )
    assert json_lines(out) == [[{"label": "cli", "jobs": 2}]], "--var wins over the file"


def test_go_template_spellings_work_as_stackql_writes_them(skyql, emulator):
    add_jobs(emulator, "scr-go", "RUNNING", "RUNNING", "FAILED")
    status, out, err = skyql(
        "{{ range .states }}\n"
        "SELECT '{{ . }}' AS state, count(*) AS jobs FROM google.ml.jobs\n"
        "WHERE projectsId = '{{ $.project }}' AND state = '{{ . }}';\n"
        "{{ end }}",
        "-o",
        "csv",
        "-H",
        "--var",
        "project=scr-go",
        "--var",
        'states=["RUNNING", "FAILED"]',
    )
    assert status == 0, err
    assert out == "RUNNING,2\nFAILED,1\n"


def test_loops_and_conditionals_decide_which_statements_run(skyql, tmp_path):
    (tmp_path / "vars.yaml").write_text("regions: [us-central1, europe-west4]\nverbose: false\n")
    status, out, _ = skyql(
        "{% for region in regions %}SELECT '{{ region }}' AS region;\n{% endfor %}"
        "{% if verbose %}SELECT 'verbose' AS extra;{% endif %}",
        "-o",
        "text",
        "-H",
        "--iqldata",
        str(tmp_path / "vars.yaml"),
    )
    assert status == 0
    assert out == "us-central1\neurope-west4\n"


def test_an_undefined_variable_fails_before_any_request_is_sent(skyql, emulator):
    status, out, err = skyql(
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'scr-undefined';\n"
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = '{{ projet }}';\n"
    )
    assert status == 1 and out == ""
    assert "template variable 'projet' is not defined (line 2)" in err and "--var projet=VALUE" in err
    assert sent(emulator, "scr-undefined") == []


@pytest.mark.parametrize("value", ["x' OR '1'='1", "it's", "a'; DELETE FROM t; --", "\\'"])
def test_a_value_with_a_quote_cannot_break_out_of_its_sql_literal(skyql, value):
    status, out, err = skyql("SELECT '{{ v }}' AS v, 'after' AS w;", "-o", "json", "--var", f"v={value}")
    assert status == 0, err
    assert json_lines(out) == [[{"v": value, "w": "after"}]]


def test_the_first_failing_statement_stops_the_script_naming_it_and_its_line(skyql, emulator):
    add_jobs(emulator, "scr-stop", "RUNNING")
    status, out, err = skyql(
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'scr-stop';\n"
        "\n"
        "EXEC google.ml.jobs.cancel\n"
        "  @projectsId = 'scr-stop', @jobsId = 'no_such_job';\n"
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'scr-stop-never';\n",
        "-o",
        "json",
    )
    assert status == 1
    assert json_lines(out) == [[{"jobId": "job_0"}]]
    assert "skyql: statement 2 (line 3): " in err and "404" in err and "no_such_job" in err
    assert "statement 3 not run" in err
    assert sent(emulator, "scr-stop-never") == []


def test_a_failing_statement_is_reported_at_its_line_in_the_script_even_after_a_loop(skyql):
    status, _, err = skyql(
        "{% for n in [1, 2, 3] %}\nSELECT {{ n }} AS n;\n{% endfor %}\nSELECT no_such_function(1);\n",
    )
    assert status == 1
    assert "statement 4 (line 4)" in err


def test_a_syntax_error_anywhere_means_nothing_runs(skyql, emulator):
    status, out, err = skyql(
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'scr-syntax';\n"
        "SELECT 1 AS a; SELECT 2 AS b\n"
        "  FROM (SELECT 1) WHERE;\n"
    )
    assert status == 1 and out == ""
    assert "statement 3 (line 2): syntax error at line 3, column 19 near 'WHERE'" in err
    assert "nothing was run" in err
    assert sent(emulator, "scr-syntax") == []


def test_a_syntax_error_is_placed_in_the_script_as_written_after_a_loop(skyql):
    status, _, err = skyql(
        "{% for i in [1, 2] %}\nSELECT {{ i }};\n{% endfor %}\nSELECT 3 AS c,\n FROM t WHERE;\n"
    )
    assert status == 1
    assert "statement 3 (line 4): syntax error at line 5, column 9 near 'WHERE'" in err


def test_continue_on_error_runs_every_statement_and_still_exits_1(skyql):
    status, out, err = skyql(
        "SELECT 1 AS a;\nSELECT no_such_column FROM (SELECT 1 AS b);\nSELEC 2;\nSELECT 3 AS c;\n",
        "-o",
        "json",
        "--continue-on-error",
    )
    assert status == 1
    assert json_lines(out) == [[{"a": 1}], [{"c": 3}]]
    assert "statement 2 (line 2)" in err and "statement 3 (line 3)" in err


def test_outfile_is_replaced_only_when_every_statement_succeeded(skyql, tmp_path):
    target = tmp_path / "report.csv"
    target.write_text("previous report\n")

    status, out, _ = skyql("SELECT 1 AS a;\nSELECT 2 AS b;", "-o", "csv", "-f", str(target))
    assert status == 0 and out == ""
    assert target.read_text() == "a\n1\nb\n2\n"

    for flags in ([], ["--continue-on-error"]):
        status, _, err = skyql(
            "SELECT 3 AS a;\nSELECT nope FROM (SELECT 1);\nSELECT 4 AS c;",
            "-o",
            "csv",
            "-f",
            str(target),
            *flags,
        )
        assert status == 1
        assert target.read_text() == "a\n1\nb\n2\n"
        assert f"{target} left unchanged" in err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".skyql-")] == [], "no temp file is left"


@pytest.mark.parametrize(("fmt", "expected"), [("csv", "1,x\n"), ("text", "1\tx\n")])
def test_hideheaders_leaves_only_the_rows(skyql, fmt, expected):
    assert skyql("SELECT 1 AS n, 'x' AS s;", "-o", fmt, "-H")[1] == expected
    assert skyql("SELECT 1 AS n, 'x' AS s;", "-o", fmt)[1].splitlines()[0] in ("n,s", "n\ts")


def test_dryrun_prints_the_rendered_statements_and_their_requests_and_sends_nothing(skyql, emulator):
    status, out, err = skyql(
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = '{{ project }}';\n"
        f"DELETE FROM {HPT} WHERE projectsId = '{{{{ project }}}}' AND locationsId = 'us-central1'\n"
        "  AND hyperparameterTuningJobsId = '42';\n",
        "--dryrun",
        "-o",
        "csv",
        "--var",
        "project=scr-dry",
    )
    assert status == 0, err
    assert "-- statement 1 (line 1)\nSELECT jobId FROM google.ml.jobs WHERE projectsId = 'scr-dry';" in out
    assert f"GET {emulator.url}/v1/projects/scr-dry/jobs" in out
    assert "-- statement 2 (line 2)" in out
    assert (
        f"DELETE {emulator.url}/v1/projects/scr-dry/locations/us-central1/hyperparameterTuningJobs/42" in out
    )
    assert sent(emulator, "scr-dry") == []


def test_what_a_mutation_did_goes_to_stderr_and_stdout_stays_data(skyql, emulator):
    job = emulator.add(
        "aiplatform",
        "projects/scr-msg/locations/us-central1/hyperparameterTuningJobs",
        {"displayName": "gone", "state": "JOB_STATE_FAILED"},
    )
    job_id = job["name"].rsplit("/", 1)[-1]
    status, out, err = skyql(
        f"DELETE FROM {HPT} WHERE projectsId = 'scr-msg' AND locationsId = 'us-central1' "
        f"AND hyperparameterTuningJobsId = '{job_id}';\n"
        f"SELECT count(*) AS left_over FROM {HPT}\n"
        "WHERE projectsId = 'scr-msg' AND locationsId = 'us-central1';\n",
        "-o",
        "json",
    )
    assert status == 0, err
    assert json_lines(out) == [[{"left_over": 0}]]
    assert f"1 row deleted ({HPT}.delete)" in err


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("vars.yaml", "project: [unclosed\n", "is not valid yaml"),
        ("vars.json", "{'single': 'quotes'}", "is not valid json"),
        ("vars.yaml", "- a list\n- not names\n", "must hold an object of variables"),
    ],
)
def test_a_bad_iqldata_file_is_a_one_line_error(skyql, tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    status, out, err = skyql("SELECT 1;", "--iqldata", str(tmp_path / name))
    assert status == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


# -- templates: only when asked for, sandboxed, with StackQL's data blocks ---------------------------------


@pytest.fixture
def exec_query(emulator: Emulator, key_file: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """skyql exec "QUERY" *flags -> (exit status, stdout, stderr): SQL given on the command line."""

    def run(query: str, *flags: str) -> tuple[int, str, str]:
        auth = json.dumps({"google": {"type": "service_account", "credentialsfilepath": str(key_file)}})
        capsys.readouterr()
        status = main(["exec", query, "--endpoint", f"google={emulator.url}", "--auth", auth, *flags])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_sql_given_on_the_command_line_is_not_a_template(exec_query):
    status, out, err = exec_query("SELECT '{{x}}' AS a, '{% if %}' AS b", "-o", "json")
    assert status == 0, err
    assert json.loads(out) == [{"a": "{{x}}", "b": "{% if %}"}]


EXPLOIT = "SELECT '{{ cycler.__init__.__globals__.os.system(\"touch PWNED\") }}' AS x"


def test_the_template_exploit_does_not_run_under_safe_dryrun(exec_query, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = exec_query(EXPLOIT, "--safe", "--dryrun", "-o", "json")
    assert status == 0, err
    assert "cycler.__init__" in out, "plain SQL: the text is a string, nothing is rendered"
    assert not (tmp_path / "PWNED").exists()


def test_the_template_exploit_is_refused_when_templates_are_asked_for(
    exec_query, skyql, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    status, out, err = exec_query(EXPLOIT, "--var", "a=b")
    assert status == 1 and out == ""
    assert "not allowed" in err and "Traceback" not in err
    status, _, err = skyql(EXPLOIT)
    assert status == 1 and "not allowed" in err
    assert not (tmp_path / "PWNED").exists()


def test_an_unquoted_value_that_is_not_a_number_is_refused_before_anything_runs(skyql, emulator):
    status, out, err = skyql(
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'scr-inject';\n"
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'scr-inject' LIMIT {{ n }};\n",
        "--var",
        "n=1; SELECT 'injected'",
    )
    assert status == 1 and out == ""
    assert "template line 2: a value outside quotes must be a number" in err
    assert sent(emulator, "scr-inject") == []
    status, out, err = skyql("SELECT 1 AS one LIMIT {{ n }};", "-o", "json", "--var", "n=5")
    assert status == 0 and json.loads(out) == [{"one": 1}]


JSONNET_SCRIPT = """<<<jsonnet
local project = std.extVar('project');
{
  project: project,
  states: ['RUNNING', 'FAILED'],
}
>>>
{{ range .states }}
SELECT '{{ . }}' AS state, count(*) AS jobs FROM google.ml.jobs
WHERE projectsId = '{{ $.project }}' AND state = '{{ . }}';
{{ end }}
"""


def test_a_jsonnet_block_gives_the_script_its_data_from_the_variables(skyql, emulator):
    add_jobs(emulator, "scr-jsonnet", "RUNNING", "RUNNING", "FAILED")
    status, out, err = skyql(JSONNET_SCRIPT, "-o", "csv", "-H", "--var", "project=scr-jsonnet")
    assert status == 0, err
    assert out == "RUNNING,2\nFAILED,1\n"
    status, out, err = skyql(JSONNET_SCRIPT, "-o", "csv")
    assert status == 1 and "undefined external variable: project: pass --var project=VALUE" in err


def test_a_failing_statement_after_a_jsonnet_block_is_named_by_its_line_in_the_file(skyql):
    status, _, err = skyql(
        '<<<json\n{"n": 2}\n>>>\nSELECT 1 AS a;\nSELECT {{ .n }} AS b FROM no_such_table;\n', "-o", "json"
    )
    assert status == 1
    assert "statement 2 (line 5)" in err


def test_jsonnet_imports_stay_in_the_scripts_folder_and_safe_turns_them_off(skyql, tmp_path):
    (tmp_path / "lib.libsonnet").write_text("{ region: 'europe-west4' }")
    (tmp_path.parent / "outside.libsonnet").write_text("{ region: 'stolen' }")
    script = "<<<jsonnet\nlocal lib = import '{lib}';\n{{ region: lib.region }}\n>>>\nSELECT '{{{{ .region }}}}' AS r;\n"
    status, out, err = skyql(script.format(lib="lib.libsonnet"), "-o", "json")
    assert status == 0, err
    assert json.loads(out) == [{"r": "europe-west4"}]
    for lib in ("../outside.libsonnet", str(tmp_path.parent / "outside.libsonnet")):
        status, out, err = skyql(script.format(lib=lib), "-o", "json")
        assert status == 1 and "can be imported" in err and "stolen" not in out
    status, _, err = skyql(script.format(lib="lib.libsonnet"), "--safe")
    assert status == 1 and "imports are turned off" in err


def test_iqldata_can_be_a_jsonnet_file_reading_the_var_values(skyql, emulator, tmp_path):
    add_jobs(emulator, "scr-iqljsonnet", "QUEUED")
    (tmp_path / "vars.jsonnet").write_text(
        "local env = std.extVar('env');\n{ project: 'scr-iql' + env, label: 'env ' + env }\n"
    )
    status, out, err = skyql(
        "SELECT '{{ label }}' AS label, count(*) AS jobs FROM google.ml.jobs WHERE projectsId = '{{ project }}';",
        "-o",
        "json",
        "--iqldata",
        str(tmp_path / "vars.jsonnet"),
        "--var",
        "env=jsonnet",
    )
    assert status == 0, err
    assert json.loads(out) == [{"label": "env jsonnet", "jobs": 1}]


def test_a_data_block_in_plain_sql_says_how_to_ask_for_templates(exec_query):
    status, out, err = exec_query('<<<json\n{"n": 1}\n>>>\nSELECT {{ .n }} AS n')
    assert status == 1 and "--var / --iqldata" in err
    status, out, err = exec_query(
        '<<<json\n{"n": 1}\n>>>\nSELECT {{ .n }} AS n', "--var", "x=y", "-o", "json"
    )
    assert status == 0, err
    assert json.loads(out) == [{"n": 1}]
