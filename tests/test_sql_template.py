"""Rendering .iql templates: Jinja and StackQL's Go spellings, undefined variables, values kept inside literals."""

from __future__ import annotations

import pytest

from skyql.errors import SqlError
from skyql.sql import parse_one, render_template

VARS = {
    "project": "my-project",
    "region": "us-central1",
    "projects": ["p1", "p2"],
    "jobs": [{"id": "a", "state": "RUNNING"}, {"id": "b", "state": "FAILED"}],
    "labels": {"team": "ml", "env": "prod"},
    "enabled": True,
    "count": 3,
}

RENDERS = [
    # Jinja
    (
        "WHERE projectsId = '{{ project }}' AND locationsId = '{{ region }}';",
        "WHERE projectsId = 'my-project' AND locationsId = 'us-central1';",
    ),
    ("{% for p in projects %}SELECT '{{ p }}';\n{% endfor %}", "SELECT 'p1';\nSELECT 'p2';\n"),
    ("{% if enabled %}on{% else %}off{% endif %} {{ count + 1 }} {{ missing | default('d') }}", "on 4 d"),
    # StackQL's Go spellings
    (
        "WHERE projectsId = '{{ .project }}' AND locationsId = '{{.region}}'",
        "WHERE projectsId = 'my-project' AND locationsId = 'us-central1'",
    ),
    (
        "{{ range .projects }}SELECT '{{ . }}', '{{ $.region }}';\n{{ end }}",
        "SELECT 'p1', 'us-central1';\nSELECT 'p2', 'us-central1';\n",
    ),
    ("{{ range .jobs }}[{{ .id }}={{ .state }}]{{ end }}", "[a=RUNNING][b=FAILED]"),
    ("{{ range $i, $p := .projects }}{{ $i }}:{{ $p }} {{ end }}", "0:p1 1:p2 "),
    ("{{ range $p := .projects }}{{ $p }}{{ end }}", "p1p2"),
    ("{{ range .labels }}{{ . }},{{ end }}", "prod,ml,"),  # a map's values, in key order as Go does
    ("{{ range .empty }}x{{ else }}none{{ end }}", "none"),
    ("{{ if .enabled }}on{{ else }}off{{ end }}", "on"),
    ("{{ if .not_given }}on{{ else }}off{{ end }}", "off"),  # a missing key is false in a Go condition
    ('{{ if eq .region "eu" }}EU{{ else if ne .region "us" }}other{{ end }}', "other"),
    ("{{ if gt .count 1 }}many{{ end }}", "many"),
    (
        "{{ if and .enabled .count }}both{{ end }} {{ if or .not_given .enabled }}either{{ end }}",
        "both either",
    ),
    ("{{ if not .enabled }}off{{ else }}on{{ end }} {{ len .projects }}", "on 2"),
    ('{{ range .projects }}{{ if eq . "p2" }}{{ . }}{{ end }}{{ end }}', "p2"),
    ("{{/* a comment */}}SELECT 1", "SELECT 1"),
    ("{{ $r := .region }}{{ $r }}", "us-central1"),
    ("{{- .project -}}  \n", "my-project"),
    # values by type: booleans as SQL writes them, objects as JSON
    ("{{ enabled }} {{ labels }} {{ projects }}", 'true {"team": "ml", "env": "prod"} ["p1", "p2"]'),
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


@pytest.mark.parametrize(
    "value",
    ["O'Brien", "x' OR '1'='1", "'; DROP TABLE t; --", "''", "a\\'b"],
)
def test_a_substituted_string_cannot_break_out_of_its_sql_literal(value):
    sql = render_template(
        "EXEC google.ml.jobs.cancel @projectsId = '{{ project }}', @jobsId = '{{ .job }}'",
        {"project": value, "job": value},
    )
    statement = parse_one(sql)
    assert statement.params == {"projectsId": value, "jobsId": value}


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
        ("{{ . }}", ["{{ . }} is only meaningful inside range"]),
        ('{{ .project | printf "%s" }}', ["cannot translate the Go template expression", "Jinja syntax"]),
        ("{{ count|length }}", ["template error at line 1"]),
    ],
)
def test_template_errors_say_what_to_do(template, fragments):
    with pytest.raises(SqlError) as caught:
        render_template(template, {"projects": [], "count": 1})
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_text_without_template_syntax_comes_back_unchanged():
    text = "SELECT '{\"a\": 1}' FROM google.ml.jobs WHERE projectsId = 'p' -- {# not a template"
    assert render_template(text, {}) is text
