"""Query strings as Rocket.Chat's REST layer reads them (Express with ``qs``).

``a[b]=1`` is ``{"a": {"b": "1"}}``; ``a[]=1&a[]=2`` and a repeated ``a=1&a=2`` are
arrays; ``a[0]=x`` is an array up to ``qs``'s index limit of 20, an object past it;
brackets nest up to ``qs``'s depth of 5, and the rest of a deeper key stays one key.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

ARRAY_LIMIT = 20
DEPTH = 5
PARAMETER_LIMIT = 1000
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def _path(key: str) -> list[str]:
    bracket = key.find("[")
    if bracket <= 0:
        return [key]
    parts = [key[:bracket]]
    rest = key[bracket:]
    for match in _SEGMENT.finditer(rest):
        if match.start() != sum(len(p) + 2 for p in parts[1:]) or len(parts) > DEPTH:
            break
        parts.append(match.group(1))
    consumed = sum(len(p) + 2 for p in parts[1:])
    if consumed < len(rest):
        parts.append(rest[consumed:])  # qs keeps what it could not split as one key
    return parts


def _merge(target: Any, path: list[str], value: Any) -> Any:
    """Put ``value`` at ``path`` in ``target`` (a dict, list or None) and return it."""
    head, rest = path[0], path[1:]
    child_value = value if not rest else None
    if isinstance(target, list) and head == "":
        target.append(_merge(None, rest, value) if rest else child_value)
        return target
    if target is None:
        if head == "":
            return [_merge(None, rest, value) if rest else child_value]
        target = [] if head.isdigit() and int(head) <= ARRAY_LIMIT else {}
    if isinstance(target, list):
        if head.isdigit() and int(head) <= ARRAY_LIMIT:
            index = int(head)
            if index < len(target):
                target[index] = _merge(target[index], rest, value) if rest else value
            else:
                target.append(_merge(None, rest, value) if rest else value)
            return target
        target = {str(i): item for i, item in enumerate(target)}
    existing = target.get(head)
    if rest:
        target[head] = _merge(existing, rest, value)
    elif existing is None:
        target[head] = value
    elif isinstance(existing, list):
        existing.append(value)
    else:
        target[head] = [existing, value]
    return target


def parse_query(query_string: str) -> dict[str, Any]:
    """Parse like ``qs.parse`` with Express's defaults; values are strings, lists, objects."""
    result: dict[str, Any] = {}
    pairs = parse_qsl(query_string, keep_blank_values=True)[:PARAMETER_LIMIT]
    for key, value in pairs:
        if not key:
            continue
        merged = _merge(result, _path(key), value)
        assert isinstance(merged, dict)
        result = merged
    return result
