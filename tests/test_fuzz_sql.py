"""Adversarial SQL: whatever the text, a statement ends in a skyql error or a result, never another exception.

10,000 generated statements (malformed, huge, deeply nested, unicode, NUL bytes, StackQL grammar soup, real and
near-miss resource names) run through the parser, the planners and the metadata statements and are dry-run
against the registry (grammar soup and mangled statements also through the template renderer and the script
splitter): nothing is sent, no connection is opened.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyql.emulator.emulator import shared_registry
from skyql.errors import SkyqlError
from skyql.session import Options, Session
from skyql.sql import parse, render_template
from tests.test_security_e2e import connections


def fuzz(examples: int) -> settings:
    """Deterministic runs of `examples` cases; the five properties below add up to 10,000."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


RESOURCES = [
    "google.ml.jobs",
    "google.ml.jobs_iam_policies",
    "google.ml.models",
    "google.aiplatform.hyperparameter_tuning_jobs",
    "google.aiplatform.datasets",
    "google.compute.instances",
    "google.storage.buckets",
    "google.ml",
    "google",
    "google.ml.job",
    "google.nope.jobs",
    "google.ml.jobs.list",
    "other.ml.jobs",
    "google.ml.jöbs",
    "GOOGLE.ML.JOBS",
]
METHODS = [
    "google.ml.jobs.cancel",
    "google.ml.jobs.create",
    "google.ml.jobs_iam_policies.test_iam_permissions",
    "google.aiplatform.hyperparameter_tuning_jobs.cancel",
    "google.ml.jobs._list",
    "google.ml.jobs.nope",
]
PARAMS = [
    "projectsId",
    "locationsId",
    "jobsId",
    "hyperparameterTuningJobsId",
    "project",
    "zone",
    "instance",
    "pageSize",
    "filter",
    "updateMask",
    "jobId",
    "state",
    "labels",
    "data__labels",
    "trainingInput",
    "data__trainingInput",
    "displayName",
    "name",
    "createTime",
    "etag",
    "bindings",
    "nosuch",
    "j.jobId",
    '"projectsId"',
    "1abc",
    "data__",
]
KEYWORDS = [
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "AS",
    "JOIN",
    "LEFT",
    "ON",
    "GROUP BY",
    "HAVING",
    "ORDER BY",
    "LIMIT",
    "OFFSET",
    "UNION",
    "ALL",
    "WITH",
    "DISTINCT",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "EXISTS",
    "VALUES",
    "INSERT",
    "INTO",
    "UPDATE",
    "SET",
    "DELETE",
    "REPLACE",
    "RETURNING",
    "EXEC",
    "SHOW",
    "EXTENDED",
    "SERVICES",
    "RESOURCES",
    "METHODS",
    "PROVIDERS",
    "INSERT INTO",
    "DESCRIBE",
    "DESC",
    "METHOD",
    "REGISTRY",
    "LIST",
    "PULL",
    "LIKE",
    "LATERAL",
    "json_extract",
    "json_each",
    "json_array_length",
    "json_group_array",
    "split_part",
    "count(*)",
    "/*+ AWAIT */",
    "/*+ SHOWRESULTS */",
    "/*+ REQUIRED */",
    "/*+ NOPE */",
    "@@json",
    "@projectsId",
]
PUNCT = [
    "(",
    ")",
    ",",
    ";",
    "*",
    "=",
    "<>",
    "!=",
    "<",
    ">",
    "'",
    '"',
    "`",
    ".",
    "@",
    "@@",
    "?",
    "$1",
    "::",
    "||",
    "-",
    "+",
    "/",
    "%",
    "[",
    "]",
    "{",
    "}",
    "{{",
    "}}",
    "{%",
    "%}",
    "--",
    "/*",
    "*/",
    "\\",
    "\x00",
]
LITERALS = [
    "NULL",
    "TRUE",
    "0",
    "-1",
    "1e999",
    "-9223372036854775809",
    "18446744073709551616",
    "1.5",
    "'nan'",
    "''",
    "'p'",
    "'us-central1'",
    "'a/../../b'",
    "'..'",
    "'.'",
    "'/'",
    "'%2F'",
    "'a%2F..%2Fb'",
    "'?x=1&y=2'",
    "'#frag'",
    "'\x00'",
    "'a\x00b'",
    "'日本語'",
    "'🎉'",
    "'\u202eevil'",
    "'é'",
    "'ß'",
    "'\t\n'",
    "'it''s'",
    "'unclosed",
    "'''",
    '"quoted"',
    "`back`",
    "'{}'",
    "'[]'",
    """'{"a": [1, {}]}'""",
    """'{"region": "us-central1"}'""",
    "'{bad json'",
    "'" + "[" * 300 + "]" * 300 + "'",
    "'" + '{"a":' * 200 + "1" + "}" * 200 + "'",
    "'" + "x" * 5000 + "'",
    "?",
    "$1",
    ":name",
    "'{{ project }}'",
    "'{{ .project }}'",
    "'{% for %}'",
    "CAST('1' AS INT)",
    "[1, 2]",
    "{'a': 1}",
]
SEEDS = [
    "SELECT jobId, state FROM google.ml.jobs WHERE projectsId = 'p'",
    "SELECT name, state FROM google.aiplatform.hyperparameter_tuning_jobs "
    "WHERE projectsId = 'p' AND locationsId IN ('us-central1', 'europe-west4') ORDER BY name LIMIT 3",
    "SELECT j.jobId, json_extract(j.labels, '$.team') AS team FROM google.ml.jobs j "
    "JOIN google.ml.models m ON m.projectsId = j.projectsId WHERE j.projectsId = 'p' AND m.projectsId = 'p'",
    "WITH x AS (SELECT jobId FROM google.ml.jobs WHERE projectsId = 'p') SELECT count(*) FROM x",
    "INSERT INTO google.ml.jobs (projectsId, jobId, trainingInput) "
    """SELECT 'p', 'train_1', '{"region": "us-central1", "scaleTier": "BASIC"}' RETURNING jobId""",
    """UPDATE google.ml.jobs SET labels = '{"team": "a"}' WHERE projectsId = 'p' AND jobsId = 'j'""",
    "DELETE FROM google.aiplatform.hyperparameter_tuning_jobs "
    "WHERE projectsId = 'p' AND locationsId = 'us-central1' AND hyperparameterTuningJobsId = '1'",
    "EXEC /*+ AWAIT */ google.ml.jobs.cancel @projectsId = 'p', @jobsId = 'j'",
    "EXEC google.ml.jobs_iam_policies.test_iam_permissions @projectsId='p', @jobsId='j' "
    """@@json='{"permissions": ["ml.jobs.get"]}'""",
    "SHOW EXTENDED METHODS IN google.ml.jobs",
    "SHOW SERVICES IN google LIKE 'ml%'",
    "DESCRIBE EXTENDED google.aiplatform.hyperparameter_tuning_jobs",
    "DESCRIBE METHOD google.ml.jobs.create",
    "SHOW INSERT /*+ REQUIRED */ INTO google.ml.jobs",
    "REGISTRY LIST google",
    "SELECT jobId FROM google.ml.jobs WHERE projectsId = '{{ project }}' {% if x %}AND state = 'X'{% endif %}",
]
EDITS = [*PUNCT, "\n", " ", "é", "日本", "\u202e", "((((((", "))", "'{{", "{% if %}", "\x00\x00"]


