"""Search text, the same for every engine: normalisation (NFKC, case fold, Traditional → Simplified, one token per
letter or digit), the query language (words, "phrases", -exclusions) and highlighting with <mark>."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from transcription.chinese import to_simplified

# Between two fields of one document: a token no query can produce (queries hold only letters and digits), so a
# phrase never runs from one field into the next. Non-ASCII, so FTS5's ascii tokenizer keeps it as a token.
FIELD_BREAK = "¶"
MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
MAX_PHRASE = 64


@lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """What one character is in the index: NFKC, case-folded, Simplified; only letters and digits remain (``"Ａ"``
    → ``"a"``, ``"國"`` → ``"国"``, ``"，"`` → ``""``, ``"㈱"`` → ``"株"``)."""
    folded = unicodedata.normalize("NFKC", char).casefold()
    folded = "".join(to_simplified(c) if ord(c) > 0x2E7F else c for c in folded)
    folded = unicodedata.normalize("NFKC", folded)
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN")


_FOLDED: dict[int, str] = {}  # code point → its folded form, for str.translate; grows with the characters seen
_SEEN: set[str] = set()


def fold(text: str) -> str:
    """The index form of ``text``: its letters and digits folded, nothing between them."""
    for char in set(text).difference(_SEEN):
        _FOLDED[ord(char)] = fold_char(char)
        _SEEN.add(char)
    return text.translate(_FOLDED)


def spaced(fields: list[str]) -> str:
    """What the engines index for a list of field values: one token per character, fields kept apart."""
    parts = [" ".join(folded) for folded in (fold(value) for value in fields if value) if folded]
    return f" {FIELD_BREAK} ".join(parts)


def compact_fields(spaced_text: str) -> list[str]:
    """The folded fields back from their spaced form (for ranking and the substring scan)."""
    if not spaced_text:
        return []
    return [part.replace(" ", "") for part in spaced_text.split(FIELD_BREAK)]


# --- the query language ----------------------------------------------------------------------------------------

@dataclass
class Query:
    """A parsed query: every phrase in ``required`` must occur, none in ``excluded``; ``whole`` is the query's
    words run together, for ranking exact phrases above scattered hits."""

    required: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def whole(self) -> str:
        return "".join(self.required)

    @property
    def empty(self) -> bool:
        return not self.required


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse(text: str) -> Query:
    """``纺织 "老 厂长" -机器`` → required ["纺织", "老厂长"], excluded ["机器"]. Words are folded like the index;
    a word that folds to nothing (punctuation) is ignored; repeated phrases count once."""
    query = Query(text=text)
    for match in _TOKEN.finditer(text[:MAX_QUERY_LENGTH]):
        negative, quoted, bare = match.group(1), match.group(2), match.group(3)
        if quoted is None:
            negative = "-" if bare.startswith("-") and len(bare) > 1 else ""
            quoted = bare[1:] if negative else bare
        phrase = fold(quoted)[:MAX_PHRASE]
        if not phrase:
            continue
        target = query.excluded if negative else query.required
        if phrase not in target and len(query.required) + len(query.excluded) < MAX_TERMS:
            target.append(phrase)
    return query


# --- highlighting ------------------------------------------------------------------------------------------------

def _folded_with_offsets(text: str) -> tuple[str, list[int]]:
    """``text`` folded, and for each folded character the index of the original character it came from."""
    folded: list[str] = []
    origin: list[int] = []
    for position, char in enumerate(text):
        for piece in fold_char(char):
            folded.append(piece)
            origin.append(position)
    return "".join(folded), origin


def match_spans(text: str, phrases: list[str]) -> list[tuple[int, int]]:
    """The ranges of ``text`` (original characters, end exclusive) where a phrase occurs after folding, merged."""
    folded, origin = _folded_with_offsets(text)
    spans: list[tuple[int, int]] = []
    for phrase in phrases:
        start = folded.find(phrase)
        while start != -1:
            spans.append((origin[start], origin[start + len(phrase) - 1] + 1))
            start = folded.find(phrase, start + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, phrases: list[str], *, width: int = 80) -> str:
    """``text`` HTML-escaped around its first hits, each hit in <mark>…</mark>; at most about ``width``
    characters, cut ends shown as …"""
    spans = match_spans(text, phrases)
    if len(text) <= width:
        begin, end = 0, len(text)
    elif spans:
        begin = max(0, spans[0][0] - width // 4)
        end = min(len(text), begin + width)
        begin = max(0, min(begin, end - width))
    else:
        begin, end = 0, width
    out: list[str] = ["…"] if begin > 0 else []
    cursor = begin
    for start, stop in spans:
        if stop <= begin or start >= end:
            continue
        start, stop = max(start, begin), min(stop, end)
        out.append(html.escape(text[cursor:start]))
        out.append("<mark>" + html.escape(text[start:stop]) + "</mark>")
        cursor = stop
    out.append(html.escape(text[cursor:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)


def occurrences(haystack: str, phrase: str) -> int:
    """How often ``phrase`` occurs in ``haystack``, overlaps included (as the engines count phrase hits)."""
    count, start = 0, haystack.find(phrase)
    while start != -1:
        count += 1
        start = haystack.find(phrase, start + 1)
    return count
