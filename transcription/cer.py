"""Character error rate for Chinese (and other) transcripts: t2s, punctuation and spaces removed, Levenshtein."""

from __future__ import annotations

import unicodedata

from transcription.chinese import to_simplified
from transcription.editdistance import levenshtein

__all__ = ["cer", "levenshtein", "normalize_for_cer"]


def normalize_for_cer(text: str) -> str:
    """Simplified, lower-case, NFKC, without punctuation, symbols or whitespace."""
    text = unicodedata.normalize("NFKC", to_simplified(text)).lower()
    return "".join(c for c in text if unicodedata.category(c)[0] not in ("P", "S", "Z", "C"))


def cer(reference: str, hypothesis: str) -> float:
    """Edits / reference characters after normalize_for_cer (1.0 for an empty hypothesis)."""
    ref, hyp = normalize_for_cer(reference), normalize_for_cer(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return levenshtein(ref, hyp) / len(ref)