def _unicode(seed: int) -> str:
    """A short string from anywhere in Unicode (controls, combining marks, RTL, astral planes), no surrogates."""
    rng = random.Random(seed)
    chars = [
        chr(
            rng.choice(
                [
                    rng.randrange(0x20),
                    rng.randrange(0x80, 0x800),
                    rng.randrange(0x800, 0xD800),
                    rng.randrange(0xE000, 0x110000),
                ]
            )
        )
        for _ in range(rng.randrange(1, 8))
    ]
    return "'" + "".join(chars).replace("'", "''") + "'"


# Drawn from a fixed pool: generating text inside the examples would cost most of the time budget.
UNICODE = [_unicode(seed) for seed in range(60)]


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    """A dry-run session: statements are planned and described, never sent."""
    with Session(Options(dryrun=True, auth={}), registry=shared_registry()) as sess:
        yield sess


def run(session: Session, text: str, *, script: bool = False) -> None:
    """Every door a statement's text goes through; each may only fail with a SkyqlError, none may connect."""
    steps = [lambda: session.execute(text)]
    if script:  # what `skyql exec -i` does first: render the template, split and parse the script
        steps += [lambda: render_template(text, {"project": "p"}), lambda: parse(text)]
    with connections() as seen:
        for step in steps:
            with contextlib.suppress(SkyqlError):
                step()
    assert seen == []


