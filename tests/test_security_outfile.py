"""`-f/--outfile` on what a path can name: a regular file is replaced atomically and keeps its mode, a symlink
is written through, a FIFO or a device is streamed to, and an interrupted run leaves no temporary file."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from skyql.cli.main import main
from skyql.emulator import Emulator
from tests.support import auth_for

SKYQL = [sys.executable, "-m", "skyql.cli.main"]
TABLE = "|---|\n| a |\n|---|\n| 1 |\n|---|\n"


def run(*args: str) -> int:
    return main(["exec", *args])


def test_an_existing_file_keeps_its_mode(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    target.chmod(0o640)
    assert run("-f", str(target), "SELECT 1 AS a") == 0
    assert target.read_text() == TABLE
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path):
    target = tmp_path / "new.txt"
    old = os.umask(0o027)
    try:
        assert run("-f", str(target), "SELECT 1 AS a") == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # 0666 & ~027, not mkstemp's 0600


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "data" / "real.txt"
    real.parent.mkdir()
    real.write_text("old\n")
    real.chmod(0o604)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert run("-f", str(link), "SELECT 1 AS a") == 0
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text() == TABLE
    assert stat.S_IMODE(real.stat().st_mode) == 0o604
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.txt"]


def through_fifo(fifo: Path, sql: str) -> tuple[int, str]:
    """Run `sql` with -f FIFO while another thread reads it: the exit status and what the reader got."""
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    try:
        status = run("-f", str(fifo), sql)
    finally:
        reader.join(30)
    return status, "".join(got)


def test_a_fifo_is_streamed_to_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    assert through_fifo(fifo, "SELECT 1 AS a") == (0, TABLE)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


# /dev/fd/1 names stdout as /dev/stdout does. A build that renamed over /dev/stdout would, run as root, replace
# the machine's /dev/stdout with a file; over /dev/fd/1 (in /proc) it can only fail.
STDOUT_NAMES = ["/dev/fd/1", "/proc/self/fd/1"] + (["/dev/stdout"] if os.geteuid() != 0 else [])


@pytest.mark.parametrize("name", STDOUT_NAMES)
def test_stdout_by_name_is_written_to(tmp_path, name):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [*SKYQL, "exec", "-f", name, "SELECT 1 AS a"], capture_output=True, text=True, env=env, timeout=120
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, TABLE, "")
    # Even when stdout is a regular file, it is written to, not renamed over.
    into = tmp_path / "redirected.txt"
    with into.open("w") as handle:
        done = subprocess.run(
            [*SKYQL, "exec", "-f", name, "SELECT 1 AS a"],
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=120,
        )
    assert (done.returncode, done.stderr, into.read_text()) == (0, "", TABLE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["redirected.txt"]


def test_a_process_substitution_is_written_to():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    command = " ".join(SKYQL) + " exec -f >(cat) 'SELECT 1 AS a'; wait $!"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, TABLE, "")


def test_a_failed_statement_says_what_became_of_a_streamed_target(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    assert through_fifo(fifo, "SELECT 1 AS a; SELECT * FROM nowhere") == (1, TABLE)
    assert f"{fifo} may hold part of the output because a statement failed" in capsys.readouterr().err


@pytest.fixture
def slow_emulator(emulator: Emulator):
    yield emulator
    emulator.clear_faults()


@pytest.mark.parametrize(
    ("signum", "status", "says"),
    [(signal.SIGTERM, 143, "skyql: terminated\n"), (signal.SIGINT, 130, "skyql: cancelled\n")],
)
def test_a_signal_while_writing_removes_the_temporary_file(
    tmp_path, slow_emulator, key_file, signum, status, says
):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    slow_emulator.populate("ml", "projects/sec-term/jobs", 1)
    slow_emulator.inject(delay_ms=60_000, count=1, match="projects/sec-term/")
    slow_emulator.clear_log()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen(
        [
            *SKYQL,
            "exec",
            "-f",
            str(target),
            "--auth",
            json.dumps(auth_for(key_file)),
            "--endpoint",
            f"google={slow_emulator.url}",
            "SELECT 1 AS a; SELECT jobId FROM google.ml.jobs WHERE projectsId = 'sec-term'",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The temporary file exists once the script runs; the slow request keeps it running.
        while not (
            any(p.name.startswith(".skyql-") for p in tmp_path.iterdir())
            and any("sec-term" in r["path"] for r in slow_emulator.requests)
        ):
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == status, err
    assert err.endswith(says)
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.json", "out.txt"]
    assert target.read_text() == "old\n"
