"""`skyql shell`: completion, meta-commands, the prompt loop, piped input, Ctrl-C, progress and paging."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from skyql.emulator import Emulator
from skyql.registry import Registry
from skyql.result import Result
from skyql.session import Options, Session
from skyql.shell import commands
from skyql.shell.catalog import Catalog
from skyql.shell.completion import suggest
from skyql.shell.display import cell_limit, fit_table
from skyql.shell.progress import ProgressLine
from skyql.shell.prompt import SqlHighlighter, history_path
from skyql.shell.repl import Shell, input_chunks
from skyql.shell.tokens import current_statement, statement_complete

pty = pytest.importorskip("pty")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(Registry())


def texts(before: str, full: str | None = None, catalog: Catalog | None = None) -> list[str]:
    return [s.text for s in suggest(before, before if full is None else full, catalog)]


# -- completion ------------------------------------------------------------------------------------------


def test_provider_dot_completes_services_and_replaces_only_the_last_segment(catalog: Catalog) -> None:
    found = suggest("SELECT * FROM google.ai", "SELECT * FROM google.ai", catalog)
    assert found[0].text == "aiplatform" and found[0].start == -2 and found[0].kind == "service"
    assert found[0].meta  # the service's title
    assert [s.text for s in found] == ["aiplatform", "airquality"]
    # From three letters on, names that merely contain the typed text come after those that start with it.
    assert "managedkafka" in texts("SELECT * FROM google.kafka", catalog=catalog)


def test_service_dot_completes_resources_including_by_substring(catalog: Catalog) -> None:
    assert {"jobs", "jobs_iam_policies"} <= set(texts("SELECT * FROM google.ml.", catalog=catalog))
    assert "hyperparameter_tuning_jobs" in texts("DESCRIBE google.aiplatform.tuning", catalog=catalog)


def test_columns_come_from_the_resource_named_later_in_the_statement(catalog: Catalog) -> None:
    full = "SELECT st FROM google.ml.jobs WHERE projectsId = 'p'"
    found = suggest("SELECT st", full, catalog)
    assert [(s.text, s.kind) for s in found[:2]] == [("startTime", "column"), ("state", "column")]
    assert found[1].meta == "string"


def test_alias_dot_completes_that_resources_columns_and_parameters(catalog: Catalog) -> None:
    full = "SELECT j. FROM google.ml.jobs AS j"
    names = texts("SELECT j.", full, catalog)
    assert {"jobId", "state", "projectsId"} <= set(names)


def test_where_offers_the_resources_parameters_first(catalog: Catalog) -> None:
    assert texts("SELECT jobId FROM google.ml.jobs WHERE ", catalog=catalog)[:2] == ["projectsId", "jobsId"]


def test_exec_completes_method_names_then_their_parameters(catalog: Catalog) -> None:
    # StackQL's names (ml's carry their collection); `jobs.cancel` works too, as the Python client has it.
    assert set(texts("EXEC google.ml.jobs.", catalog=catalog)) == {
        "_projects_jobs_list",
        "projects_jobs_cancel",
        "projects_jobs_create",
        "projects_jobs_get",
        "projects_jobs_list",
        "projects_jobs_patch",
    }
    assert texts("EXEC google.ml.jobs.cancel @", catalog=catalog) == ["@projectsId", "@jobsId", "@@json"]
    # Parameters already given are not offered again; no suggestion where a value goes.
    assert texts("EXEC google.ml.jobs.cancel @projectsId = 'p', @", catalog=catalog) == ["@jobsId", "@@json"]
    assert texts("EXEC google.ml.jobs.cancel @jobsId = ", catalog=catalog) == []


def test_insert_and_update_complete_parameters_and_body_fields(catalog: Catalog) -> None:
    insert = texts("INSERT INTO google.ml.jobs (projectsId, data__tr", catalog=catalog)
    assert insert == ["data__trainingInput", "data__trainingOutput"]
    assert "data__labels" in texts("UPDATE google.ml.jobs SET ", catalog=catalog)


def test_keywords_follow_the_case_the_user_types(catalog: Catalog) -> None:
    assert texts("sel", catalog=catalog) == ["select"]
    assert texts("SHOW ", catalog=catalog)[:3] == ["PROVIDERS", "SERVICES", "RESOURCES"]
    assert texts("SELECT jobId FROM google.ml.jobs wh", catalog=catalog)[0] == "where"


def test_nothing_is_offered_inside_a_string_or_a_comment(catalog: Catalog) -> None:
    assert texts("SELECT * FROM google.ml.jobs WHERE projectsId = 'goo", catalog=catalog) == []
    assert texts("SELECT 1 -- google.", catalog=catalog) == []


def test_only_the_statement_under_the_cursor_counts(catalog: Catalog) -> None:
    full = "SELECT de FROM google.ml.jobs; SELECT de FROM google.ml.models"
    cursor = full.index("de", 20) + 2

    def columns(before: str) -> list[str]:
        return [s.text for s in suggest(before, full, catalog) if s.kind == "column"]

    assert columns(full[:cursor]) == ["defaultVersion", "description"]  # models', not jobs'
    assert columns(full[:9]) == []  # jobs have neither


def test_an_unknown_resource_gives_no_columns_and_no_error(catalog: Catalog) -> None:
    assert texts("SELECT na", "SELECT na FROM google.ml.nothing", catalog) == []


def test_meta_commands_complete_their_names_and_arguments(catalog: Catalog) -> None:
    assert {"\\d", "\\dm", "\\dr", "\\ds"} <= set(texts("\\d", catalog=catalog))
    assert texts("\\dm google.ml.jo", catalog=catalog) == ["jobs", "jobs_iam_policies"]
    assert texts("\\o ", catalog=catalog) == ["table", "json", "csv", "text"]
    assert texts("he", catalog=catalog) == ["help"]


def test_catalog_follows_the_session_when_its_registry_is_replaced() -> None:
    session = Session()
    cat = Catalog(lambda: session.registry)
    first = cat.resource("google.ml.jobs")
    session.registry = Registry(session.registry.root)
    assert first is not None and cat.resource("google.ml.jobs") is not first


# -- statement boundaries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("SELECT 1;", True),
        ("SELECT 1", False),
        ("SELECT ';'", False),
        ("SELECT ';", False),
        ("SELECT 1; -- done", True),
        ("SELECT 1; /* still typing", False),
        ("", False),
    ],
)
def test_enter_runs_only_a_finished_statement(text: str, complete: bool) -> None:
    assert statement_complete(text) is complete


def test_current_statement_is_cut_at_top_level_semicolons() -> None:
    text = "SELECT ';'; SELECT 2; SELECT 3"
    assert current_statement(text, text.index("2"))[0] == " SELECT 2"


def test_piped_input_runs_command_lines_alone_and_keeps_multiline_strings() -> None:
    text = "SELECT 1;\n\\o json\nSELECT '\n\\d x\n';\nSELECT 3;"
    assert list(input_chunks(text)) == [
        ("SELECT 1;", 1),
        ("\\o json", 2),
        ("SELECT '\n\\d x\n';\nSELECT 3;", 3),
    ]


# -- meta-commands ---------------------------------------------------------------------------------------


class Captured:
    """A shell over a real session whose output is kept for the test."""

    def __init__(
        self,
        session: Session,
        *,
        interactive: bool = True,
        page: bool = False,
        size: tuple[int, int] = (120, 40),
    ) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.shell = Shell(
            session,
            out=self.out,
            err=self.err,
            interactive=interactive,
            page=page,
            terminal_size=lambda: size,
        )

    def run(self, text: str) -> bool:
        return self.shell.run_input(text)


@pytest.fixture
def session() -> Iterator[Session]:
    with Session() as s:
        yield s


def test_help_lists_every_command_once_as_a_table(session: Session) -> None:
    sh = Captured(session)
    assert sh.run("\\?")
    out = sh.out.getvalue()
    for name in ("help", "quit", "\\o", "\\timing", "\\auth", "\\d", "\\dm", "\\ds", "\\dr", "clear"):
        assert re.search(rf"\| {re.escape(name)}\b", out), name
    assert out.count("| quit") == 1 and "Ctrl-R" in out


def test_describe_and_methods_shortcuts_answer_like_their_statements(session: Session) -> None:
    sh = Captured(session)
    assert sh.run("\\d google.ml.jobs")
    assert sh.run("\\dm+ google.ml.jobs;")
    out = sh.out.getvalue()
    assert "| jobId " in out and "| MethodName " in out and "| description " in out


def test_services_shortcut_filters_with_a_like_pattern(session: Session) -> None:
    sh = Captured(session)
    sh.run("\\ds ml%")
    assert "ml:v1" in sh.out.getvalue() and "aiplatform" not in sh.out.getvalue()


def test_output_command_switches_the_format_of_later_results(session: Session) -> None:
    sh = Captured(session)
    sh.run("output json")
    sh.run("SHOW SERVICES IN google LIKE 'ml%';")
    out = sh.out.getvalue()
    assert "output format is json" in out
    assert json.loads(out.splitlines()[-1]) == [
        {"id": "ml:v1", "name": "ml", "title": "AI Platform Training & Prediction API"}
    ]


def test_timing_adds_the_elapsed_time_to_the_row_count(session: Session) -> None:
    sh = Captured(session)
    sh.run("\\timing on")
    sh.run("SHOW SERVICES IN google LIKE 'ml%';")
    assert re.search(r"1 row in \d+\.\d{3} s", sh.out.getvalue())


def test_auth_names_the_credentials_but_never_the_key(emulator: Emulator, key_file: Path) -> None:
    options = Options(
        auth={"google": {"type": "service_account", "credentialsfilepath": str(key_file)}},
        endpoints={"google": emulator.url},
    )
    with Session(options) as s:
        sh = Captured(s)
        assert sh.run("\\auth")
    out = sh.out.getvalue()
    assert (
        emulator.url in out and f"service account {json.loads(key_file.read_text())['client_email']}" in out
    )
    key = json.loads(key_file.read_text())
    assert key["private_key_id"] not in out and "PRIVATE KEY" not in out


def test_command_mistakes_are_one_clear_message(session: Session) -> None:
    sh = Captured(session)
    assert not sh.run("\\nope")
    assert not sh.run("\\d")
    assert not sh.run("\\o yaml")
    assert sh.err.getvalue().splitlines() == [
        "error: unknown command \\nope; \\? lists the commands",
        "error: usage: \\d RESOURCE, e.g. \\d google.ml.jobs",
        "error: unknown output format 'yaml': use table, json, csv or text",
    ]


def test_quit_words_leave_the_shell(session: Session) -> None:
    for word in ("quit", "exit", "\\q", "QUIT;"):
        with pytest.raises(commands.ExitShell):
            Captured(session).run(word)


def test_an_internal_error_is_one_line_and_the_shell_goes_on() -> None:
    class Broken(Session):
        def execute(self, statement, params=None):  # type: ignore[no-untyped-def]
            if "boom" in str(statement):
                raise KeyError("boom")
            return super().execute(statement, params)

    with Broken() as s:
        sh = Captured(s)
        assert not sh.run("SELECT 'boom';")
        assert sh.run("SHOW SERVICES IN google LIKE 'ml%';")
    assert sh.err.getvalue() == "internal error (KeyError): 'boom'\n"
    assert "ml:v1" in sh.out.getvalue()


# -- the prompt, driven through prompt_toolkit's pipe input ----------------------------------------------


def drive(session: Session, keys: str, state: Path, monkeypatch: pytest.MonkeyPatch) -> Captured:
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    sh = Captured(session)
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(keys + "\x04")  # Ctrl-D ends the session
        assert sh.shell.run_interactive() == 0
    return sh


def test_prompt_runs_multiline_statements_commands_and_survives_errors(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = (
        "SHOW SERVICES\rIN google\rLIKE 'ml%';\r"  # Enter continues until the ;
        "SELEC x;\r"
        "\\o csv\r"
        "SHOW SERVICES IN google LIKE 'ml%';\r"
    )
    sh = drive(session, keys, tmp_path, monkeypatch)
    out = sh.out.getvalue()
    assert "| ml:v1 | ml   |" in out
    assert "output format is csv" in out and "ml:v1,ml,AI Platform Training & Prediction API" in out
    assert sh.err.getvalue().startswith("error: SELEC statements are not supported")
    history = (tmp_path / "skyql" / "history").read_text()
    assert "+SHOW SERVICES\n+IN google\n+LIKE 'ml%';" in history
    assert oct((tmp_path / "skyql" / "history").stat().st_mode & 0o777) == "0o600"


def test_ctrl_c_at_the_prompt_drops_the_line_and_quit_ends(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sh = drive(session, "SHOW SERVICES IN\x03\\q\rSHOW PROVIDERS;\r", tmp_path, monkeypatch)
    assert sh.err.getvalue() == ""
    assert "google" not in sh.out.getvalue().split("\n", 1)[1]  # \q stopped before SHOW PROVIDERS


def test_emulator_session_prints_a_banner_with_a_query_to_try() -> None:
    with Session(emulator=True) as s:
        banner = Shell(s, out=io.StringIO()).banner()
    assert banner.startswith("skyql emulator at http://127.0.0.1:")
    assert "Try: SELECT jobId, state FROM google.ml.jobs WHERE projectsId = 'demo-project';" in banner


# -- readable results ------------------------------------------------------------------------------------


def wide_result(rows: int = 3) -> Result:
    return Result.of_strings(["id", "description"], [(str(i), "x" * 300) for i in range(rows)])


def test_wide_tables_are_clipped_to_the_terminal_width() -> None:
    text = fit_table(wide_result(), 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "xxx..." in text and "| 0 " in text
    # Narrow columns keep their width; only wide ones give way.
    assert cell_limit([2, 300, 50], 100) == 49


def test_long_output_goes_through_the_pager(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paged = tmp_path / "paged.txt"
    monkeypatch.setenv(
        "PAGER", f"{sys.executable} -c \"import sys; open({str(paged)!r}, 'w').write(sys.stdin.read())\""
    )
    sh = Captured(session, page=True, size=(80, 10))
    sh.run("SHOW SERVICES IN google LIKE 'a%';")
    assert "aiplatform:v1" in paged.read_text() and sh.out.getvalue() == ""
    sh.run("SHOW SERVICES IN google LIKE 'ml%';")  # short: printed directly
    assert "ml:v1" in sh.out.getvalue()


# -- progress --------------------------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_counts_pages_rows_and_requests_in_flight() -> None:
    now = [100.0]
    line = ProgressLine(FakeTerminal(), clock=lambda: now[0])
    line.reset()
    assert line.text() == "running · 0.0 s  (Ctrl-C cancels)"
    for _ in range(3):
        line("request", resource="google.ml.jobs")
    line("response", resource="google.ml.jobs", status=200)
    line("page", resource="google.ml.jobs", rows=50)
    line("page", resource="google.ml.jobs", rows=7)
    line("retry", resource="google.ml.jobs", status=429, wait=1.0)
    line("something_new", detail=1)  # unknown events are ignored
    now[0] = 102.5
    assert line.text() == (
        "google.ml.jobs · 2 pages · 57 rows · 2 in flight · 1 retried · 2.5 s  (Ctrl-C cancels)"
    )


def test_progress_is_drawn_on_a_terminal_and_erased_after(tmp_path: Path) -> None:
    screen = FakeTerminal()
    with ProgressLine(screen, delay=0.0, interval=0.01) as line:
        line("page", rows=10)
        time.sleep(0.1)
    assert "10 rows" in screen.getvalue() and screen.getvalue().endswith("\r\x1b[K")
    quiet = io.StringIO()  # not a terminal: nothing at all
    with ProgressLine(quiet, delay=0.0, interval=0.01):
        time.sleep(0.05)
    assert quiet.getvalue() == ""


# -- the real command: piped stdin and a pseudo-terminal ---------------------------------------------------


def skyql(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyql.cli.main", *args],
        input=stdin,
        text=True,
        capture_output=True,
        timeout=60,
    )


def test_piped_statements_run_without_a_prompt() -> None:
    done = skyql("shell", stdin="SHOW SERVICES IN google LIKE 'ml%';\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[3] == "| ml:v1 | ml   | AI Platform Training & Prediction API |"
    assert "skyql>" not in done.stdout and done.stderr == ""


def test_piped_failure_is_reported_with_its_line_and_the_rest_still_runs() -> None:
    script = (
        "SHOW SERVICES IN google LIKE 'ml%';\n\nSHOW RESOURCES IN google.nope;\n\\o json\nSHOW PROVIDERS;\n"
    )
    done = skyql("shell", "-o", "csv", stdin=script)
    assert done.returncode == 1
    assert done.stdout.startswith("id,name,title\nml:v1,ml,")
    assert json.loads(done.stdout.splitlines()[-1])[0]["name"] == "google"
    assert done.stderr.startswith("skyql: line 3: unknown service google.nope")
    assert "output format is json" in done.stderr  # notes stay off stdout


class Terminal:
    """`skyql shell` on a pseudo-terminal, read and typed into like a user would."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.execve(sys.executable, [sys.executable, "-m", "skyql.cli.main", "shell", *args], env)
        self.screen = ""
        self.seen = 0

    def expect(self, pattern: str, timeout: float = 20) -> str:
        """Wait for `pattern` in what appeared since the last match; return that stretch of output."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.screen[self.seen :])
            if match:
                stretch = self.screen[self.seen : self.seen + match.end()]
                self.seen += match.end()
                return stretch
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in:\n{self.screen[self.seen :][-2000:]}")
            self._read()

    def _read(self) -> None:
        ready, _, _ = select.select([self.fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # the child has gone
                return
            self.screen += re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", chunk.decode(errors="replace"))

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def close(self) -> int:
        self.type("\x04")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            self._read()  # a child blocked on a full terminal buffer would never exit
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise AssertionError("the shell did not exit on Ctrl-D")


@pytest.fixture
def terminal(emulator: Emulator, key_file: Path, tmp_path: Path) -> Iterator[Terminal]:
    auth = json.dumps({"google": {"type": "service_account", "credentialsfilepath": str(key_file)}})
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path), TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", PAGER="cat")
    term = Terminal("--endpoint", f"google={emulator.url}", "--auth", auth, env=env)
    term.expect(r"skyql>")
    yield term
    term.expect(r"skyql>")  # Ctrl-D before the prompt is back would meet a cooked-mode terminal
    assert term.close() == 0


def test_tab_completes_a_resource_name_at_the_prompt(terminal: Terminal) -> None:
    terminal.type("\\d google.ml.jo")
    terminal.expect(r"jobs_iam_policies +resource")  # the menu is open while typing
    terminal.type("\t\r")  # Tab picks its first entry, Enter runs the command
    terminal.expect(r"\| jobId +\| string")


def test_ctrl_c_cancels_a_slow_fetch_and_the_shell_goes_on(terminal: Terminal, emulator: Emulator) -> None:
    size = emulator.populate("ml", "projects/shell-ctrl-c/jobs", 3)
    emulator.inject(delay_ms=8000, count=1, match="projects/shell-ctrl-c/jobs")
    query = "SELECT jobId FROM google.ml.jobs WHERE projectsId = 'shell-ctrl-c';\r"
    terminal.type(query)
    terminal.expect(r"Ctrl-C cancels")  # the live progress line: the fetch is under way
    terminal.type("\x03")
    terminal.expect(r"cancelled[\s\S]*skyql>")  # not the rows: the 8 s answer was abandoned
    terminal.type(query)
    terminal.expect(rf"\| jobId +\|[\s\S]*\n{size} rows")


def test_history_lives_in_the_xdg_state_folder(tmp_path: Path) -> None:
    assert history_path({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "skyql" / "history"
    assert history_path({}) == Path.home() / ".local" / "state" / "skyql" / "history"
    assert history_path({"XDG_STATE_HOME": "relative"}) == history_path({})


def test_statements_are_highlighted_as_sql() -> None:
    pytest.importorskip("pygments")
    lex = SqlHighlighter().lex_document(Document("SELECT jobId FROM google.ml.jobs WHERE x = 'a'"))
    styles = {text: style for style, text in lex(0)}
    assert "keyword" in styles["SELECT"].lower() and "string" in styles["'a'"].lower()


def test_the_shell_modules_load_neither_duckdb_nor_httpx() -> None:
    code = (
        "import sys, skyql.shell, skyql.shell.repl, skyql.shell.prompt, skyql.shell.completion; "
        "print(sorted(m for m in ('duckdb', 'httpx', 'google.auth') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_shell_preloads_what_a_first_query_needs_once_its_prompt_is_up() -> None:
    # The prompt appears without them; the warm thread then imports them while the user types.
    code = (
        "import sys\nfrom skyql.shell.prompt import preload_query_stack\npreload_query_stack()\n"
        "print(sorted(m for m in ('aiohttp', 'duckdb', 'google.auth', 'httpx', 'sqlglot') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['aiohttp', 'duckdb', 'google.auth', 'httpx', 'sqlglot']"
