"""Character error rate for Chinese (and other) transcripts: t2s, punctuation and spaces removed, Levenshtein."""

from __future__ import annotations

import unicodedata


def normalize_for_cer(text: str) -> str:
    """Simplified, lower-case, NFKC, without punctuation, symbols or whitespace."""
    from transcription.chinese import to_simplified  # chinese uses levenshtein from here

    text = unicodedata.normalize("NFKC", to_simplified(text)).lower()
    return "".join(c for c in text if unicodedata.category(c)[0] not in ("P", "S", "Z", "C"))


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


def cer(reference: str, hypothesis: str) -> float:
    """Edits / reference characters after normalize_for_cer (1.0 for an empty hypothesis)."""
    ref, hyp = normalize_for_cer(reference), normalize_for_cer(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return levenshtein(ref, hyp) / len(ref)
