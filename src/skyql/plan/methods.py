"""Choose the SELECT method a table reference is read with, from the parameters its conditions give."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from skyql.errors import ParameterError
from skyql.plan.refs import Ref, select_methods
from skyql.registry import Method

# Most specific first: a get reads one object, a list one collection, an aggregated list all of them.
_PREFERENCE = ("get", "list", "aggregated_list")


@dataclass(frozen=True)
class Choice:
    method: Method
    from_joins: tuple[str, ...]  # required parameters that come from another fetch's column


def choose_method(ref: Ref, given: Mapping[str, list[Any]], joinable: Collection[str]) -> Choice:
    """The method for `ref`: one whose required params are all given, literal values first, then joins.

    Among those that fit, prefer one that takes every given parameter, then the one that needs the
    most (a get when its id is given; a list over an aggregated list), then get > list > aggregated_list.
    """
    methods = select_methods(ref.resource)
    fit = [m for m in methods if set(m.required_params) <= given.keys()]
    if fit:
        return Choice(min(fit, key=lambda m: _rank(m, given)), ())
    reachable = given.keys() | set(joinable)
    fit = [m for m in methods if set(m.required_params) <= reachable]
    if not fit:
        raise ParameterError(_missing_message(ref, methods, given))
    method = min(fit, key=lambda m: (len(set(m.required_params) - given.keys()), *_rank(m, given)))
    return Choice(method, tuple(p for p in method.required_params if p not in given))


def check_unused(ref: Ref, method: Method, given: Mapping[str, list[Any]]) -> None:
    """A parameter condition the chosen method cannot send would silently filter on an empty column."""
    for name in given:
        if method.param(name) or ref.names.column(name):
            continue
        takers = [m for m in select_methods(ref.resource) if m.param(name)]
        alternatives = "; ".join(f"{m.name} takes it and needs {and_list(m.required_params)}" for m in takers)
        raise ParameterError(
            f"{ref.resource.id}: with {and_list(sorted(given))} given it is read with {method.name}, "
            f"which does not take {name}; {alternatives}"
        )


def _rank(method: Method, given: Mapping[str, list[Any]]) -> tuple[bool, int, int, str]:
    takes_all = all(method.param(name) for name in given)
    return (not takes_all, -len(method.required_params), _preference(method), method.name)


def _preference(method: Method) -> int:
    return _PREFERENCE.index(method.name) if method.name in _PREFERENCE else len(_PREFERENCE)


def _missing_message(ref: Ref, methods: list[Method], given: Mapping[str, list[Any]]) -> str:
    cheapest = min(methods, key=lambda m: (len(m.required_params), _preference(m), m.name))
    missing = [p for p in cheapest.required_params if p not in given]
    prefix = f"{ref.table.alias}." if ref.table.alias else ""
    example = f"{prefix}{missing[0]}"
    return (
        f"{ref.resource.id} needs {and_list(cheapest.required_params)} in WHERE; "
        f"got {and_list(sorted(given)) or 'none'}. Add {example} = '...', "
        f"or {example} IN ('...', '...') to read several"
    )


def and_list(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"
