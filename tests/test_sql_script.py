"""Splitting a script into statements: semicolons in strings, names and comments, exact text, line numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from skyql.errors import SqlError
from skyql.sql import parse, split_script

SCRIPT = """-- list what is there; then cancel
SHOW SERVICES IN google;
SELECT 'a;b' AS x, "c;d", `e;f` FROM google.ml.jobs /* a ; in a comment */ WHERE projectsId = 'p';

;;
/* only a comment; nothing to run */ ;
EXEC /*+ AWAIT */ google.ml.jobs.cancel @projectsId = 'p',
  @jobsId = 'j'
  @@json = '{"reason": "done; really"}';
/*+ SHOWRESULTS */ EXEC google.ml.jobs.cancel @projectsId = 'p', @jobsId = 'k'; SELECT 'it''s; fine'
-- trailing comment; no statement
"""


def test_split_script_cuts_at_semicolons_outside_strings_names_and_comments():
    assert split_script(SCRIPT) == [
        ("SHOW SERVICES IN google", 2),
        (
            """SELECT 'a;b' AS x, "c;d", `e;f` FROM google.ml.jobs /* a ; in a comment */ WHERE projectsId = 'p'""",
            3,
        ),
        (
            """EXEC /*+ AWAIT */ google.ml.jobs.cancel @projectsId = 'p',\n  @jobsId = 'j'\n"""
            """  @@json = '{"reason": "done; really"}'""",
            7,
        ),
        ("/*+ SHOWRESULTS */ EXEC google.ml.jobs.cancel @projectsId = 'p', @jobsId = 'k'", 10),
        ("SELECT 'it''s; fine'", 10),
    ]


def test_parsed_script_statements_keep_their_hints_and_lines():
    statements = parse(SCRIPT)
    assert [(type(s).__name__, s.line, sorted(s.hints)) for s in statements] == [
        ("ShowServices", 2, []),
        ("Query", 3, []),
        ("Exec", 7, ["AWAIT"]),
        ("Exec", 10, ["SHOWRESULTS"]),
        ("Query", 10, []),
    ]
    assert statements[2].body == '{"reason": "done; really"}'


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("", []),
        ("  \n\n ", []),
        ("-- nothing\n/* at all */;;", []),
        ("SELECT 1", [("SELECT 1", 1)]),
        ("SELECT 1;", [("SELECT 1", 1)]),
        ("\n\n  SELECT 1  ;  \n", [("SELECT 1", 3)]),
        ("SELECT 1 -- one; two\n;SELECT 2", [("SELECT 1", 1), ("SELECT 2", 2)]),
        (
            "SELECT /* outer /* nested; */ still; comment */ 1; SELECT 2",
            [("SELECT /* outer /* nested; */ still; comment */ 1", 1), ("SELECT 2", 1)],
        ),
        ("SELECT E'it\\'s; escaped'; SELECT 2", [("SELECT E'it\\'s; escaped'", 1), ("SELECT 2", 1)]),
        ("SELECT 1\r\n;\r\nSELECT 2", [("SELECT 1", 1), ("SELECT 2", 3)]),
        ("SELECT 'multi\nline;\nstring'; SELECT 2", [("SELECT 'multi\nline;\nstring'", 1), ("SELECT 2", 3)]),
        ("SELECT 1; /*+ AWAIT */\nEXEC a.b.c.d", [("SELECT 1", 1), ("/*+ AWAIT */\nEXEC a.b.c.d", 1)]),
        ("SELECT 1 /*+ SHOWRESULTS */ -- note\n;", [("SELECT 1 /*+ SHOWRESULTS */", 1)]),
    ],
)
def test_split_script_cases(script, expected):
    assert split_script(script) == expected


def test_an_unterminated_string_says_where_it_starts():
    with pytest.raises(
        SqlError, match=r"unterminated string starting at line 3, column 23: add the closing '"
    ):
        split_script("SELECT 1;\nSELECT 2;\nSELECT * FROM t WHERE 'oops;\nSELECT 3;")


def test_an_unterminated_quoted_name_is_reported_as_such():
    with pytest.raises(SqlError, match=r"unterminated quoted name starting at line 1, column 8"):
        split_script('SELECT "oops FROM t')


def test_errors_in_a_later_statement_give_the_script_line_and_column():
    with pytest.raises(SqlError, match=r"line 4, column 13 near 'WHERE'"):
        parse("SHOW PROVIDERS;\n\n-- next\nSELECT FROM WHERE;")


_CHUNK = hs.text(alphabet="ab ;'\"-*/\n", max_size=12)


@settings(max_examples=60, deadline=None)
@given(hs.lists(hs.tuples(_CHUNK, _CHUNK), min_size=1, max_size=6))
def test_any_string_literals_and_comments_survive_splitting(parts):
    """Statements whose strings and comments hold ;, quotes and comment markers split back exactly."""
    statements = []
    for literal, comment in parts:
        quoted = "'" + literal.replace("'", "''") + "'"
        block = comment.replace("*/", "").replace("/*", "")
        statements.append(f"SELECT {quoted} /* {block} */ AS c")
    script = "".join(
        f"{s};\n-- {c.replace(chr(10), ' ')}\n" for s, (_, c) in zip(statements, parts, strict=True)
    )
    assert [text for text, _ in split_script(script)] == statements
    assert [line for _, line in split_script(script)] == [
        1 + sum(s.count("\n") + 2 for s in statements[:i]) for i in range(len(statements))
    ]
