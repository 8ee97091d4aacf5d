"""docs/emulator.md cannot rot: its Python runs as one script, its curl lines work, its tables match."""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import re
import shlex
from pathlib import Path

import httpx
import pytest

from skyql.cli.main import build_parser
from skyql.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "emulator.md"
DOC_PORT_URL = "http://127.0.0.1:8089"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), re.S)


def test_the_python_blocks_run_in_order_and_print_what_their_comments_say(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # make_key writes emulator-key.json here
    namespace: dict[str, object] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks("python"):
            exec(compile(block, str(DOC), "exec"), namespace)
    printed = out.getvalue().splitlines()
    emu = namespace["emu"]
    assert isinstance(emu, Emulator)
    assert printed[0].startswith("http://127.0.0.1:")
    assert printed[2:] == [
        "(121, 1)",
        "True",
        "121",
        "QUEUED",
        "CANCELLING",
        "(5,)",
        "[429, 429, 200]",
        "GET /v1/projects/demo-project/jobs ['nextPageToken,jobs(jobId)']",
    ]
    assert printed[1].startswith("[(") and "'RUNNING'" in printed[1]
    assert emu._server is None, "the last block stops the emulator"


def _signature(function: object) -> str:
    params = [p for p in inspect.signature(function).parameters.values() if p.name != "self"]
    return ", ".join(f"{p.name}={p.default!r}".replace("'", '"') for p in params)


@pytest.mark.parametrize(("shown", "function"), [("Emulator", Emulator), ("inject", Emulator.inject)])
def test_the_documented_signatures_are_the_real_ones(shown, function):
    text = " ".join(DOC.read_text().split())
    documented = re.search(rf"`{shown}\((.*?)\)`", text).group(1)
    assert documented == _signature(function)


def _emulator_flags() -> set[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    parser = sub.choices["emulator"]
    return {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}


def _table_flags(text: str, heading: str) -> set[str]:
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(--[\w-]+)", section, re.M))


def test_the_emulator_flag_table_lists_every_flag_and_matches_docs_cli_md():
    flags = _emulator_flags()
    assert _table_flags(DOC.read_text(), "## Start it") == flags
    assert _table_flags((ROOT / "docs" / "cli.md").read_text(), "## `skyql emulator`") == flags


def _documented_control_endpoints() -> list[tuple[str, str]]:
    section = DOC.read_text().split("## Control endpoints", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"`(GET|POST|DELETE) (/_emulator/\w+)`", section)


def test_every_control_endpoint_is_documented_and_answers():
    documented = _documented_control_endpoints()
    names = {path.rsplit("/", 1)[1] for _, path in documented}
    with Emulator(require_auth=False) as emu:
        unknown = httpx.get(f"{emu.url}/_emulator/nope")
        assert unknown.status_code == 404
        offered = re.search(r"try (.*)\.", unknown.json()["error"]["message"]).group(1)
        assert set(re.split(r", | or ", offered)) == names
        bodies = {
            "populate": {"service": "ml", "collection": "projects/doc/jobs", "count": 2},
            "add": {"service": "ml", "collection": "projects/doc/jobs", "item": {"jobId": "j"}},
            "deny": {"project": "denied-doc"},
            "faults": {"status": 503, "count": 1, "match": "/never"},
            "config": {"latency_ms": 0},
        }
        for method, path in documented:
            name = path.rsplit("/", 1)[1]
            body = json.dumps(bodies.get(name, {})) if method == "POST" else None
            headers = {"Content-Type": "application/json"} if method == "POST" else {}
            reply = httpx.request(method, emu.url + path, content=body, headers=headers)
            assert reply.status_code == 200, (method, path, reply.text)


@pytest.mark.parametrize(
    "line", [line for block in blocks("sh") for line in block.splitlines() if line.startswith("curl ")]
)
def test_the_curl_examples_work(line):
    args = shlex.split(line.split(" > ", 1)[0])
    method = args[args.index("-X") + 1] if "-X" in args else "GET"
    data = args[args.index("-d") + 1] if "-d" in args else None
    headers = dict(h.split(": ", 1) for i, h in enumerate(args) if i and args[i - 1] == "-H")
    url = next(a for a in args if a.startswith(DOC_PORT_URL))
    with Emulator(require_auth=False) as emu:
        reply = httpx.request(method, url.replace(DOC_PORT_URL, emu.url), content=data, headers=headers)
    assert reply.status_code == 200, reply.text
    assert isinstance(reply.json(), dict)
