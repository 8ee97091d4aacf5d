"""Render .iql templates with Jinja2 (imported only when a template needs it), StackQL's Go spellings included."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from skyql.errors import SqlError
from skyql.sql import gotemplate

if TYPE_CHECKING:
    import jinja2

_TEMPLATE_FILE = "<template>"
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")
_HOW = "pass --var {name}=VALUE or put it in the --iqldata file"


def render_template(text: str, variables: Mapping[str, Any]) -> str:
    """The text with {{ }} / {% %} rendered; string values are quote-escaped for SQL literals."""
    if "{{" not in text and "{%" not in text:
        return text
    import jinja2

    source = gotemplate.to_jinja(text)
    env = _environment()
    try:
        template = env.from_string(source)
    except jinja2.TemplateSyntaxError as err:
        raise SqlError(f"template syntax error at line {err.lineno}: {err.message}") from None
    try:
        return template.render(dict(variables))
    except jinja2.UndefinedError as err:
        raise _undefined(err) from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as err:
        raise SqlError(f"template error at line {_template_line(err)}: {err}") from None


def _undefined(err: jinja2.UndefinedError) -> SqlError:
    line = _template_line(err)
    match = _UNDEFINED_NAME.match(str(err.message))
    if match:
        name = match.group(1)
        return SqlError(f"template variable '{name}' is not defined (line {line}): {_HOW.format(name=name)}")
    return SqlError(
        f"template value missing at line {line}: {err.message} (check the data given with --var NAME=VALUE "
        "or --iqldata)"
    )


def _template_line(err: BaseException) -> int | str:
    """Jinja rewrites tracebacks so the template's own frames carry template line numbers."""
    line: int | str = "?"
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _finalize(value: Any) -> Any:
    """Every substituted value is text inside '...' in StackQL templates: it must not end the literal."""
    from markupsafe import Markup

    if isinstance(value, Markup):  # {{ x|safe }}: the template author vouches for it
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return value.replace("'", "''")
    return value


def _items(value: Any) -> Iterable[Any]:
    if isinstance(value, Mapping):
        return [value[key] for key in sorted(value)]
    return value


def _pairs(value: Any) -> Iterable[tuple[Any, Any]]:
    if isinstance(value, Mapping):
        return sorted(value.items())
    return enumerate(value)


def _value(value: Any) -> Any:
    import jinja2

    return None if isinstance(value, jinja2.Undefined) else value


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_finalize,
    )
    env.filters[gotemplate.ITEMS_FILTER] = _items
    env.filters[gotemplate.PAIRS_FILTER] = _pairs
    env.globals[gotemplate.VALUE_FUNCTION] = _value
    return env
