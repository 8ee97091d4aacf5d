"""Docs that cannot rot: README's commands are what CI runs, and every CLI flag is documented."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from skyql.cli.main import build_parser

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_exactly_the_test_command_readme_gives():
    test_commands = [c for c in readme_commands() if "pytest" in c]
    assert len(test_commands) == 1
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_commands[0] in ci.splitlines()


def test_readme_has_a_main_job_command_that_runs_a_query_against_the_emulator():
    main_jobs = [c for c in readme_commands() if c.startswith("python3 -m venv") and "pytest" not in c]
    assert len(main_jobs) == 1
    assert "exec --emulator" in main_jobs[0] and "SELECT" in main_jobs[0]


def _options(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for key, opts in _options(sub).items():
                    found[f"{name} {key}".strip()] = opts
        elif action.option_strings:
            found.setdefault("", []).extend(o for o in action.option_strings if o.startswith("--"))
    return found


def test_every_cli_flag_is_documented_in_docs_cli_md():
    doc = (ROOT / "docs" / "cli.md").read_text()
    missing = [
        f"{command}: {flag}"
        for command, flags in _options(build_parser()).items()
        for flag in flags
        if flag not in ("--help",) and f"`{flag}" not in doc and f"{flag} " not in doc
    ]
    assert not missing, f"undocumented flags: {missing}"