# -- strategies: few draws each, all built once (a strategy built inside a draw costs more than the draw) ------

TAILS = [
    "",
    " GROUP BY 1",
    " ORDER BY 1 DESC",
    " LIMIT 5",
    " LIMIT -1",
    " LIMIT 99999999999999999999",
    " UNION ALL SELECT 1",
    " LIMIT (SELECT 1)",
    " OFFSET 3",
    ";",
    "; SELECT 1",
]
JOINS = [""] * 8 + [
    f" j JOIN {r} k ON j.{a} = k.{b}"
    for r in RESOURCES[:8]
    for a, b in [("projectsId", "projectsId"), ("jobId", "jobsId"), ("name", "nosuch")]
]
COLUMNS = [
    "*",
    "jobId",
    "jobId, state",
    "count(*)",
    "json_extract(labels, '$.a')",
    "nosuch",
    "j.*",
    "DISTINCT name",
    "CASE WHEN 1 THEN 2 END",
    "?",
]
PAIRS = [(n, v) for n in PARAMS for v in LITERALS[::2] + UNICODE[::6]]
BODIES = [
    "",
    " @@json = '{}'",
    " @@json='[1]'",
    " @@json = 'nope'",
    ", @@json = {}",
    " @@json = " + LITERALS[-9],
]
VERBS = [
    "SHOW PROVIDERS",
    "SHOW SERVICES IN {}",
    "SHOW EXTENDED RESOURCES IN {}",
    "SHOW METHODS IN {}",
    "SHOW INSERT INTO {}",
    "SHOW INSERT /*+ REQUIRED */ INTO {}",
    "DESCRIBE {}",
    "DESC EXTENDED {}",
    "DESCRIBE METHOD {}",
    "REGISTRY LIST {}",
    "REGISTRY PULL {}",
    "SHOW {}",
    "DESCRIBE",
]
METADATA_TAILS = ["", " LIKE {}", " WHERE {}", " WHERE name = {}", ";", "; {}"]

literal = st.sampled_from(LITERALS + UNICODE)
# `?` placeholders without parameters stop a statement at binding: keep them out of conditions.
value = st.sampled_from([v for v in LITERALS if v not in ("?", "$1", ":name")] + UNICODE)
values = st.lists(value, max_size=4)
name = st.sampled_from(PARAMS)
resource = st.sampled_from(RESOURCES)
one_in_80 = st.integers(0, 79)
kinds, leaf_kinds = st.integers(0, 6), st.integers(0, 2)
comparison = st.sampled_from(["<>", "<", "LIKE", "IS", "IS NOT", "="])
connective = st.sampled_from([" AND ", " OR "])
deep = st.sampled_from([30, 200])
columns, joins, tails = st.sampled_from(COLUMNS), st.sampled_from(JOINS), st.sampled_from(TAILS)
wraps = st.sampled_from([0] * 24 + [1, 2, 3, 60])
hints = st.sampled_from(["", "/*+ AWAIT */ ", "/*+ SHOWRESULTS */ "])
pairs = st.lists(st.sampled_from(PAIRS), max_size=4)
mutation_kinds = st.integers(0, 4)
separators = st.sampled_from([", ", " ", ","])
bodies, methods = st.sampled_from(BODIES), st.sampled_from(METHODS)
targets, verbs, metadata_tails = resource | methods, st.sampled_from(VERBS), st.sampled_from(METADATA_TAILS)
seeds = st.sampled_from(SEEDS)
edits = st.lists(st.integers(0, 301 * 3 * len(EDITS) - 1), min_size=1, max_size=3)


