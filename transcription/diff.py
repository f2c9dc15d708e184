"""Differences between two revisions of a transcript: segments added, removed or changed; changed text by character."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

# What a diff compares: a snapshot's index is only its position, so a segment that moves up is not a changed one.
COMPARED_FIELDS = ("start", "end", "text", "speaker", "flagged")

Snapshot = Mapping[str, Any]


def text_ops(before: str, after: str) -> list[dict[str, str]]:
    """Character-level difference (one Chinese character is one element): equal/insert/delete/replace runs."""
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    return [{"op": tag, "before": before[i1:i2], "after": after[j1:j2]}
            for tag, i1, i2, j1, j2 in matcher.get_opcodes()]


def _identity(segment: Snapshot) -> tuple[Any, ...]:
    return (segment["start"], segment["end"], segment["text"], segment.get("speaker"), bool(segment.get("flagged")))


def _overlap(a: Snapshot, b: Snapshot) -> float:
    return max(0.0, min(a["end"], b["end"]) - max(a["start"], b["start"]))


def _pair(before: Sequence[Snapshot], after: Sequence[Snapshot], olds: list[int], news: list[int]
          ) -> list[tuple[int, int]]:
    """Pair replaced segments: one to one when counts match; else a split's first part and a merge's result pair
    with the segment whose start they keep, then by largest time overlap, never crossing."""
    if len(olds) == len(news):
        return list(zip(olds, news))
    candidates = sorted((((before[o]["start"] == after[n]["start"]), _overlap(before[o], after[n]), o, n)
                         for o in olds for n in news), key=lambda c: (c[0], c[1], -c[2], -c[3]), reverse=True)
    pairs: list[tuple[int, int]] = []
    for _same_start, overlap, o, n in candidates:
        if overlap <= 0:
            continue
        if any(o == po or n == pn or (o < po) != (n < pn) for po, pn in pairs):
            continue
        pairs.append((o, n))
    return sorted(pairs)


def diff_segments(before: Sequence[Snapshot], after: Sequence[Snapshot]) -> dict[str, Any]:
    """``{"stats": {added, removed, changed, unchanged}, "segments": [entries]}`` between two lists of segment
    snapshots (dicts with start, end, text, speaker, flagged). Each entry has a type (added, removed, changed), the
    segment's index before and after (None on the side it is missing from) and both snapshots; a changed entry also
    names the changed fields and, when the text changed, its character-level ``text_ops``."""
    matcher = difflib.SequenceMatcher(a=[_identity(s) for s in before], b=[_identity(s) for s in after],
                                      autojunk=False)
    entries: list[dict[str, Any]] = []
    stats = {"added": 0, "removed": 0, "changed": 0, "unchanged": 0}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            stats["unchanged"] += i2 - i1
            continue
        pairs = _pair(before, after, list(range(i1, i2)), list(range(j1, j2)))
        paired_olds = {p[0] for p in pairs}
        paired_news = {p[1] for p in pairs}
        o, n = i1, j1
        for po, pn in [*pairs, (i2, j2)]:
            while o < po:
                if o not in paired_olds:
                    entries.append({"type": "removed", "from_index": o, "to_index": None, "before": before[o],
                                    "after": None})
                    stats["removed"] += 1
                o += 1
            while n < pn:
                if n not in paired_news:
                    entries.append({"type": "added", "from_index": None, "to_index": n, "before": None,
                                    "after": after[n]})
                    stats["added"] += 1
                n += 1
            if po < i2:
                old, new = before[po], after[pn]
                fields = [f for f in COMPARED_FIELDS if old.get(f) != new.get(f)]
                entries.append({"type": "changed", "from_index": po, "to_index": pn, "before": old, "after": new,
                                "fields": fields,
                                "text_ops": text_ops(old["text"], new["text"]) if "text" in fields else []})
                stats["changed"] += 1
                o, n = po + 1, pn + 1
    return {"stats": stats, "segments": entries}
