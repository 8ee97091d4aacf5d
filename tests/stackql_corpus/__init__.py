"""The StackQL compatibility corpus: real StackQL Google statements, planned (--dryrun) and run on the emulator.

`python -m tests.stackql_corpus` prints the counts and the failures grouped by cause; tests/test_stackql_corpus.py
runs the same in CI. The statements are as their authors published them (tests/stackql_corpus/corpus.yaml says
where each one is from); only the emulator run swaps the authors' project ids, zones and regions for the ones the
emulator seeds (the `substitutions` rule in corpus.yaml).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).with_name("corpus.yaml")

# Why a statement failed, from the message a user sees; first match wins. The classes follow issue 14's sections.
CAUSES: list[tuple[str, str]] = [
    ("tmpl", r"template (?:syntax|error|value|variable)|No filter named|<<<"),
    (
        "sqlite",
        r"Scalar Function with name|Parser Error|Binder Error|Could not choose a best candidate|format specifier|"
        r"datetime\(\) modifier|TimeZone|Malformed JSON|unknown column [^:]*[ <>=]|json_equal",
    ),
    (
        "sem",
        r"HTTP 404|unknown column (?:pageToken|pageSize|maxResults|filter|orderBy)\b|output only|"
        r"SHOW METHODS FROM|unknown hint",
    ),
    ("emu", r"pagination did not end|HTTP (?:400|409|412|500|501)"),
    (
        "names",
        r"unknown resource|has no method|has no parameter|needs [\w, ]+ in WHERE|has no column|"
        r"may only pin parameters|cannot be read with SELECT|has no (?:REPLACE|DELETE|UPDATE|INSERT) method|"
        r"is read with|unknown column|takes one of",
    ),
    ("parse", r"syntax|Invalid expression|Expected|Required keyword"),
]


def classify(message: str, kind: str = "") -> str:
    if "pagination did not end" in message and "pageToken=" in message:
        return (
            "sem"  # the WHERE's pageToken is sent again with every page: StackQL's query-parameter semantics
        )
    if (
        kind in ("deploy-update", "deploy-delete", "deploy-statecheck", "deploy-exports")
        and "HTTP 404" in message
    ):
        return "emu"  # the stack's own create made it: the emulator keyed it by a number, not its name
    for cause, pattern in CAUSES:
        if re.search(pattern, message):
            return cause
    return "other"


@dataclass
class Outcome:
    """One statement's plan and run: None when it succeeded, else the message a user sees."""

    id: str
    kind: str
    wrong_at_source: str | None
    plan_error: str | None = None
    run_error: str | None = None
    fixtures: list[str] = field(default_factory=list)  # items put in the emulator before the run

    @property
    def planned(self) -> bool:
        return self.plan_error is None

    @property
    def ran(self) -> bool:
        return self.run_error is None


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def counted(self) -> list[Outcome]:
        """The statements that count: all but those wrong at their source."""
        return [o for o in self.outcomes if not o.wrong_at_source]

    def rate(self, what: str) -> float:
        counted = self.counted
        return sum(getattr(o, what) for o in counted) / len(counted) if counted else 0.0

    def summary(self) -> str:
        counted = self.counted
        planned = sum(o.planned for o in counted)
        ran = sum(o.ran for o in counted)
        fixtures = sum(len(o.fixtures) for o in self.outcomes)
        lines = [
            f"{len(self.outcomes)} statements, {len(self.outcomes) - len(counted)} wrong at their source "
            f"(not counted), {len(counted)} counted",
            f"planned (--dryrun): {planned}/{len(counted)} = {planned / len(counted):.1%}",
            f"ran on the emulator: {ran}/{len(counted)} = {ran / len(counted):.1%} ({fixtures} items put in "
            "the emulator first for the DELETE, UPDATE, REPLACE and EXEC statements that act on them)",
        ]
        for what, attr in (("plan", "plan_error"), ("run", "run_error")):
            failed = [o for o in counted if getattr(o, attr)]
            causes = Counter(classify(getattr(o, attr), o.kind) for o in failed)
            lines.append(
                f"\n{what} failures by cause: " + ", ".join(f"{c} {n}" for c, n in causes.most_common())
            )
            for cause, _ in causes.most_common():
                lines.append(f"  [{cause}]")
                for o in failed:
                    message = getattr(o, attr)
                    if classify(message, o.kind) == cause:
                        lines.append(f"    {o.id} ({o.kind}): {_one_line(message)}")
        return "\n".join(lines)