@st.composite
def condition(draw: st.DrawFn, depth: int = 0) -> str:
    """A WHERE condition; only the outermost may be huge (a long IN list, AND chain or nesting)."""
    big = depth == 0 and draw(one_in_80) == 0
    kind = draw(kinds if depth < 2 else leaf_kinds)
    if kind == 0:
        return f"{draw(name)} = {draw(value)}"
    if kind == 1:
        return f"{draw(name)} IN ({', '.join(draw(values) * (500 if big else 1))})"
    if kind == 2:
        return f"{draw(name)} {draw(comparison)} {draw(value)}"
    if kind == 3:
        # A long chain of plain comparisons reaches the planner; nested ones would stop at the parser.
        pair = [draw(condition(2 if big else depth + 1)), draw(condition(2 if big else depth + 1))]
        return draw(connective).join(pair * (500 if big else 1))
    if kind == 4:
        n = draw(deep) if big else 2  # past what a recursive parser can take
        return "(" * n + draw(condition(depth + 1)) + ")" * n
    if kind == 5:
        return "NOT " * (400 if big else 1) + draw(condition(depth + 1))
    return f"{draw(name)} IN (SELECT {draw(name)} FROM {draw(resource)} WHERE {draw(condition(depth + 1))})"


@st.composite
def select(draw: st.DrawFn) -> str:
    sql = f"SELECT {draw(columns)} FROM {draw(resource)}{draw(joins)} WHERE {draw(condition())}{draw(tails)}"
    for i in range(draw(wraps)):
        sql = f"SELECT * FROM ({sql}) t{i}" if i % 2 else f"WITH c{i} AS ({sql}) SELECT * FROM c{i}"
    return sql


@st.composite
def mutation(draw: st.DrawFn) -> str:
    res, hint, given = draw(resource), draw(hints), draw(pairs)
    cols, vals = [c for c, _ in given], [v for _, v in given]
    sets = ", ".join(f"{c} = {v}" for c, v in given) or "x = 1"
    kind = draw(mutation_kinds)
    if kind == 0:
        source = f"SELECT {', '.join(vals) or '1'}" if len(given) % 2 else f"VALUES ({', '.join(vals)})"
        return f"INSERT {hint}INTO {res} ({', '.join(cols)}) {source}"
    if kind == 1:
        return f"UPDATE {hint}{res} SET {sets} WHERE {draw(condition())}"
    if kind == 2:
        return f"REPLACE {res} SET {sets} WHERE {draw(condition())}"
    if kind == 3:
        return f"DELETE FROM {res} WHERE {draw(condition())}"
    args = draw(separators).join(f"@{c} = {v}" for c, v in given)
    return f"EXEC {hint}{draw(methods)} {args}{draw(bodies)}"


@st.composite
def metadata(draw: st.DrawFn) -> str:
    return draw(verbs).format(draw(targets)) + draw(metadata_tails).format(draw(literal))


soup = st.lists(st.sampled_from(KEYWORDS + PUNCT + RESOURCES + METHODS + PARAMS + LITERALS), max_size=16).map(
    " ".join
)


@st.composite
def mangled(draw: st.DrawFn) -> str:
    """A good statement with a few characters inserted, deleted or replaced."""
    text = draw(seeds)
    # One number per edit (where, which kind, what): fewer draws keep 2,000 examples fast.
    for code in draw(edits):
        at, edit, piece = min(code % 301, len(text)), code // 301 % 3, EDITS[code // 903]
        if edit == 0:
            text = text[:at] + piece + text[at:]
        elif edit == 1:
            text = text[:at] + text[at + len(piece) :]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    return text


# -- the properties: 10,000 statements in all --------------------------------------------------------------------


@fuzz(1_500)
@given(text=select())
def test_generated_selects_end_in_a_result_or_a_skyql_error(session, text):
    run(session, text)


@fuzz(2_000)
@given(text=mutation())
def test_generated_mutations_and_execs_end_in_a_result_or_a_skyql_error(session, text):
    run(session, text)


@fuzz(1_500)
@given(text=metadata())
def test_generated_metadata_statements_end_in_a_result_or_a_skyql_error(session, text):
    run(session, text)


@fuzz(3_000)
@given(text=soup)
def test_random_grammar_tokens_end_in_a_result_or_a_skyql_error(session, text):
    run(session, text, script=True)


@fuzz(2_000)
@given(text=mangled())
def test_mangled_good_statements_end_in_a_result_or_a_skyql_error(session, text):
    run(session, text, script=True)
