"""Checks of a JSON request body before any view or schema sees it: UTF-8, well-formed, nested at most
``MAX_DEPTH`` deep, and no lone surrogates (``"a\\ud800"`` parses, but no database or document can store it)."""

from __future__ import annotations

import json
import re
from typing import Any

from backend.errors import BadRequest

MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def check(raw: bytes) -> Any:
    """The parsed body, or a 400: ``invalid_json``, ``json_too_deep`` or ``invalid_unicode``."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _invalid("请求体不是 UTF-8 编码") from None
    except RecursionError:  # the C parser stops at the interpreter's recursion limit
        raise _too_deep() from None
    except ValueError:
        raise _invalid("请求体不是有效的 JSON") from None
    _check_values(value)
    return value


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_json", details={"fields": {"_json": ["Invalid JSON body."]},
                                                           "locations": ["json"]})


def _too_deep() -> BadRequest:
    return BadRequest(f"JSON 嵌套超过 {MAX_DEPTH} 层", code="json_too_deep", details={"max_depth": MAX_DEPTH})


def _check_values(value: Any) -> None:
    """Depth and strings, without recursion. A valid surrogate pair (``\\ud83d\\ude00``) was parsed into one
    character: whatever surrogate is left stood alone."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise BadRequest("请求体含有不成对的 Unicode 代理项（如 \\ud800），不是有效的文本",
                                 code="invalid_unicode")
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise _too_deep()
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
