"""Check a request body against its discovery schema before anything is sent: unknown fields, types, enums."""

from __future__ import annotations

import math
import re
from typing import Any

from skyql.errors import ParameterError, did_you_mean
from skyql.registry.model import Service, type_word

_INT = re.compile(r"-?\d+\Z")
_SPECIAL_NUMBERS = ("NaN", "Infinity", "-Infinity")
_SHOWN_ENUM_VALUES = 12


def check_json(service: Service, schema: dict[str, Any], value: Any, path: str) -> None:
    """Raise ParameterError naming the path (`data__studySpec.metrics[0].goal`) of the first misfit in `value`."""
    if value is None:
        return  # JSON null: the field's default, as Google reads it
    resolved = service.resolve(schema)
    kind = resolved.get("type")
    if kind == "any":
        return
    word = type_word(resolved)
    if word == "object":
        _check_object(service, resolved, value, path)
    elif word == "array":
        if not isinstance(value, list):
            raise _misfit(path, "a JSON array", value)
        for i, item in enumerate(value):
            check_json(service, resolved.get("items", {}), item, f"{path}[{i}]")
    else:
        check_scalar(resolved, value, path)


def check_scalar(schema: dict[str, Any], value: Any, path: str) -> None:
    """A JSON scalar against a resolved scalar schema: int64 may be a string, enums must be listed values."""
    word = type_word(schema)
    if word == "integer":
        if isinstance(value, bool) or not (
            isinstance(value, int)
            or (isinstance(value, float) and value.is_integer())
            or (isinstance(value, str) and _INT.match(value.strip()))
        ):
            raise _misfit(path, "an integer", value)
    elif word == "number":
        if isinstance(value, bool) or not (isinstance(value, int | float) or _numeric_text(value)):
            raise _misfit(path, "a number", value)
    elif word == "boolean":
        if not isinstance(value, bool):
            raise _misfit(path, "true or false", value)
    elif not isinstance(value, str):
        raise _misfit(path, "a string", value)
    enum = schema.get("enum")
    # Protobuf's JSON form also accepts an enum's number.
    if enum and not (isinstance(value, int) and not isinstance(value, bool)) and value not in enum:
        shown = ", ".join(enum[:_SHOWN_ENUM_VALUES]) + (", ..." if len(enum) > _SHOWN_ENUM_VALUES else "")
        raise ParameterError(f"{path} takes one of {shown}; got {value!r}{did_you_mean(str(value), enum)}")


def camel_case(name: str) -> str:
    """metric_id -> metricId: Google's JSON parsers accept a field's proto name as well as its JSON name."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _check_object(service: Service, schema: dict[str, Any], value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise _misfit(path, "a JSON object", value)
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        prop = None
        if properties:
            prop = properties.get(key) or properties.get(camel_case(key))
        if prop is None and isinstance(extra, dict):
            prop = extra
        if prop is None:
            if not properties or key.startswith("@"):
                continue  # a free-form object, or an Any's @type
            raise ParameterError(
                f"{path} has no field {key!r}{did_you_mean(key, properties)}; "
                f"its fields are {', '.join(properties)}"
            )
        check_json(service, prop, item, f"{path}[{key!r}]" if prop is extra else f"{path}.{key}")


def _numeric_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value in _SPECIAL_NUMBERS:
        return True
    try:
        return not math.isnan(float(value))
    except ValueError:
        return False


def _misfit(path: str, wanted: str, value: Any) -> ParameterError:
    if isinstance(value, dict | list):
        shown = "a JSON object" if isinstance(value, dict) else "a JSON array"
    else:
        shown = repr(value)
    return ParameterError(f"{path} takes {wanted}, got {shown}")
