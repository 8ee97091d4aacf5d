"""docs/python.md cannot rot: its `python` blocks run as one notebook, and every option is documented."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from skyql.dbapi.connection import OPTION_NAMES
from skyql.dbapi.sqlalchemy import URL_OPTIONS

DOC = Path(__file__).resolve().parent.parent / "docs" / "python.md"


def python_blocks() -> list[str]:
    """The ```python blocks, in order (```py blocks need real credentials and are not run)."""
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_every_connect_keyword_is_documented():
    text = DOC.read_text()
    keywords = {"auth", "endpoints", "concurrency", "safe", "emulator", *OPTION_NAMES}
    assert not [k for k in sorted(keywords) if f"`{k}`" not in text]


def test_every_url_option_is_documented():
    section = DOC.read_text().split("## SQLAlchemy", 1)[1]
    assert not [o for o in sorted(URL_OPTIONS) if f"`{o}`" not in section]


def test_the_python_blocks_run_as_a_notebook_against_the_emulator():
    blocks = python_blocks()
    assert len(blocks) >= 8
    namespace: dict[str, object] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)
    printed = out.getvalue()
    assert "('jobId', 'VARCHAR', None, None, None, None, True)" in printed
    assert "needs projectsId" in printed
    assert namespace["conn"].closed
