"""docs/sql.md's section on changing resources: every example runs on its own against a fresh emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from skyql.emulator import Emulator
from skyql.emulator.api import Api
from skyql.emulator.emulator import shared_registry
from skyql.session import Session
from skyql.sql import parse
from tests.mutation_support import open_session

DOC = Path(__file__).resolve().parent.parent / "docs" / "sql.md"
SECTION = "## Changing resources: INSERT, UPDATE, REPLACE, DELETE, EXEC"


def examples() -> list[tuple[str, list[str]]]:
    """(statement, expected message patterns) for each statement of the section's sql blocks, in order.

    A text block right after a sql block shows the message of that block's last statement; `...` stands for
    what differs from run to run.
    """
    text = DOC.read_text()
    start = text.index(SECTION)
    section = text[start : text.index("\n## ", start + len(SECTION))]
    out: list[tuple[str, list[str]]] = []
    for kind, body in re.findall(r"```(sql|text)\n(.*?)```", section, re.S):
        if kind == "sql":
            out.extend((statement.text, []) for statement in parse(body))
        elif out and not body.startswith("skyql:"):
            out[-1][1].extend(body.strip().splitlines())
    return out


EXAMPLES = examples()


def test_the_section_shows_every_statement_kind():
    starts = {sql.split()[0].upper() for sql, _ in EXAMPLES}
    assert {"INSERT", "UPDATE", "REPLACE", "DELETE", "EXEC", "SHOW"} <= starts
    assert any("/*+ AWAIT */" in sql for sql, _ in EXAMPLES)


@pytest.fixture(scope="module")
def docs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Session]]:
    """An emulator of its own (examples change demo-project), and a session on it."""
    with Emulator() as emulator:
        key = emulator.make_key(tmp_path_factory.mktemp("docs") / "key.json")
        with open_session(emulator, key) as session:
            yield emulator, session


@pytest.mark.parametrize("sql, messages", EXAMPLES, ids=[f"example{i}" for i in range(1, len(EXAMPLES) + 1)])
def test_each_example_runs_against_a_fresh_emulator(sql, messages, docs_emulator):
    emulator, session = docs_emulator
    # A fresh API state (the default population only), as `skyql exec --emulator` starts with.
    emulator.api = Api(shared_registry(), emulator.config)
    result = session.execute(sql)
    for pattern in messages:
        regex = ".*".join(re.escape(part) for part in pattern.split("..."))
        assert re.fullmatch(regex, result.message or ""), (pattern, result.message)
