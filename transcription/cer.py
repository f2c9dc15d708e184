"""Character error rate for Chinese (and other) transcripts: t2s, punctuation and spaces removed, Levenshtein."""

from __future__ import annotations

import unicodedata

from transcription.chinese import to_simplified
from transcription.editdistance import levenshtein

__all__ = ["cer", "levenshtein", "normalize_for_cer"]


#: Arabic digits as Chinese digit characters, read one by one (13740052246 → 一三七四零零五二二四六).
_DIGITS_AS_HANZI = str.maketrans("0123456789", "零一二三四五六七八九")


def normalize_for_cer(text: str, read_digits: bool = False) -> str:
    """Simplified, lower-case, NFKC, without punctuation, symbols or whitespace; with read_digits, Arabic digits
    become Chinese digit characters (references of read speech spell numbers out; Whisper writes digits)."""
    text = unicodedata.normalize("NFKC", to_simplified(text)).lower()
    if read_digits:
        text = text.translate(_DIGITS_AS_HANZI)
    return "".join(c for c in text if unicodedata.category(c)[0] not in ("P", "S", "Z", "C"))


def cer(reference: str, hypothesis: str, read_digits: bool = False) -> float:
    """Edits / reference characters after normalize_for_cer (1.0 for an empty hypothesis)."""
    ref, hyp = normalize_for_cer(reference, read_digits), normalize_for_cer(hypothesis, read_digits)
    if not ref:
        return 0.0 if not hyp else 1.0
    return levenshtein(ref, hyp) / len(ref)
