"""Rendering .iql templates: Jinja and StackQL's Go spellings, a sandbox that only reads variables, and values
that stay where the template puts them (inside their literal, their comment, or as a bare number)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyql.errors import SqlError
from skyql.sql import parse_one, render_template
from skyql.sql.dialect import DIALECT
from skyql.sql.template import render_script

VARS = {
    "project": "my-project",
    "region": "us-central1",
    "projects": ["p1", "p2"],
    "jobs": [{"id": "a", "state": "RUNNING"}, {"id": "b", "state": "FAILED"}],
    "labels": {"team": "ml", "env": "prod"},
    "enabled": True,
    "count": 3,
    "ratio": 0.5,
    "nothing": None,
}

RENDERS = [
    # Jinja
    (
        "WHERE projectsId = '{{ project }}' AND locationsId = '{{ region }}';",
        "WHERE projectsId = 'my-project' AND locationsId = 'us-central1';",
    ),
    ("{% for p in projects %}SELECT '{{ p }}';\n{% endfor %}", "SELECT 'p1';\nSELECT 'p2';\n"),
    (
        "SELECT '{% if enabled %}on{% else %}off{% endif %}', {{ count + 1 }}, '{{ missing | default('d') }}'",
        "SELECT 'on', 4, 'd'",
    ),
    # StackQL's Go spellings
    (
        "WHERE projectsId = '{{ .project }}' AND locationsId = '{{.region}}'",
        "WHERE projectsId = 'my-project' AND locationsId = 'us-central1'",
    ),
    (
        "{{ range .projects }}SELECT '{{ . }}', '{{ $.region }}';\n{{ end }}",
        "SELECT 'p1', 'us-central1';\nSELECT 'p2', 'us-central1';\n",
    ),
    ("'{{ range .jobs }}[{{ .id }}={{ .state }}]{{ end }}'", "'[a=RUNNING][b=FAILED]'"),
    ("{{ range $i, $p := .projects }}({{ $i }}, '{{ $p }}') {{ end }}", "(0, 'p1') (1, 'p2') "),
    ("'{{ range $p := .projects }}{{ $p }}{{ end }}'", "'p1p2'"),
    ("'{{ range .labels }}{{ . }},{{ end }}'", "'prod,ml,'"),  # a map's values, in key order as Go does
    ("'{{ range .empty }}x{{ else }}none{{ end }}'", "'none'"),
    ("'{{ if .enabled }}on{{ else }}off{{ end }}'", "'on'"),
    ("'{{ if .not_given }}on{{ else }}off{{ end }}'", "'off'"),  # a missing key is false in a Go condition
    ('\'{{ if eq .region "eu" }}EU{{ else if ne .region "us" }}other{{ end }}\'', "'other'"),
    ("'{{ if gt .count 1 }}many{{ end }}'", "'many'"),
    (
        "'{{ if and .enabled .count }}both{{ end }} {{ if or .not_given .enabled }}either{{ end }}'",
        "'both either'",
    ),
    ("'{{ if not .enabled }}off{{ else }}on{{ end }}' {{ len .projects }}", "'on' 2"),
    ("'{{ range .projects }}{{ if eq . \"p2\" }}{{ . }}{{ end }}{{ end }}'", "'p2'"),
    ("{{/* a comment */}}SELECT 1", "SELECT 1"),
    ("'{{ $r := .region }}{{ $r }}'", "'us-central1'"),
    ("'{{- .project -}}  \n'", "'my-project'"),
    # Go: variables, functions, pipelines, with
    (
        "{{ $root := . }}{{ range .projects }}SELECT '{{ $root.region }}/{{ . }}';{{ end }}",
        "SELECT 'us-central1/p1';SELECT 'us-central1/p2';",
    ),
    (
        "SELECT '{{ printf \"%s-%03d\" .project .count }}', '{{ .project | printf \"%q\" }}'",
        "SELECT 'my-project-003', '\"my-project\"'",
    ),
    (
        'SELECT \'{{ printf "%v|%5.2f|%-4s|%t|%x|%d" .labels .ratio "ab" .enabled 255 }}\'',
        'SELECT \'{"env":"prod","team":"ml"}| 0.50|ab  |true|ff|%!d(MISSING)\'',
    ),
    (
        "SELECT '{{ index .projects 1 }}', '{{ index .labels \"team\" }}', '{{ (index .jobs 0).state }}'",
        "SELECT 'p2', 'ml', 'RUNNING'",
    ),
    (
        "SELECT '{{ with .labels }}{{ .env }}{{ end }}', '{{ with .empty }}x{{ else }}none{{ end }}'",
        "SELECT 'prod', 'none'",
    ),
    ("SELECT '{{ with $l := .labels }}{{ $l.team }}{{ end }}'", "SELECT 'ml'"),
    ("SELECT '{{ or .zone \"us-central1-a\" }}'", "SELECT 'us-central1-a'"),
    (
        "{{ $first := true }}SELECT '{{ range .projects }}{{ if not $first }},{{ end }}"
        "{{ $first = false }}{{ . }}{{ end }}'",
        "SELECT 'p1,p2'",
    ),
    (
        "SELECT '{{ range .projects }}{{ if eq . \"p1\" }}{{ continue }}{{ end }}{{ . }}{{ end }}'",
        "SELECT 'p2'",
    ),
    ("SELECT '{{ range $k, $v := .labels }}{{ $k }}={{ $v }};{{ end }}'", "SELECT 'env=prod;team=ml;'"),
    ("SELECT '{{ slice .project 3 }}', '{{ .project | len }}'", "SELECT 'project', '10'"),
    ("SELECT '{{ print 1 2 \"a\" }}', '{{ urlquery \"a b&c\" }}'", "SELECT '1 2a', 'a+b%26c'"),
    # Go: maps and lists print as StackQL prints them (Go's JSON: compact, keys sorted)
    (
        "SELECT '{{ .labels }}', '{{ .jobs }}'",
        'SELECT \'{"env":"prod","team":"ml"}\', \'[{"id":"a","state":"RUNNING"},{"id":"b","state":"FAILED"}]\'',
    ),
    ("SELECT {{ .enabled }}, {{ .count }}, {{ .ratio }}", "SELECT true, 3, 0.5"),
    # Jinja values by type: booleans as SQL writes them, objects as JSON (as stackql-deploy writes them)
    (
        "SELECT {{ enabled }}, '{{ labels }}', '{{ projects }}'",
        'SELECT true, \'{"team": "ml", "env": "prod"}\', \'["p1", "p2"]\'',
    ),
    ("SELECT {{ nothing }}, '{{ nothing }}'", "SELECT NULL, ''"),
    # stackql-deploy's filters
    ("SELECT '{{ labels | tojson }}'", 'SELECT \'{"env": "prod", "team": "ml"}\''),
    ("WHERE x IN {{ projects | sql_list }}", "WHERE x IN ('p1','p2')"),
    ("SELECT '{{ project | base64_encode }}'", "SELECT 'bXktcHJvamVjdA=='"),
    # text without template syntax is returned as it is
    ('SELECT \'{"a": {"b": 1}}\' -- }} {#', 'SELECT \'{"a": {"b": 1}}\' -- }} {#'),
]


@pytest.mark.parametrize(("template", "expected"), RENDERS, ids=[r[0][:40] for r in RENDERS])
def test_templates_render(template, expected):
    assert render_template(template, {**VARS, "empty": []}) == expected


def test_a_template_keeps_its_trailing_newline():
    assert render_template("SELECT '{{ project }}';\n", VARS) == "SELECT 'my-project';\n"


def test_error_lines_count_the_lines_inside_a_multi_line_go_tag():
    template = "SELECT 1;\n{{ range\n .projects }}\nSELECT '{{ .name }}';\n{{ end }}\n"
    with pytest.raises(SqlError, match="at line 4"):
        render_template(template, VARS)


# -- the sandbox -----------------------------------------------------------------------------------------

EXPLOITS = [
    "SELECT '{{ cycler.__init__.__globals__.os.system(\"touch PWNED\") }}' AS x",
    "SELECT '{{ lipsum.__globals__['os'].popen('touch PWNED').read() }}'",
    "SELECT '{{ joiner.__init__.__globals__.os.system('touch PWNED') }}'",
    "SELECT '{{ namespace.__init__.__globals__.os.system('touch PWNED') }}'",
    "SELECT '{{ ''.__class__.__mro__[1].__subclasses__() }}'",
    "SELECT '{{ self.__init__.__globals__ }}'",
    "SELECT '{{ range.__self__.__import__('os').system('touch PWNED') }}'",
    "SELECT '{{ (index .projects 0).__class__ }}'",
    "{% set x = projects.append('p3') %}SELECT '{{ projects }}'",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "SELECT '{{ 'a' * 10**10 }}'",
    "SELECT '{{ call .f }}'",
]


@pytest.mark.parametrize("template", EXPLOITS)
def test_a_template_cannot_run_code_read_files_or_change_its_data(template, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = {**VARS, "projects": ["p1", "p2"]}
    with pytest.raises(SqlError):
        render_template(template, data)
    assert not (tmp_path / "PWNED").exists()
    assert data["projects"] == ["p1", "p2"]


def test_a_script_is_rendered_once_and_its_lines_still_point_at_the_template():
    class Projects:
        iterations = 0

        def __iter__(self):
            Projects.iterations += 1
            return iter(["p1", "p2"])

    rendered = render_script(
        "SELECT 1;\n{% for p in projects %}\nSELECT '{{ p }}';\n{% endfor %}\nSELECT 2;\n",
        {"projects": Projects()},
    )
    assert Projects.iterations == 1
    lines = rendered.text.split("\n")
    assert [rendered.origin[lines.index(s)] for s in ("SELECT 'p1';", "SELECT 'p2';", "SELECT 2;")] == [
        3,
        3,
        5,
    ]


# -- values stay where the template puts them -------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["O'Brien", "x' OR '1'='1", "'; DROP TABLE t; --", "a\\'b", "it's ''quoted''"],
)
def test_a_substituted_string_cannot_break_out_of_its_sql_literal(value):
    sql = render_template(
        "EXEC google.ml.jobs.cancel @projectsId = '{{ project }}', @jobsId = '{{ .job }}'",
        {"project": value, "job": value},
    )
    statement = parse_one(sql)
    assert statement.params == {"projectsId": value, "jobsId": value}


def test_quotes_already_doubled_for_stackql_are_kept_as_they_are():
    # StackQL does not escape values, so its users write '' inside a value that goes into '...'.
    sql = render_template("SELECT '{{ .filter }}' AS f", {"filter": "eventTimestamp ge ''2024-01-01''"})
    assert sql == "SELECT 'eventTimestamp ge ''2024-01-01''' AS f"


def test_an_object_value_becomes_json_that_stays_inside_the_literal():
    sql = render_template(
        "EXEC google.ml.jobs.create @projectsId = 'p' @@json = '{{ body }}'",
        {"body": {"jobId": "it's", "labels": {"a": "b"}}},
    )
    assert parse_one(sql).body == '{"jobId": "it\'s", "labels": {"a": "b"}}'


def test_safe_marks_a_value_the_author_vouches_for_as_raw_sql():
    assert (
        render_template("WHERE {{ cond|safe }}", {"cond": "state = 'RUNNING'"}) == "WHERE state = 'RUNNING'"
    )


@pytest.mark.parametrize(
    ("template", "value", "fragment"),
    [
        ("SELECT 1 LIMIT {{ n }}", "1; DROP TABLE t", "outside quotes must be a number"),
        ("SELECT 1 LIMIT {{ .n }}", "1 UNION SELECT secret FROM t", "outside quotes must be a number"),
        ("SELECT x FROM t WHERE a = {{ n }}", "secret_column", "outside quotes must be a number"),
        ("SELECT 1 LIMIT {{ n|e }}", "1; DROP TABLE t", "outside quotes must be a number"),
        ("SELECT 1 LIMIT {{ n }}", ["1"], "outside quotes must be a number"),
        ("SELECT $${{ n }}$$", "x$$; DROP TABLE t; --", "cannot hold a $"),
        ("SELECT $t${{ n }}$t$", "x$t$; DROP TABLE t; --", "cannot hold a $"),
        ("SELECT 1 -- {{ n }}\n", "x\nDROP TABLE t", "line break"),
        ("SELECT 1 /* {{ n }} */", "*/ DROP TABLE t; /*", "open or close a comment"),
        ("SELECT 1 /* x*{{ n }} */", "/ DROP TABLE t", "open or close a comment"),
        ("SELECT 1 /*+ {{ n }} */", "AWAIT", "hint"),
    ],
)
def test_a_value_that_would_leave_its_place_is_refused(template, value, fragment):
    with pytest.raises(SqlError) as caught:
        render_template(template, {"n": value})
    message = str(caught.value)
    assert fragment in message and "template line 1" in message
    if isinstance(value, str):
        assert value not in message, "the value itself is not echoed"


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("SELECT 1 LIMIT {{ n }}", "10", "SELECT 1 LIMIT 10"),
        ("SELECT 1 LIMIT {{ n }}", 10, "SELECT 1 LIMIT 10"),
        ("SELECT 2 -{{ n }}", "-1", "SELECT 2 - -1"),
        ("SELECT E'{{ n }}'", "a\\'; DROP TABLE t; --", "SELECT E'a\\\\''; DROP TABLE t; --'"),
        ('SELECT "{{ n }}"', 'a"b', 'SELECT "a""b"'),
        ("SELECT `{{ n }}`", "a`b", "SELECT `a``b`"),
        ("SELECT $$ {{ n }} $$", "it's", "SELECT $$ it's $$"),
        ("SELECT 1 -- {{ n }}\n", "a */ b", "SELECT 1 -- a */ b\n"),
    ],
)
def test_a_value_is_written_as_its_place_needs(template, value, expected):
    assert render_template(template, {"n": value}) == expected


def test_a_block_set_in_the_template_keeps_its_values_in_place():
    sql = render_template(
        "{% set cond %}state = '{{ s }}'{% endset %}SELECT 1 FROM t WHERE {{ cond }}", {"s": "x' OR '1'='1"}
    )
    assert sql == "SELECT 1 FROM t WHERE state = 'x'' OR ''1''=''1'"
    joined = render_template("{% set c %}a{% endset %}SELECT '{{ c ~ s }}'", {"s": "'; DROP"})
    assert joined == "SELECT 'a''; DROP'"


def test_a_filter_block_is_refused():
    with pytest.raises(SqlError, match="filter"):
        render_template("{% filter upper %}SELECT '{{ s }}'{% endfilter %}", {"s": "x"})


PLACES = [
    ("SELECT '{{ v }}', 1", "x"),
    ("SELECT E'{{ v }}', 1", "x"),
    ('SELECT "{{ v }}", 1', "x"),
    ("SELECT `{{ v }}`, 1", "x"),
    ("SELECT $$ {{ v }} $$, 1", "x"),
    ("SELECT $q$ {{ v }} $q$, 1", "x"),
    ("SELECT 1 -- {{ v }}\n, 2", "x"),
    ("SELECT 1 /* {{ v }} */, 2", "x"),
    ("SELECT 1 - {{ v }}, 2", "1"),
    ("SELECT 1 -{{ v }}, 2", "1"),
]


def _shape(sql: str) -> list[str]:
    return [t.token_type.name for t in DIALECT.tokenize(sql)]


@settings(max_examples=300, deadline=None)
@given(
    place=st.sampled_from(PLACES),
    value=st.one_of(
        st.text(alphabet=st.sampled_from(list("ab1-'\"`$\\*/;\n\r ")), max_size=12),
        st.integers(),
        st.floats(allow_nan=False),
        st.booleans(),
    ),
)
def test_whatever_the_value_the_statement_keeps_its_shape(place, value):
    template, benign = place
    literal = {"DASH": None, "TRUE": "NUMBER", "FALSE": "NUMBER", "NULL": "NUMBER"}  # -1 is two tokens

    def shape(sql: str) -> list[str]:
        if benign == "x":
            return _shape(sql)
        return [literal.get(t, t) for t in _shape(sql) if literal.get(t, t) is not None]

    expected = shape(render_template(template, {"v": benign}))
    try:
        sql = render_template(template, {"v": value})
    except SqlError:
        return  # refused is fine; what must never happen is a different statement
    assert shape(sql) == expected, sql


@pytest.mark.parametrize(
    ("template", "fragments"),
    [
        (
            "SELECT 1;\nSELECT '{{ project }}';",
            ["template variable 'project' is not defined (line 2)", "--var project=VALUE", "--iqldata"],
        ),
        ("WHERE a = '{{ .zone }}'", ["'zone' is not defined (line 1)", "--var zone=VALUE"]),
        ("{{ range .missing }}x{{ end }}", ["'missing' is not defined"]),
        ("\n{% if %}", ["template syntax error at line 2"]),
        ("{{ range .projects }}\nSELECT 1;", ["template line 1: {{ range }} has no matching {{ end }}"]),
        ("{{ end }}", ["{{ end }} has no matching"]),
        ("SELECT '{{ .x.y }}'", ["no key 'y' in .x"]),
        ("SELECT '{{ .count.y }}'", ["can't evaluate field y in type int"]),
        ("SELECT '{{ $nope }}'", ["undefined variable $nope"]),
        ("SELECT '{{ frobnicate .x }}'", []),  # not Go: left to Jinja, which reports it
        ('{{ template "x" }}', ["template is not supported"]),
        ("{{ count|length }}", ["template error at line 1"]),
    ],
)
def test_template_errors_say_what_to_do(template, fragments):
    with pytest.raises(SqlError) as caught:
        render_template(template, {"projects": [], "count": 1, "x": {}})
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_text_without_template_syntax_comes_back_unchanged():
    text = "SELECT '{\"a\": 1}' FROM google.ml.jobs WHERE projectsId = 'p' -- {# not a template"
    assert render_template(text, {}) is text


@pytest.mark.parametrize("template", ["{{}}", "{{ }} x", "|{% continue %}", "{{ else }}", "{{ range }}"])
def test_malformed_tags_are_one_line_errors(template):
    with pytest.raises(SqlError):
        render_template(template, {})