def _one_line(message: str, limit: int = 160) -> str:
    text = re.sub(r"\((\w+='[^)]*)\)", "(…)", " ".join(message.split()))  # the request's parameters: long
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load(path: Path = CORPUS) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def substitute(value: Any, rules: dict[str, Any]) -> Any:
    """The corpus's substitution rule: the authors' project ids, zones and regions -> the emulator's."""
    if isinstance(value, dict):
        return {k: substitute(v, rules) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, rules) for v in value]
    if not isinstance(value, str):
        return value
    pairs = [(p, rules["project_to"]) for p in rules["projects"]]
    pairs += list(rules["zones"].items()) + list(
        rules["regions"].items()
    )  # zones first: they contain regions
    for old, new in pairs:
        value = value.replace(f"'{old}'", f"'{new}'").replace(f"/{old}/", f"/{new}/")
        value = re.sub(rf"'(projects|zones|regions)/{re.escape(old)}(['/])", rf"'\1/{new}\2", value)
    return value


_VERSION = re.compile(r"^v\d[\w.]*/")
# Kinds whose statement acts on one item its author had: the run first puts that item in the emulator.
_ON_AN_ITEM = {"delete", "update", "replace", "exec"}


def ensure_items(session: Any, planner: Any, sql: str, variables: dict[str, Any]) -> list[tuple[str, str]]:
    """Put in the emulator the items a DELETE, UPDATE, REPLACE or EXEC acts on, as its author had them.

    The planner (--dryrun against the emulator's URL) says which URLs the statement calls; the item each one
    acts on is added (named as in the URL) unless a GET of it finds it. Returns what was added, and its URL.
    """
    from urllib.parse import unquote

    from skyql.errors import SkyqlError

    added: list[tuple[str, str]] = []
    try:
        results = [planner.execute(s.statement) for s in prepare(sql, variables) if s.error is None]
    except SkyqlError:
        return added  # a statement that does not plan fails on its own in the run
    base = session.emulator.url.rstrip("/") + "/"
    for result in results:
        for row in result.rows:
            if len(row) != 3 or not str(row[2]).startswith(("DELETE ", "PATCH ", "PUT ", "POST ")):
                continue
            resource_id, _, request = row
            provider, service_name, resource_name = resource_id.split(".", 2)
            service = planner.registry.service(provider, service_name)
            url = request.split(" ", 2)[1].split("?", 1)[0]
            found = _item_segments(
                service.resources[resource_name], service.service_path, url.removeprefix(base).split("/")
            )
            if found is None:
                continue  # no item to stand on (a create, a list-like call)
            segments, lead = found
            item_url = base + "/".join(segments)
            item = [unquote(seg) for seg in segments[lead:]]  # the emulator's paths start after dns/v1/, v1/
            if len(item) < 2:
                continue
            if _holds(session, item_url):
                continue
            collection, name = "/".join(item[:-1]), item[-1]
            try:
                session.emulator.add(service_name, collection, {"name": name})
            except Exception:  # noqa: BLE001 - a path the emulator does not model: the run will say so
                continue
            added.append((f"{service_name} {collection}/{name}", item_url))
    return added


def _item_segments(resource: Any, service_path: str, segments: list[str]) -> tuple[list[str], int] | None:
    """The URL's segments that name the item a call acts on: the prefix that one of its resource's get methods'
    paths matches (`.../instances/x` of `.../instances/x/stop`), and how many of them are the service's prefix
    and version (`dns/v1`); None when the resource has no get or none fits.

    A resource may have several gets (StackQL merges compute's zonal and regional disks, logging's sinks of
    each parent), each named as StackQL names it (`region_disks_get`, `projects_sinks_get`): the one whose
    literal segments the URL has is the one that reads this item."""
    gets = [
        m for m in resource.methods.values() if m.http_method == "GET" and m.discovery_id.endswith(".get")
    ]
    for get in sorted(gets, key=lambda m: -len(m.path.split("/"))):
        template = (service_path + get.path).split(":", 1)[0].split("/")
        if len(segments) >= len(template) and all(
            "{" in want or want == got.split(":", 1)[0] for want, got in zip(template, segments, strict=False)
        ):
            literal = next((i for i, want in enumerate(template) if "{" in want), len(template))
            lead = max((i + 1 for i in range(literal) if _VERSION.match(template[i] + "/")), default=0)
            return [seg.split(":", 1)[0] for seg in segments[: len(template)]], lead
    return None


