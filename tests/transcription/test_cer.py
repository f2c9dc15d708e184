"""Character error rate."""

from __future__ import annotations

from transcription.cer import cer, levenshtein, normalize_for_cer


def test_cer() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert normalize_for_cer("甚至出現，交易 幾乎。") == "甚至出现交易几乎"
    assert cer("甚至出现交易几乎停滞的情况", "甚至出現交易幾乎停制的情況。") == 1 / 13
    assert cer("Ask not, what", "ask not what") == 0.0
    assert cer("好", "") == 1.0 and cer("", "") == 0.0
