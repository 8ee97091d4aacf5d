"""StackQL's names for Google's APIs: match discovery methods to the resources and methods of StackQL's registry.

`providers/google/stackql-names.json.gz` (a copy of `../shared/reference/stackql-google-names.json.gz`) says,
per service, which API version StackQL serves and, per resource, its methods (HTTP verb, path template with
StackQL's parameter names, required parameters, objectKey) and `sqlVerbs`. The build matches each of those
methods to the discovery method with the same HTTP verb and path shape, and takes StackQL's names for it.
Where StackQL has no entry, `derived_path` gives the names by the rules read off the same file (docs/providers.md).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyql.registry.naming import snake_case

_PLACEHOLDER = re.compile(r"{([+]?)([^}]+)}")
# Discovery's generic flatPath segments, named after the version: {v1Id}, {v2Id1}, {v1beta1Id}.
GENERIC = re.compile(r"^v\d[a-z0-9]*Id\d*$")
PARENT_PAIR = "{parentType}/{parent}"
# Services whose parameters StackQL names from the discovery path though it has a flatPath.
PATH_NAMES = frozenset({"bigquery"})
SQL_VERBS = ("select", "insert", "update", "replace", "delete")


def load_names(path: Path | None) -> dict[str, Any]:
    """Service name -> StackQL's entry for it ({} when there is no names file)."""
    if path is None or not path.exists():
        return {}
    return json.loads(gzip.decompress(path.read_bytes()))["services"]


def sql_name(name: str) -> str:
    """A StackQL method name as a SQL identifier: healthcare's `binary-create` is `binary_create`."""
    return name.replace("-", "_")


def shape(template: str) -> str:
    """'v2/{+parent}/sinks' -> 'v2/{}/sinks': a path with its parameter names taken out."""
    return _PLACEHOLDER.sub("{}", template.lstrip("/"))


def placeholders(template: str) -> list[tuple[str, bool]]:
    """The parameters of a path template in order: (name, reserved)."""
    return [(name, plus == "+") for plus, name in _PLACEHOLDER.findall(template)]


def derived_path(method: dict[str, Any], service: str = "") -> str:
    """The URL template with StackQL's parameter names, for a method StackQL's registry does not have.

    A method without a flatPath keeps its path's names (compute's zone), as BigQuery's do (projectId:
    StackQL's one exception, PATH_NAMES, where both have the same segments). A flatPath
    keeps its names (projectsId, locationsId) except where Google put generic segments ({v1Id}, {v1Id1})
    for a `{+parent}` that may be under projects, folders or organizations: two of them become
    `{parentType}/{parent}` (parent holds the rest of the relative name when the flatPath had more segments:
    logging's `{parentType}/{parent}/buckets` for `{v2Id}/{v2Id1}/locations/{locationsId}/buckets`); a single
    one keeps its generic name, as StackQL does (iap's `{v1Id}`); for any other parameter the path's own name
    holds the whole relative name (logging's `{sinkName}`).
    """
    path = method["path"]
    flat = method.get("flatPath")
    if not flat or service in PATH_NAMES:
        return _PLACEHOLDER.sub(r"{\2}", path)
    generic = [name for name, _ in placeholders(flat)]
    generic = [name for name in generic if GENERIC.match(name)]
    if len(generic) < 2:
        return flat
    reserved = [name for name, plus in placeholders(path) if plus]
    if reserved and reserved[0] == "parent":
        return path.replace("{+parent}", "{parentType}/{parent}", 1).replace("{+", "{")
    return _PLACEHOLDER.sub(r"{\2}", path)


@dataclass(frozen=True)
class Match:
    """A discovery method behind one of StackQL's methods."""

    collection: tuple[str, ...]
    key: str  # the discovery method's key: list, getIamPolicy
    method: dict[str, Any]
    via_flat: bool  # matched on its flatPath (one segment per parameter) rather than on its path


def match_methods(
    stackql: dict[str, Any], collections: list[tuple[tuple[str, ...], dict[str, Any]]], service: str = ""
) -> dict[tuple[str, str], Match]:
    """(StackQL resource, StackQL method) -> the discovery method it calls; methods with no match are left out."""
    candidates: dict[tuple[str, str], list[Match]] = {}
    for path, methods in collections:
        for key, m in methods.items():
            http = m.get("httpMethod", "GET")
            flat = m.get("flatPath")
            if flat:
                candidates.setdefault((http, shape(flat)), []).append(Match(path, key, m, True))
            if not flat or shape(flat) != shape(m["path"]):
                candidates.setdefault((http, shape(m["path"])), []).append(Match(path, key, m, not flat))
    out: dict[tuple[str, str], Match] = {}
    for rname, resource in sorted((stackql.get("resources") or {}).items()):
        if not resource:
            continue
        for mname, sq in sorted(resource["methods"].items()):
            found = candidates.get((sq["http"], shape(sq["path"])), [])
            if not found and PARENT_PAIR in sq["path"]:
                # `{parentType}/{parent}` for a `{+parent}` that spans more than two segments.
                found = candidates.get((sq["http"], shape(sq["path"].replace(PARENT_PAIR, "{parent}"))), [])
            if found:
                out[(rname, mname)] = _pick(found, rname, mname, sq["path"], service)
    return out