def _holds(session: Any, url: str, method: str = "GET") -> bool:
    """Whether a GET of the item's URL finds it on the emulator (a DELETE: removes it)."""
    import urllib.error
    import urllib.request

    from google.auth.transport.requests import Request

    credentials = session.credentials
    if not credentials.valid:
        credentials.refresh(Request())
    request = urllib.request.Request(
        url, method=method, headers={"Authorization": f"Bearer {credentials.token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - the emulator on loopback
            return True
    except urllib.error.HTTPError as err:
        return err.code != 404


def host_render(sql: str, host_vars: dict[str, Any] | None) -> str:
    """What the host program does before StackQL sees the text: IPython's `$name` in a `%%stackql` cell,
    or a Python f-string's `{name}`."""
    if not host_vars:
        return sql
    values = host_vars["values"]
    if host_vars["style"] == "ipython":
        sql = re.sub(r"(?<!\$)\$(\w+)", lambda m: str(values.get(m.group(1), m.group(0))), sql)
        return sql.replace("$$", "$")
    sql = re.sub(r"(?<!\{)\{(\w+)\}(?!\})", lambda m: str(values.get(m.group(1), m.group(0))), sql)
    return sql.replace("{{", "{").replace("}}", "}")


def prepare(sql: str, variables: dict[str, Any]) -> list[Any]:
    """The statements as `skyql exec` prepares them (rendered, split, parsed): a statement with template
    variables as `skyql exec -i script.iql --iqldata vars.json`, one without as `skyql exec "SQL"`."""
    import inspect

    from skyql.cli.main import build_parser
    from skyql.cli.script import _prepare

    if len(inspect.signature(_prepare).parameters) < 3:  # before templates were rendered only when asked for
        return _prepare(sql, variables)
    argv = ["exec", "-i", "corpus.iql", "--iqldata", "vars.json"] if variables else ["exec", sql]
    return _prepare(sql, variables, build_parser().parse_args(argv))


def _run_one(session: Any, sql: str, variables: dict[str, Any]) -> str | None:
    """Run an entry as `skyql exec` does (render, split, parse, execute each); None on success."""
    from skyql.errors import SkyqlError

    try:
        steps = prepare(sql, variables)
        for step in steps:
            if step.error is not None:
                raise step.error
            session.execute(step.statement)
    except SkyqlError as err:
        return str(err) or type(err).__name__
    except Exception as err:  # noqa: BLE001 - a crash is a finding, reported as such, never hidden
        return f"CRASH {type(err).__name__}: {err}"
    return None


def run(path: Path = CORPUS, only: set[str] | None = None) -> Report:
    """Plan every statement with --dryrun, then run it on one in-process emulator."""
    from skyql.session import Session, build_options

    data = load(path)
    rules = data["substitutions"]
    entries = [e for e in data["statements"] if only is None or e["id"] in only]
    report = Report([Outcome(e["id"], e["kind"], e.get("wrong_at_source")) for e in entries])
    with Session(build_options(dryrun=True, emulator=True)) as planner:
        for entry, outcome in zip(entries, report.outcomes, strict=True):
            sql = host_render(entry["sql"], entry.get("host_vars"))
            outcome.plan_error = _run_one(planner, sql, entry.get("vars") or {})
    # poll_interval: /*+ AWAIT */ re-reads operations; the emulator finishes them in two reads, no need to wait.
    options = build_options(emulator=True, poll_interval=0.01, timeout=60.0)
    with Session(options, emulator=True) as session:
        at_emulator = Session(build_options(dryrun=True, endpoints={"google": session.emulator.url}))
        for entry, outcome in zip(entries, report.outcomes, strict=True):
            sql = substitute(host_render(entry["sql"], entry.get("host_vars")), rules)
            variables = substitute(entry.get("vars") or {}, rules)
            added = (
                ensure_items(session, at_emulator, sql, variables)
                if entry["kind"].split("-")[0] in _ON_AN_ITEM
                else []
            )
            outcome.fixtures = [what for what, _ in added]
            outcome.run_error = _run_one(session, sql, variables)
            for _, url in added:
                # Each statement meets the emulator as seeded: an item put there for one (registry docs'
                # `demo-sa` for an EXEC) must not make a later INSERT of the same name a 409.
                _holds(session, url, "DELETE")
        at_emulator.close()
    return report


def ids(path: Path = CORPUS) -> Iterator[str]:
    yield from (e["id"] for e in load(path)["statements"])
