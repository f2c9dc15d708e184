"""What the archive accepts as text and numbers from outside: characters XML 1.0 can hold (every export to DOCX
must open), integers that fit a 64-bit database column, written in ASCII digits."""

from __future__ import annotations

import re
from typing import Any

from transcription.formats import XML_INVALID_CHARS

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")
INVALID_CHARACTER_MESSAGE = "含有无法保存的字符（控制字符、U+FFFE/U+FFFF 或不成对的代理项）"


def parse_int64(text: str) -> int | None:
    """A non-negative integer written in ASCII digits that fits 64 bits (``"42"`` → 42); None for anything else
    (``"4²"``, ``"٤"``, ``" 4"``, ``"-4"``, 2^63)."""
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= INT64_MAX else None


def invalid_character(text: str) -> str | None:
    """The first character of ``text`` that XML 1.0 cannot hold, or None."""
    match = XML_INVALID_CHARS.search(text)
    return match.group() if match else None


def invalid_text_fields(data: Any) -> dict[str, list[str]]:
    """Field name → message for each top-level field of ``data`` whose text (at any depth, keys included) holds a
    character XML cannot hold."""
    if not hasattr(data, "keys"):
        return {}
    return {str(key): [INVALID_CHARACTER_MESSAGE] for key in data.keys()
            if _holds_invalid(key) or _holds_invalid(data[key])}


def _holds_invalid(value: Any) -> bool:
    if isinstance(value, str):
        return XML_INVALID_CHARS.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_invalid(k) or _holds_invalid(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_invalid(item) for item in value)
    return False
