"""Tool arguments checked against a tool's inputSchema: a small standard-library checker for the
subset of JSON Schema memento's schemas use (type, minimum/maximum, exclusiveMinimum, enum, maxItems,
items, required, no additional properties). Every refusal is an InvalidInputError a model can act on.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

from ..errors import InvalidInputError


def check_arguments(schema: Mapping[str, Any], arguments: Any) -> Dict[str, Any]:
    """Arguments that match `schema`, with integral floats (5.0) made ints; else InvalidInputError."""
    if not isinstance(arguments, dict):
        raise InvalidInputError(f"arguments must be a JSON object, not {_json_type(arguments)}")
    properties = schema.get("properties", {})
    unknown = sorted(set(arguments) - set(properties))
    if unknown:
        raise InvalidInputError(f"unknown argument(s) {', '.join(unknown)}; this tool takes: "
                                f"{', '.join(properties) or 'no arguments'}")
    missing = [name for name in schema.get("required", ()) if name not in arguments]
    if missing:
        raise InvalidInputError(f"missing required argument(s): {', '.join(missing)}")
    return {name: _check_value(properties[name], value, name) for name, value in arguments.items()}


def _check_value(schema: Mapping[str, Any], value: Any, where: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(f"{where} must be an integer, not {_json_type(value)}")
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise InvalidInputError(f"{where} must be between {low} and {high}, not {value}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInputError(f"{where} must be a number, not {_json_type(value)}")
        if "exclusiveMinimum" in schema and not value > schema["exclusiveMinimum"]:
            raise InvalidInputError(f"{where} must be greater than {schema['exclusiveMinimum']}, not {value}")
    elif kind == "string":
        if not isinstance(value, str):
            raise InvalidInputError(f"{where} must be a string, not {_json_type(value)}")
        if "enum" in schema and value not in schema["enum"]:
            raise InvalidInputError(f"{where} must be one of {', '.join(schema['enum'])}, not {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidInputError(f"{where} must be true or false, not {_json_type(value)}")
    elif kind == "object":
        if not isinstance(value, dict):
            raise InvalidInputError(f"{where} must be a JSON object, not {_json_type(value)}")
    elif kind == "array":
        if not isinstance(value, list):
            raise InvalidInputError(f"{where} must be an array, not {_json_type(value)}")
        if len(value) > schema.get("maxItems", len(value)):
            raise InvalidInputError(f"{where} has {len(value)} items; at most {schema['maxItems']}")
        value = [_check_value(schema["items"], v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _json_type(value: Any) -> str:
    for python_type, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
                              (list, "an array"), (dict, "an object"), (type(None), "null")):
        if isinstance(value, python_type):
            return name
    return type(value).__name__
