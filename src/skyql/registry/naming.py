"""StackQL's naming rules: resource and method names, SQL verbs. Documented in docs/providers.md."""

from __future__ import annotations

import re
from collections import defaultdict

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """hyperparameterTuningJobs -> hyperparameter_tuning_jobs; getIamPolicy -> get_iam_policy."""
    return _CAMEL.sub("_", name).replace("-", "_").replace(".", "_").lower()


def method_sql_verb(method: str, http_method: str) -> str:
    """The SQL verb a discovery method answers to."""
    if method in ("list", "get", "aggregatedList", "getIamPolicy"):
        return "SELECT"
    if method in ("create", "insert"):
        return "INSERT"
    if method == "delete":
        return "DELETE"
    if method == "patch":
        return "UPDATE"
    if method == "update":
        return "REPLACE" if http_method == "PUT" else "UPDATE"
    if method == "setIamPolicy":
        return "REPLACE"
    return "EXEC"


def collection_resource_names(
    collections: list[tuple[tuple[str, ...], bool]], taken: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """Name each collection (path of discovery resource keys, is-IAM) as a SQL resource.

    The name is the snake_case of the innermost collection (plus `_iam_policies` for IAM methods).
    When several collections would share a name, a collection under `projects` keeps it before any other
    (that is where users' resources live), then the shortest path, then alphabetical order; each other one
    is prefixed with as many of its parent collections as it takes to be unique:
    `projects.locations.datasets.operations` -> `datasets_operations`, `organizations.locations.operations`
    -> `organizations_locations_operations`; a top-level collection that loses becomes `global_<name>`.
    Names in `taken` (StackQL's resources of the service) are never given out: such a collection is
    prefixed as if it had lost.
    """

    def name(path: tuple[str, ...], iam: bool, depth: int) -> str:
        base = "_".join(snake_case(p) for p in path[-depth:])
        return base + "_iam_policies" if iam else base

    names = [name(p, iam, 1) for p, iam in collections]
    by_name: dict[str, list[int]] = defaultdict(list)
    for i, n in enumerate(names):
        by_name[n].append(i)
    reserved = set(taken)
    for first, members in list(by_name.items()):
        if len(members) < 2 and first not in reserved:
            continue
        ordered = sorted(
            members,
            key=lambda i: (collections[i][0][0] != "projects", len(collections[i][0]), collections[i][0]),
        )
        if first in reserved:
            taken = set(reserved)
            rest = ordered
        else:
            taken = reserved | {names[ordered[0]]}
            rest = ordered[1:]
        depth = 2
        while rest:
            candidates = {i: name(*collections[i], depth) for i in rest}
            counts: dict[str, int] = defaultdict(int)
            for c in candidates.values():
                counts[c] += 1
            still = []
            for i in rest:
                c = candidates[i]
                exhausted = depth >= len(collections[i][0])
                if len(collections[i][0]) == 1:
                    # Nothing to prefix a top-level collection with: it is the service-wide one.
                    c = f"global_{c}"
                if (counts[c] == 1 and c not in taken and c not in names) or exhausted:
                    base, suffix = c, 2
                    while c in taken:
                        c, suffix = f"{base}_{suffix}", suffix + 1
                    names[i] = c
                    taken.add(names[i])
                else:
                    still.append(i)
            rest = still
            depth += 1
        reserved |= taken
    return names
