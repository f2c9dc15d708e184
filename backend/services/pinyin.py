"""Pinyin of Chinese names for sorting and search (`zhangsan`, `zs` and `zhs` all find 张三)."""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin


def name_pinyin(name: str) -> str:
    """Sortable pinyin with syllables separated by spaces, e.g. ``zhang san``; other text is kept lower-cased."""
    return " ".join(part.strip().lower() for part in lazy_pinyin(name, errors="default") if part.strip())


def search_terms(name: str) -> list[str]:
    """Search forms of one name: the name itself, joined pinyin, first letters and initials (zh/ch/sh kept)."""
    syllables = [s.lower() for s in lazy_pinyin(name) if s.strip()]
    initials = lazy_pinyin(name, style=Style.INITIALS, strict=False)
    initial_letters = "".join(
        (ini or syl[:1]).lower() for ini, syl in zip(initials, syllables) if syl)
    first_letters = "".join(syl[:1] for syl in syllables)
    terms = [name.lower(), "".join(syllables), first_letters, initial_letters]
    return list(dict.fromkeys(term for term in terms if term))


def build_search_key(name: str, aliases: list[str]) -> str:
    terms: list[str] = []
    for value in [name, *aliases]:
        terms.extend(search_terms(value))
    return " " + " ".join(dict.fromkeys(terms)) + " "
