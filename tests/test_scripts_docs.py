"""docs/sql.md's Scripts section cannot rot: its script, vars and commands run; its messages are real."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from skyql.cli.main import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "sql.md"


def section() -> str:
    text = DOC.read_text()
    start = text.index("## Scripts\n")
    return text[start : text.index("\n## ", start + 5)]


def block(kind: str) -> str:
    found = re.findall(rf"```{kind}\n(.*?)```", section(), re.S)
    assert len(found) == 1, f"one {kind} block expected"
    return found[0]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """jobs.iql and jobs.yaml as the section shows them, in the current folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.iql").write_text(block("sql"))
    (tmp_path / "jobs.yaml").write_text(block("yaml"))
    return tmp_path


@pytest.mark.parametrize("command", [line for line in block("sh").splitlines() if line.startswith("skyql ")])
def test_the_section_commands_run_as_written(files, command, capsys):
    status = main(shlex.split(command)[1:])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert out.strip()


def _against(emulator, key_file) -> list[str]:
    auth = {"google": {"type": "service_account", "credentialsfilepath": str(key_file)}}
    return ["--endpoint", f"google={emulator.url}", "--auth", json.dumps(auth)]


def test_the_failure_example_is_what_a_failing_statement_prints(files, emulator, key_file, capsys):
    emulator.inject(status=403, count=1, match="/locations/europe-west4/hyperparameterTuningJobs")
    try:
        status = main(["exec", "-i", "jobs.iql", "--iqldata", "jobs.yaml", *_against(emulator, key_file)])
    finally:
        emulator.clear_faults()
    err = capsys.readouterr().err
    assert status == 1
    text = " ".join(section().split())
    shown = re.search(r"e\.g\. `(skyql: statement \d+ \(line \d+\): [\w.]+)", text).group(1)
    assert err.startswith(shown) and "HTTP 403 PERMISSION_DENIED" in err


def test_the_undefined_variable_example_is_the_real_message(files, emulator, key_file, capsys):
    script = files / "jobs.iql"
    lines = script.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace("{{ project }}", "{{ projet }}")
    script.write_text("".join(lines))
    status = main(["exec", "-i", "jobs.iql", "--iqldata", "jobs.yaml", *_against(emulator, key_file)])
    err = capsys.readouterr().err
    assert status == 1
    shown = re.search(r"\(`(template variable .*?)`\)", " ".join(section().split())).group(1)
    assert err.strip() == f"skyql: {shown}"


def test_the_data_block_example_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "states.iql").write_text(block("iql"))
    command = re.search(r"\(`(skyql exec [^`]*states\.iql[^`]*)`\.\)", section()).group(1)
    status = main([*shlex.split(command)[1:], "-o", "json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert [json.loads(line)[0]["state"] for line in out.splitlines()] == ["RUNNING", "FAILED"]
