"""Levenshtein edit distance between two strings (used by the CER metric and the repetition clean-up)."""

from __future__ import annotations


def levenshtein(a: str, b: str) -> int:
    """Edit distance (substitutions, insertions, deletions), O(len(a)·len(b)) time, O(len(b)) memory."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
