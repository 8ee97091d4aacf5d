"""Choose the SELECT method a table reference is read with, from the parameters its conditions give."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from skyql.errors import ParameterError
from skyql.plan.refs import Ref, select_methods
from skyql.registry import Method


@dataclass(frozen=True)
class Choice:
    method: Method
    from_joins: tuple[str, ...]  # required parameters that come from another fetch's column


def choose_method(ref: Ref, given: Mapping[str, list[Any]], joinable: Collection[str]) -> Choice:
    """The method for `ref`: one whose required params are all given, literal values first, then joins.

    Among those that fit, prefer one that takes every given parameter, then StackQL's order: the
    resource's SELECT methods in its `sqlVerbs` order (a get before a list before an aggregated list).
    """
    methods = select_methods(ref.resource)
    fit = [m for m in methods if m.fits(given)]
    if fit:
        return Choice(min(fit, key=lambda m: _rank(m, given, methods)), ())
    reachable = given.keys() | set(joinable)
    fit = [m for m in methods if m.fits(reachable)]
    if not fit:
        raise ParameterError(_missing_message(ref, methods, given))
    method = min(fit, key=lambda m: (len(m.missing(given)), *_rank(m, given, methods)))
    return Choice(method, tuple(m for m in method.missing(given)))


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


def _rank(method: Method, given: Mapping[str, list[Any]], methods: list[Method]) -> tuple[bool, int]:
    takes_all = all(method.param(name) for name in given)
    return (not takes_all, methods.index(method))


def _missing_message(ref: Ref, methods: list[Method], given: Mapping[str, list[Any]]) -> str:
    prefix = f"{ref.table.alias}." if ref.table.alias else ""
    return missing_message(
        ref.resource.id,
        methods,
        given,
        lambda p: f"{prefix}{p} = '...'",
        f"or {prefix}{{}} IN ('...', '...') to read several",
    )


def missing_message(
    what: str, methods: list[Method], given: Collection[str], show: Callable[[str], str], more: str = ""
) -> str:
    """No method fits: say what the one needing least is missing, and list the alternatives."""
    cheapest = min(methods, key=lambda m: (len(m.missing(given)), len(m.required_params), methods.index(m)))
    missing = cheapest.missing(given)
    text = (
        f"{what} needs {and_list(cheapest.required_params)} in WHERE; "
        f"got {and_list(sorted(given)) or 'none'}. Add {show(missing[0])}"
    )
    if more:
        text += ", " + more.format(missing[0])
    # The alternatives a statement is closest to first (StackQL's order among equals): sinks' projectsId.
    others = sorted(
        (m for m in methods if m is not cheapest), key=lambda m: (len(m.missing(given)), methods.index(m))
    )
    if others:
        text += (
            "; or, for another method, "
            + "; ".join(f"{and_list(m.required_params)} ({m.name})" for m in others[:8])
            + ("; ..." if len(others) > 8 else "")
        )
    return text


def and_list(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"