def _pick(found: list[Match], rname: str, mname: str, path: str, service: str) -> Match:
    """One of several discovery methods of the same verb and path shape: the one StackQL's names point at."""
    tie_breaks = (
        lambda c: mname == snake_case(c.key) or mname.endswith("_" + snake_case(c.key)),
        lambda c: mname == "_".join(map(snake_case, (*c.collection, c.key))),
        lambda c: rname.startswith(snake_case(c.collection[-1])),
        lambda c: shape(derived_path(c.method, service)) == shape(path),
    )
    for keep in tie_breaks:
        # A tie-break, never a filter to zero.
        found = [c for c in found if keep(c)] or found
    # Still several (logging's `{+name}/settings` on five parents): the service-wide one.
    return min(found, key=lambda c: (len(c.collection), c.collection))


def sql_verb_of(stackql_resource: dict[str, Any], method: str) -> str | None:
    """The SQL verb StackQL serves `method` under, or None for an EXEC-only method."""
    for verb in SQL_VERBS:
        if method in stackql_resource.get("sqlVerbs", {}).get(verb, []):
            return verb.upper()
    return None


def agreement(services: dict[str, dict[str, Any]], names: dict[str, Any]) -> dict[str, Any]:
    """How much of StackQL's registry skyql's has under the same names.

    `services` maps service name -> skyql's built service model (plain JSON). A resource agrees when skyql
    has it by name and, where the file gives methods, every one of them with the same name, URL template
    (so the same parameter names), required parameters and SQL verb order.
    """
    counts = {"resources": 0, "same_name": 0, "same_methods": 0, "methods": 0, "same_method": 0}
    differ: list[str] = []
    for sname, entry in sorted(names.items()):
        ours = services.get(sname, {}).get("resources", {})
        for rname, sq in sorted((entry.get("resources") or {}).items()):
            counts["resources"] += 1
            res = ours.get(rname)
            if res is None:
                differ.append(f"{sname}.{rname}: missing")
                continue
            counts["same_name"] += 1
            if not sq:
                counts["same_methods"] += 1
                continue
            ok = True
            for mname, m in sorted(sq["methods"].items()):
                counts["methods"] += 1
                mine = res["methods"].get(sql_name(mname))
                same = (
                    mine is not None
                    and mine["path"] == m["path"].lstrip("/")
                    and sorted(p[0] for p in mine["params"] if p[2]) == sorted(m.get("required", []))
                )
                counts["same_method"] += same
                if not same:
                    ok = False
                    differ.append(
                        f"{sname}.{rname}.{mname}: " + ("missing" if mine is None else mine["path"])
                    )
            for verb, order in sq.get("sqlVerbs", {}).items():
                # Methods newer than StackQL's snapshot may follow StackQL's, never precede them.
                if res.get("order", {}).get(verb.upper(), [])[: len(order)] != [sql_name(m) for m in order]:
                    ok = False
                    differ.append(
                        f"{sname}.{rname} {verb}: {res.get('order', {}).get(verb.upper())} != {order}"
                    )
            counts["same_methods"] += ok
    return {**counts, "differ": differ}


def main() -> None:
    """Print skyql's agreement with StackQL's names: `python -m skyql.registry.stackql [PROVIDER_DIR]`."""
    import sys

    from skyql.registry.loader import default_providers_dir

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else default_providers_dir() / "google"
    names = load_names(root / "stackql-names.json.gz")
    services = {
        p.name.removesuffix(".json.gz"): json.loads(gzip.decompress(p.read_bytes()))
        for p in sorted((root / "services").glob("*.json.gz"))
    }
    result = agreement(services, names)
    for line in result.pop("differ"):
        print(line)
    r = result
    print(
        f"resources: {r['same_name']}/{r['resources']} by name ({100 * r['same_name'] / r['resources']:.1f}%), "
        f"{r['same_methods']}/{r['resources']} with every method, parameter and verb order as StackQL's "
        f"({100 * r['same_methods'] / r['resources']:.1f}%); methods: {r['same_method']}/{r['methods']} "
        f"({100 * r['same_method'] / r['methods']:.1f}%)"
    )


if __name__ == "__main__":
    main()
