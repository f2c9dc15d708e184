"""Initial prompts for Whisper: the Simplified-Chinese steering sentence and the archive's context (names, places)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Whisper continues the style of the text before the audio (script, punctuation). Styles measured with
#: bench/asr_quality.py (README, "Speech recognition quality"):
#: - short (the default): one Simplified sentence with a full stop. Lowest CER; every clip keeps its end mark;
#:   an echo of it is a fixed, recognisable phrase.
#: - natural: a sentence like an interview's start, with commas. More commas, CER one edit worse; but over noise
#:   base paraphrased it ("今天我们今天就随便聊一段时间。"), an echo an editor cannot tell from speech.
#: - instruction: what Liufang used before; base reads it back over short or unclear speech ("并带有标点符号。").
SHORT_PROMPT_ZH = "以下是普通话的句子。"
NATURAL_PROMPT_ZH = "嗯，好的。我们今天就随便聊聊，您说吧。"
INSTRUCTION_PROMPT_ZH = "以下是普通话的句子，使用简体中文，并带有标点符号。"

PROMPT_STYLES: dict[str, str | None] = {
    "none": None,
    "short": SHORT_PROMPT_ZH,
    "natural": NATURAL_PROMPT_ZH,
    "instruction": INSTRUCTION_PROMPT_ZH,
}
DEFAULT_PROMPT_STYLE = "short"

#: Whisper keeps at most 223 prompt tokens (half its context); a Chinese character is 1–3 tokens.
MAX_CONTEXT_CHARS = 100

#: Languages whose steering prompt is Chinese.
CHINESE_LANGUAGES = ("zh", "yue")


@dataclass(frozen=True)
class SpeechContext:
    """What the archive knows about a recording, as plain data: who speaks, where they are from, where and about
    what the interview was. The backend fills it from the interview and the linked profiles."""

    names: tuple[str, ...] = ()  # interviewees' names, then their aliases
    native_place: str | None = None
    occupations: tuple[str, ...] = ()
    interview_place: str | None = None
    topic: str | None = None
    terms: tuple[str, ...] = field(default=())  # other proper nouns (e.g. a caller's list)

    def __init__(self, names=(), native_place=None, occupations=(), interview_place=None, topic=None, terms=()):
        # Accept lists (JSON, bench) and drop blanks and duplicates, keeping order.
        object.__setattr__(self, "names", _unique(names))
        object.__setattr__(self, "native_place", _clean(native_place))
        object.__setattr__(self, "occupations", _unique(occupations))
        object.__setattr__(self, "interview_place", _clean(interview_place))
        object.__setattr__(self, "topic", _clean(topic))
        object.__setattr__(self, "terms", _unique(terms))

    def __bool__(self) -> bool:
        return bool(self.names or self.native_place or self.occupations or self.interview_place or self.topic
                    or self.terms)

    def sentence(self) -> str:
        """The context as Simplified sentences with punctuation (so it steers style too), e.g.
        "受访人张秀英，又名张老师，籍贯江苏省扬州市，退休教师。访谈地点扬州市广陵区，主题是老城区的变迁。"."""
        first: list[str] = []
        if self.names:
            first.append(f"受访人{self.names[0]}")
            if len(self.names) > 1:
                first.append("又名" + "、".join(self.names[1:]))
        if self.native_place:
            first.append(f"籍贯{self.native_place}")
        if self.occupations:
            first.append("、".join(self.occupations))
        second: list[str] = []
        if self.interview_place:
            second.append(f"访谈地点{self.interview_place}")
        if self.topic:
            second.append(f"主题是{self.topic}")
        if self.terms:
            second.append("提到" + "、".join(self.terms))
        text = "".join("，".join(part) + "。" for part in (first, second) if part)
        if len(text) > MAX_CONTEXT_CHARS:
            text = text[:MAX_CONTEXT_CHARS].rstrip("，、") + "。"
        return text


def build_prompt(language: str | None, style: str = DEFAULT_PROMPT_STYLE, context: SpeechContext | None = None,
                 extra: str | None = None) -> str | None:
    """The initial prompt: the steering sentence (Chinese only), then the context sentence (Chinese only), then a
    caller's own text (names and terms); None when all are empty."""
    if style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style {style!r}; choose one of {', '.join(PROMPT_STYLES)}")
    chinese = language in CHINESE_LANGUAGES
    parts = [PROMPT_STYLES[style] if chinese else None, context.sentence() if chinese and context else None,
             (extra or "").strip() or None]
    return "".join(part for part in parts if part) or None


def known_prompts(used: str | None = None) -> list[str]:
    """Prompts whose echoes the clean-up recognises: every built-in style and the prompt actually used."""
    prompts = [p for p in PROMPT_STYLES.values() if p]
    if used and used not in prompts:
        prompts.append(used)
    return prompts


def _clean(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _unique(values: object) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    seen: dict[str, None] = {}
    for value in values or ():  # type: ignore[union-attr]
        text = _clean(value)
        if text:
            seen.setdefault(text, None)
    return tuple(seen)
