"""Reading the next page token, emptiness and row counts from raw page bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyql.fetch.paging import PageFormatError, count_rows, is_empty, next_page_token

TOKEN = st.text(min_size=1, max_size=40)
SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["a", "nextPageToken", "b"]), inner)
    ),
    max_leaves=12,
)


@pytest.mark.parametrize(
    ("body", "token"),
    [
        (b'{"jobs": [{"jobId": "a"}], "nextPageToken": "t1"}', "t1"),
        (b'{"nextPageToken": "t2", "jobs": []}', "t2"),
        (b'  {\n  "jobs": [],\n  "nextPageToken": "t3"\n}\n', "t3"),
        (b'{"kind": "x", "nextPageToken": "t4", "selfLink": "s"}', "t4"),
        (b'{"jobs": [{"nextPageToken": "nested"}]}', None),
        (b'{"items": {"nextPageToken": "nested"}}', None),
        (b'{"note": "say \\"nextPageToken\\": \\"no\\"}"}', None),
        (b'{"jobs": []}', None),
        (b'{"nextPageToken": ""}', None),
        (b"{}", None),
    ],
)
def test_the_top_level_token_is_found_and_nested_ones_are_not(body, token):
    assert next_page_token(body) == token


@given(
    rows=st.dictionaries(st.sampled_from(["jobs", "kind", "nextPageToken", "z"]), VALUES, max_size=4),
    token=st.none() | TOKEN,
    first=st.booleans(),
    indent=st.sampled_from([None, 1]),
)
def test_the_token_matches_a_full_parse_wherever_it_is(rows, token, first, indent):
    rows.pop("nextPageToken", None)
    doc = dict(rows)
    if token is not None:
        doc = {"nextPageToken": token, **rows} if first else {**rows, "nextPageToken": token}
    body = json.dumps(doc, indent=indent, ensure_ascii=False).encode()
    assert next_page_token(body) == (token or None)


def test_a_page_that_is_not_json_is_reported():
    with pytest.raises(PageFormatError):
        next_page_token(b'<html>"nextPageToken": oops</html>')


def test_a_page_is_empty_when_it_has_no_items():
    assert is_empty(b'{"nextPageToken": "t"}', "jobs")
    assert is_empty(b'{"jobs": [], "nextPageToken": "t"}', "jobs")
    assert not is_empty(b'{"jobs": [{}], "nextPageToken": "t"}', "jobs")
    assert not is_empty(b'{"nextPageToken": "t"}', None)
    assert is_empty(b'{\n  "jobs": [ ],\n  "nextPageToken": "t"\n}', "jobs")
    assert not is_empty(b'{\n  "jobs": [\n    {"a": 1}\n  ],\n  "nextPageToken": "t"\n}', "jobs")
    # An items key nested in another member says nothing about the page's own items.
    assert is_empty(b'{"other": {"jobs": [{"a": 1}]}, "jobs": [], "nextPageToken": "t"}', "jobs")


@given(VALUES, st.booleans())
def test_emptiness_is_what_parsing_the_page_says(items, token_first):
    page = {"nextPageToken": "t", "jobs": items} if token_first else {"jobs": items, "nextPageToken": "t"}
    body = json.dumps(page).encode()
    assert is_empty(body, "jobs") == (not items)


def test_rows_are_counted_under_the_items_key():
    assert count_rows(b'{"jobs": [{}, {}, {}]}', "jobs") == 3
    assert count_rows(b"{}", "jobs") == 0
    assert count_rows(b'{"name": "x"}', None) == 1
