"""Hostile values and servers against what a user sees: terminal output is escaped, json and csv stay exact,
csv can be made spreadsheet-safe, and bad flags or keys end in one `skyql: ...` line, never a traceback."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from pathlib import Path

import pytest

from skyql.cli.main import main
from skyql.emulator import Emulator
from skyql.session import Options, Session
from skyql.shell.progress import ProgressLine
from skyql.shell.repl import Shell
from tests.support import auth_for

# ESC sequences that clear the screen and write the clipboard (OSC 52), BEL, CR, a C1 CSI, a bidi override.
HOSTILE = "a\x1b[2J\x1b]52;c;aGk=\x07b\rc\x9b31md\u202ee"
# What skyql shows instead: every control character spelled out.
SHOWN = "a\\x1b[2J\\x1b]52;c;aGk=\\x07b\\rc\\x9b31md\\u202ee"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["exec", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def hostile_project(emulator: Emulator) -> str:
    project = "sec-hostile"
    emulator.add(
        "ml", f"projects/{project}/jobs", {"jobId": "job_1", "state": "QUEUED", "errorMessage": HOSTILE}
    )
    emulator.add(
        "ml",
        f"projects/{project}/jobs",
        {"jobId": "job_2", "state": "QUEUED", "errorMessage": "line\nforged\tcolumn | not a border"},
    )
    return project


@pytest.fixture
def flags(emulator: Emulator, key_file: Path) -> list[str]:
    return ["--auth", json.dumps(auth_for(key_file)), "--endpoint", f"google={emulator.url}"]


def query(project: str) -> str:
    return f"SELECT jobId, errorMessage FROM google.ml.jobs WHERE projectsId = '{project}' ORDER BY jobId"


# -- table and text --------------------------------------------------------------------------------------


def test_table_output_shows_control_characters_escaped_and_pipes_unlike_borders(
    capsys, flags, hostile_project
):
    status, out, err = run(capsys, *flags, query(hostile_project))
    assert status == 0, err
    assert not RAW.search(out)
    assert SHOWN in out
    lines = out.splitlines()
    assert len(lines) == 6  # rule, header, rule, two rows, rule: the newline forged no line
    assert "line\\nforged\\tcolumn \\| not a border" in out
    # Every line has exactly the borders of two columns.
    assert {len(re.findall(r"(?<!\\)\|", line)) for line in lines} == {3}


def test_text_output_keeps_one_line_per_row_and_one_field_per_column(capsys, flags, hostile_project):
    status, out, err = run(capsys, *flags, "-o", "text", query(hostile_project))
    assert status == 0, err
    assert not RAW.search(out)
    assert out.splitlines() == [
        "jobId\terrorMessage",
        f"job_1\t{SHOWN}",
        "job_2\tline\\nforged\\tcolumn | not a border",
    ]


def test_json_and_csv_carry_values_exactly(capsys, flags, hostile_project):
    status, out, err = run(capsys, *flags, "-o", "json", query(hostile_project))
    assert status == 0, err
    assert [row["errorMessage"] for row in json.loads(out)] == [
        HOSTILE,
        "line\nforged\tcolumn | not a border",
    ]
    status, out, err = run(capsys, *flags, "-o", "csv", query(hostile_project))
    assert status == 0, err
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert [row[1] for row in rows[1:]] == [HOSTILE, "line\nforged\tcolumn | not a border"]


def test_an_api_error_message_with_escape_sequences_reaches_stderr_escaped(capsys, flags):
    # The emulator, like Google, quotes the missing job's name in its 404 message. (A SELECT of a missing item
    # is zero rows, as in StackQL; an EXEC of it is still an error.)
    status, out, err = run(
        capsys, *flags, f"EXEC google.ml.jobs.get @projectsId = 'sec-hostile', @jobsId = 'x{HOSTILE}'"
    )
    assert status == 1 and out == ""
    assert "HTTP 404" in err and "was not found" in err
    assert not RAW.search(err)
    assert err.count(SHOWN) == 2  # in the parameters skyql names and in the server's message


def test_the_shell_shows_values_and_errors_escaped_in_every_format(emulator, key_file, hostile_project):
    options = Options(auth=auth_for(key_file), endpoints={"google": emulator.url})
    with Session(options) as session:
        out, err = io.StringIO(), io.StringIO()
        shell = Shell(session, out=out, err=err, interactive=True, terminal_size=lambda: (300, 50))
        for fmt in ("table", "json", "csv", "text"):
            assert shell.run_input(f"\\o {fmt}")
            assert shell.run_input(query(hostile_project) + ";")
        assert not shell.run_input(f"EXEC google.ml.jobs.get @projectsId = 'p', @jobsId = '{HOSTILE}';")
    assert not RAW.search(out.getvalue()) and not RAW.search(err.getvalue())
    assert out.getvalue().count("]52;c;aGk=") == 4  # json shows ESC as \u001b, the others as \x1b
    assert "was not found" in err.getvalue()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_line_escapes_what_it_shows():
    stream = _Terminal()
    drawn = threading.Event()
    progress = ProgressLine(stream, delay=0, interval=0.01)
    original = progress._write

    def write(text: str) -> None:
        original(text)
        if "page" in text:
            drawn.set()

    progress._write = write  # type: ignore[method-assign]
    with progress:
        progress("page", resource=f"google.ml.jobs{HOSTILE}", rows=1)
        assert drawn.wait(10)
    # Only the line's own \r and erase-line sequence remain raw.
    shown = stream.getvalue().replace("\r", "").replace("\x1b[K", "")
    assert not RAW.search(shown)
    assert "\\x1b]52" in shown


# -- csv formula protection --------------------------------------------------------------------------------

FORMULAS = (
    "SELECT '=HYPERLINK(\"http://x\")' AS a, '+1' AS b, '-x' AS c, '@SUM(A1)' AS d, chr(9) || 't' AS e, "
    "chr(13) || 'r' AS f, 'plain' AS g, -5 AS h, '=h' AS \"=head\""
)


def test_csv_safe_prefixes_cells_a_spreadsheet_would_run_as_formulas(capsys):
    status, out, err = run(capsys, "-o", "csv", "--csv-safe", FORMULAS)
    assert status == 0, err
    header, row = list(csv.reader(io.StringIO(out, newline="")))
    assert header[-1] == "'=head"
    assert row == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-x",
        "'@SUM(A1)",
        "'\tt",
        "'\rr",
        "plain",
        "-5",
        "'=h",
    ]


def test_csv_without_csv_safe_is_exact(capsys):
    status, out, err = run(capsys, "-o", "csv", FORMULAS)
    assert status == 0, err
    _, row = list(csv.reader(io.StringIO(out, newline="")))
    assert row == ['=HYPERLINK("http://x")', "+1", "-x", "@SUM(A1)", "\tt", "\rr", "plain", "-5", "=h"]


# -- a clear message, never a traceback ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-o", "csv", "-d", ""], "argument -d/--delimiter: '' is not a delimiter"),
        (["-o", "csv", "-d", ";;"], "is not a delimiter"),
        (["--timeout", "nan"], "argument --timeout: 'nan' is not a number of seconds"),
        (["--timeout", "-1"], "is not a number of seconds more than 0"),
        (["--endpoint", "google=http://127.0.0.1:99999"], "its port is not a number from 1 to 65535"),
        (["--endpoint", "google=http://user:pw@127.0.0.1:8089"], "it holds a user name or password"),
        (["--endpoint", "google=http://127.0.0.1\\@evil.example:8089"], "it holds a backslash"),
        (["--endpoint", "google=http://:8089"], "it names no host"),
    ],
)
def test_bad_flag_values_are_usage_errors_with_one_line(capsys, args, says):
    with pytest.raises(SystemExit) as exit_:
        main(["exec", *args, "SELECT 1"])
    _, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert err.splitlines()[-1].startswith("skyql: error: ") and says in err
    assert "user:pw" not in err  # an endpoint's password is not echoed


def test_a_bad_endpoint_from_the_environment_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("SKYQL_ENDPOINT_GOOGLE", "http://127.0.0.1:99999")
    status, out, err = run(capsys, "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p'")
    assert (status, out) == (1, "")
    assert (
        err == "skyql: bad endpoint URL: its port is not a number from 1 to 65535; expected e.g. "
        "http://127.0.0.1:8089\n"
    )


def test_json_nested_thousands_deep_prints_as_json(capsys):
    deep = "[" * 5000 + "]" * 5000
    status, out, err = run(capsys, "-o", "json", f"SELECT json('{deep}') AS x, 1 AS n")
    assert status == 0, err
    assert out == '[{"x": ' + deep + ', "n": 1}]\n'


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (
            {
                "type": "external_account",
                "audience": "a",
                "subject_token_type": "t",
                "token_url": "https://sts.googleapis.com/v1/token",
                "credential_source": "not an object",
            },
            "is not a usable Google key: a field of its 'external_account' key is missing or of the wrong type",
        ),
        # Runs no program and sends nothing: google-auth refuses executables unless allowed by the environment.
        (
            {
                "type": "external_account",
                "audience": "a",
                "subject_token_type": "t",
                "token_url": "https://sts.googleapis.com/v1/token",
                "credential_source": {"executable": {"command": "/bin/false"}},
            },
            "cannot get an access token with these credentials (Executables need to be explicitly allowed",
        ),
        (
            {"type": "impersonated_service_account"},
            "a field of its 'impersonated_service_account' key is missing",
        ),
    ],
)
def test_an_unusable_key_of_another_type_is_one_line(capsys, tmp_path, monkeypatch, key, says):
    monkeypatch.delenv("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", raising=False)
    key_path = tmp_path / "key.json"
    key_path.write_text(json.dumps(key))
    status, out, err = run(
        capsys,
        "--auth",
        json.dumps(auth_for(key_path)),
        "--endpoint",
        "google=http://127.0.0.1:9",
        "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p'",
    )
    assert (status, out) == (1, "")
    assert err.startswith("skyql: ") and says in err and len(err.splitlines()) == 1
