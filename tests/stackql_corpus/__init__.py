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
    ("sqlite", r"Scalar Function with name|Parser Error|Binder Error|Could not choose a best candidate|format specifier|"
               r"datetime\(\) modifier|TimeZone|Malformed JSON|unknown column [^:]*[ <>=]|json_equal"),
    ("sem", r"HTTP 404|unknown column (?:pageToken|pageSize|maxResults|filter|orderBy)\b|output only|"
            r"SHOW METHODS FROM|unknown hint"),
    ("emu", r"pagination did not end|HTTP (?:400|409|412|500|501)"),
    ("names", r"unknown resource|has no method|has no parameter|needs [\w, ]+ in WHERE|has no column|"
              r"may only pin parameters|cannot be read with SELECT|has no (?:REPLACE|DELETE|UPDATE|INSERT) method|"
              r"is read with|unknown column|takes one of"),
    ("parse", r"syntax|Invalid expression|Expected|Required keyword"),
]


def classify(message: str) -> str:
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
        lines = [
            f"{len(self.outcomes)} statements, {len(self.outcomes) - len(counted)} wrong at their source "
            f"(not counted), {len(counted)} counted",
            f"planned (--dryrun): {planned}/{len(counted)} = {planned / len(counted):.1%}",
            f"ran on the emulator: {ran}/{len(counted)} = {ran / len(counted):.1%}",
        ]
        for what, attr in (("plan", "plan_error"), ("run", "run_error")):
            failed = [o for o in counted if getattr(o, attr)]
            causes = Counter(classify(getattr(o, attr)) for o in failed)
            lines.append(f"\n{what} failures by cause: " + ", ".join(f"{c} {n}" for c, n in causes.most_common()))
            for cause, _ in causes.most_common():
                lines.append(f"  [{cause}]")
                for o in failed:
                    message = getattr(o, attr)
                    if classify(message) == cause:
                        lines.append(f"    {o.id} ({o.kind}): {_one_line(message)}")
        return "\n".join(lines)


def _one_line(message: str, limit: int = 160) -> str:
    text = " ".join(message.split())
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
    pairs += list(rules["zones"].items()) + list(rules["regions"].items())  # zones first: they contain regions
    for old, new in pairs:
        value = value.replace(f"'{old}'", f"'{new}'").replace(f"/{old}/", f"/{new}/")
        value = re.sub(rf"'(projects|zones|regions)/{re.escape(old)}(['/])", rf"'\1/{new}\2", value)
    return value


def _run_one(session: Any, sql: str, variables: dict[str, Any]) -> str | None:
    """Run an entry as `skyql exec -i` does (render, split, parse, execute each); None on success."""
    from skyql.cli.script import _prepare
    from skyql.errors import SkyqlError

    try:
        steps = _prepare(sql, variables)
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
            outcome.plan_error = _run_one(planner, entry["sql"], entry.get("vars") or {})
    # poll_interval: /*+ AWAIT */ re-reads operations; the emulator finishes them in two reads, no need to wait.
    options = build_options(emulator=True, poll_interval=0.01, timeout=60.0)
    with Session(options, emulator=True) as session:
        for entry, outcome in zip(entries, report.outcomes, strict=True):
            sql = substitute(entry["sql"], rules)
            variables = substitute(entry.get("vars") or {}, rules)
            outcome.run_error = _run_one(session, sql, variables)
    return report


def ids(path: Path = CORPUS) -> Iterator[str]:
    yield from (e["id"] for e in load(path)["statements"])
