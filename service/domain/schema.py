"""Request body validation with the behaviour of Rocket.Chat's ajv instance.

Rocket.Chat compiles its REST schemas with ajv 8, ``coerceTypes: true`` and
without ``allErrors``: the first failing keyword wins, keywords run in ajv's
order (type, required, additionalProperties, properties) and scalar values are
coerced in place. Bodies reach this module already parsed with JavaScript
number semantics: every number is a ``float``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from service.domain.errors import InvalidParams
from service.domain.jsvalues import js_number_to_string, js_trim

PropertyType = Literal["string", "boolean", "integer"]
Value = str | bool | int

NOT_COERCIBLE = object()
# A decimal number as JavaScript's Number() reads one (no "_", unlike Python's float()).
_JS_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def coerce_to_string(value: object) -> object:
    """Coerce like ajv's ``type: string``; return ``NOT_COERCIBLE`` when ajv fails."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return js_number_to_string(value)
    if value is None:
        return ""
    return NOT_COERCIBLE


def coerce_to_boolean(value: object) -> object:
    """Coerce like ajv's ``type: boolean``; return ``NOT_COERCIBLE`` when ajv fails."""
    if isinstance(value, bool):
        return value
    if value is None or value == "false" or (isinstance(value, float) and value == 0):
        return False
    if value == "true" or (isinstance(value, float) and value == 1):
        return True
    return NOT_COERCIBLE


def coerce_to_integer(value: object) -> object:
    """Coerce like ajv's ``type: integer``; return ``NOT_COERCIBLE`` when ajv fails."""
    if isinstance(value, bool):
        return int(value)
    if value is None:
        return 0
    if isinstance(value, str):
        # ajv: a non-empty string that is a number in JavaScript (``data == +data``).
        if not _JS_DECIMAL.fullmatch(js_trim(value)):
            return NOT_COERCIBLE
        value = float(js_trim(value))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return NOT_COERCIBLE


_COERCERS = {
    "string": coerce_to_string,
    "boolean": coerce_to_boolean,
    "integer": coerce_to_integer,
}


@dataclass(frozen=True)
class ObjectSchema:
    """An object schema with typed properties, all listed, no additional ones.

    ``ranges`` bound integer properties (ajv's ``minimum`` and ``maximum``).
    """

    properties: tuple[tuple[str, PropertyType], ...]
    required: tuple[str, ...]
    ranges: tuple[tuple[str, int, int], ...] = ()

    def validate(self, body: object) -> dict[str, Value]:
        """Return the coerced body, or raise ``InvalidParams`` with ajv's first error."""
        if not isinstance(body, Mapping):
            raise InvalidParams("must be object")
        for name in self.required:
            if name not in body:
                raise InvalidParams(f"must have required property '{name}'")
        known = {name for name, _ in self.properties}
        if any(key not in known for key in body):
            raise InvalidParams("must NOT have additional properties")
        coerced: dict[str, Value] = {}
        bounds = {name: (low, high) for name, low, high in self.ranges}
        for name, type_ in self.properties:
            if name not in body:
                continue
            value = _COERCERS[type_](body[name])
            if value is NOT_COERCIBLE:
                raise InvalidParams(f"must be {type_}")
            assert isinstance(value, Value)
            if name in bounds:
                low, high = bounds[name]
                if isinstance(value, int) and value > high:
                    raise InvalidParams(f"must be <= {high}")
                if isinstance(value, int) and value < low:
                    raise InvalidParams(f"must be >= {low}")
            coerced[name] = value
        return coerced


@dataclass(frozen=True)
class OneOf:
    r"""ajv's ``oneOf`` of object schemas: exactly one branch must accept the value.

    Rocket.Chat's legacy routes report every ajv error of a failed ``oneOf``: each
    branch's first error in order, then ajv's own message, joined by ``"\\n "``.
    """

    branches: tuple[ObjectSchema, ...]

    def validate(self, value: object) -> tuple[int, dict[str, Value]]:
        """Return the index of the accepting branch and the coerced value."""
        errors: list[str] = []
        accepted: list[tuple[int, dict[str, Value]]] = []
        for index, branch in enumerate(self.branches):
            try:
                accepted.append((index, branch.validate(value)))
            except InvalidParams as error:
                errors.append(error.message)
        if len(accepted) == 1:
            return accepted[0]
        raise InvalidParams("\n ".join([*errors, "must match exactly one schema in oneOf"]))
