"""Clean-up of Whisper output for Chinese archives: t2s, punctuation, hallucinations, repetition loops, review flags."""

from __future__ import annotations

import copy
import dataclasses
import re
from functools import lru_cache
from typing import Any, Iterable

from transcription.base import Segment, TranscriptionResult
from transcription.editdistance import levenshtein
from transcription.prompts import INSTRUCTION_PROMPT_ZH, known_prompts

# Review flags: a segment beyond any of these is marked flagged, with the reasons in meta["flags"].
LOW_AVG_LOGPROB = -1.0  # decoder was unsure of the text
HIGH_NO_SPEECH_PROB = 0.6  # probably no speech: the text may be invented
HIGH_COMPRESSION_RATIO = 2.4  # text compresses too well: a repetition loop (Whisper's own fallback threshold)

# Echoes of a prompt (the built-in ones of transcription.prompts and the one decoded with), e.g. "这次是普通话的
# 句子。" decoded from silence: a segment this close (edit distance / length) to a prompt or one of its clauses is
# removed — unless the engine decoded it again without the prompt and found speech (meta["redecoded"]).
PROMPT_ECHO_MAX_DISTANCE = 0.35
PROMPT_ECHO_MIN_CHARS = 5

# Repetition loops.
MIN_PHRASE_REPEATS = 4  # a phrase of 2+ characters said 4+ times in a row within a segment is collapsed
MIN_CHAR_REPEATS = 10  # a single character 10+ times in a row (对对对对 stays; 10+ is a decoding loop)
MIN_SEGMENT_RUN = 3  # 3+ consecutive segments with the same text: the first is kept, the rest emptied

# Known Whisper hallucinations (learnt from subtitled video), matched after t2s, ignoring case, spaces and
# punctuation. ANYWHERE: removed wherever they occur. WHOLE_SEGMENT: removed when they are a segment's only
# text. TRAILING: removed when they are the only text of the last non-empty segment(s) (outros said over
# the silence at the end of a recording).
HALLUCINATIONS_ANYWHERE: tuple[str, ...] = (
    "字幕由Amara.org社群提供",
    "字幕由Amara.org社区提供",
    "由Amara.org社群提供的字幕",
    "由Amara.org社区提供的字幕",
    "Subtitles by the Amara.org community",
    "请不吝点赞订阅转发打赏支持明镜与点点栏目",
    "明镜需要您的支持欢迎订阅明镜",
    "优优独播剧场——YoYo Television Series Exclusive",
    "优优独播剧场",
    "YoYo Television Series Exclusive",
    "中文字幕志愿者",
    "字幕志愿者",
    INSTRUCTION_PROMPT_ZH,  # the instruction prompt Liufang used before, echoed back
)
HALLUCINATIONS_WHOLE_SEGMENT: tuple[str, ...] = (
    "中文字幕",
    "字幕",
    "字幕制作",
    "以下是普通话的句子",
    "请订阅",
    "点赞订阅",
    "订阅我的频道",
)
HALLUCINATIONS_TRAILING: tuple[str, ...] = (
    "谢谢观看",
    "感谢观看",
    "谢谢收看",
    "谢谢大家观看",
    "Thank you for watching",
    "Thanks for watching",
)

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_FULL_WIDTH = {",": "，", ".": "。", "?": "？", "!": "！", ":": "：", ";": "；"}
_SEP = r"[\s,，.。!！?？:：;；、·\-—_~～\"'“”‘’()（）\[\]【】|/]*"
_PUNCT_SPACE = re.compile(r"[\s,，.。!！?？:：;；、·\-—_~～\"'“”‘’()（）\[\]【】|/…]+")


@lru_cache(maxsize=1)
def _t2s() -> Any:
    from opencc import OpenCC  # opencc-python-reimplemented (pure Python)

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (OpenCC t2s); other scripts unchanged."""
    return _t2s().convert(text) if text else text


def normalize_punctuation(text: str) -> str:
    """Half-width , . ? ! : ; next to Chinese characters become full-width; English keeps ASCII.

    Also removes spaces between Chinese characters and around full-width punctuation, and makes
    "..." after Chinese text "……". Decimal points (3.5) are kept.
    """
    text = re.sub(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])", "", text)
    text = re.sub(rf"(?<=[{_CJK}])\s*(?:\.{{3,}}|…+)", "……", text)
    text = re.sub(rf"(?<=[{_CJK}])\s*([,?!:;]|\.(?!\d))\s*", lambda m: _FULL_WIDTH[m.group(1)], text)
    text = re.sub(rf"\s*([,?!:;])\s*(?=[{_CJK}])", lambda m: _FULL_WIDTH[m.group(1)], text)
    text = re.sub(rf"\s+(?=[，。？！：；、])|(?<=[，。？！：；、])\s+(?=[{_CJK}])", "", text)
    return text.strip()


def compact(text: str) -> str:
    """Lower-case text without spaces and punctuation (for comparing what was said)."""
    return _PUNCT_SPACE.sub("", text).lower()


_compact = compact


@lru_cache(maxsize=None)
def _loose(phrase: str) -> re.Pattern[str]:
    """Regex for phrase that tolerates spaces/punctuation between its characters."""
    chars = [re.escape(c) for c in _compact(phrase)]
    return re.compile(r"\s*" + _SEP.join(chars) + _SEP, re.IGNORECASE)


def _remove(segment: Segment, reason: str, text: str, **extra: Any) -> None:
    segment.meta.setdefault("removed", []).append({"reason": reason, "text": text, **extra})


def _blank(segment: Segment, reason: str) -> None:
    words = [dataclasses.asdict(w) for w in segment.words]
    _remove(segment, reason, segment.text, start=segment.start, end=segment.end, words=words)
    segment.text = ""
    segment.words = []


def prompt_clauses(prompt: str) -> set[str]:
    """The prompt and its clauses (split at commas, full stops and other sentence marks), compacted."""
    return {compact(c) for c in re.split(r"[，。,.！？!?；;：:]", prompt) if compact(c)} | {compact(prompt)}


def is_prompt_echo(text: str, prompt: str = INSTRUCTION_PROMPT_ZH) -> bool:
    """Whether text is (nearly) the prompt or one of its clauses, as Whisper writes over silence."""
    text = compact(text)
    if len(text) < PROMPT_ECHO_MIN_CHARS:
        return False
    return any(
        levenshtein(text, clause) / max(len(clause), len(text)) <= PROMPT_ECHO_MAX_DISTANCE
        for clause in prompt_clauses(prompt)
    )


def _redecode_outcome(segment: Segment) -> str | None:
    """transcription.echo's verdict on a segment decoded again without the prompt (speech, confirmed, no_speech)."""
    return (segment.meta.get("redecoded") or {}).get("outcome")


def remove_hallucinations(segments: list[Segment], prompt: str | None = None) -> None:
    """Drop known hallucinations in place, recording each in segment.meta["removed"]. Echoes of ``prompt`` (the
    one decoded with) and of the built-in prompts are removed, except from a segment whose text decoding again
    without a prompt gave or confirmed (it was said); one that gave nothing without the prompt is removed too."""
    prompts = known_prompts(prompt)
    whole = {_compact(p) for p in HALLUCINATIONS_WHOLE_SEGMENT}
    trailing = {_compact(p) for p in HALLUCINATIONS_TRAILING}
    for segment in segments:
        if not segment.text:
            continue
        if not _compact(segment.text):
            _blank(segment, "punctuation_only")  # e.g. "。。。。。" decoded from silence
            continue
        if _compact(segment.text) in whole:
            _blank(segment, "hallucination")
            continue
        outcome = _redecode_outcome(segment)
        if outcome == "no_speech" or (
            outcome not in ("speech", "confirmed") and any(is_prompt_echo(segment.text, p) for p in prompts)
        ):
            _blank(segment, "prompt_echo")
            continue
        for phrase in HALLUCINATIONS_ANYWHERE:
            pattern = _loose(phrase)
            found = [m.group(0).strip() for m in pattern.finditer(segment.text)]
            if found:
                remaining = pattern.sub("", segment.text).strip()
                if _compact(remaining):
                    segment.text = remaining
                    for text in found:
                        _remove(segment, "hallucination", text)
                else:
                    _blank(segment, "hallucination")
                    break
    for segment in reversed(segments):
        if not segment.text:
            continue
        if _compact(segment.text) not in trailing:
            break
        _blank(segment, "hallucination")


_PHRASE_LOOP = re.compile(rf"(.{{2,40}}?)(?:{_SEP}\1){{{MIN_PHRASE_REPEATS - 1},}}", re.DOTALL)
_CHAR_LOOP = re.compile(rf"(\w)\1{{{MIN_CHAR_REPEATS - 1},}}")


def collapse_repetitions(segments: list[Segment]) -> None:
    """Collapse repetition loops in place: within a segment (phrase kept once) and across a run of
    consecutive identical segments (first kept, the others emptied); removed text goes to meta["removed"]."""
    for segment in segments:
        for pattern in (_CHAR_LOOP, _PHRASE_LOOP):
            def keep_once(match: re.Match[str], segment: Segment = segment) -> str:
                unit = match.group(1)
                if not _compact(unit):
                    return match.group(0)  # punctuation or spaces only
                _remove(segment, "repetition", match.group(0)[len(unit):])
                return unit

            segment.text = pattern.sub(keep_once, segment.text)
    run: list[Segment] = []
    for segment in [*segments, None]:
        key = _compact(segment.text) if segment is not None else None
        if segment is not None and not key:
            continue  # empty segments do not break a run
        if run and key == _compact(run[0].text):
            run.append(segment)  # type: ignore[arg-type]
            continue
        if len(run) >= MIN_SEGMENT_RUN:
            for repeated in run[1:]:
                _blank(repeated, "repetition")
        run = [segment] if segment is not None else []


def flag_for_review(segments: Iterable[Segment]) -> None:
    """Set segment.flagged and meta["flags"] ([{reason, value, threshold}]) from the decoder's scores."""
    for segment in segments:
        flags = []
        if not segment.text:
            segment.flagged = False
            continue
        if segment.avg_logprob is not None and segment.avg_logprob < LOW_AVG_LOGPROB:
            flags.append({"reason": "low_avg_logprob", "value": segment.avg_logprob, "threshold": LOW_AVG_LOGPROB})
        if segment.no_speech_prob is not None and segment.no_speech_prob > HIGH_NO_SPEECH_PROB:
            flags.append(
                {"reason": "high_no_speech_prob", "value": segment.no_speech_prob, "threshold": HIGH_NO_SPEECH_PROB}
            )
        if segment.compression_ratio is not None and segment.compression_ratio > HIGH_COMPRESSION_RATIO:
            flags.append(
                {
                    "reason": "high_compression_ratio",
                    "value": segment.compression_ratio,
                    "threshold": HIGH_COMPRESSION_RATIO,
                }
            )
        if flags:
            segment.meta["flags"] = flags
        segment.flagged = bool(flags)


def postprocess(result: TranscriptionResult) -> TranscriptionResult:
    """A cleaned copy: t2s (text and words, timestamps unchanged), punctuation, hallucinations removed,
    repetition loops collapsed, segments flagged for review. Segments emptied by clean-up stay in place
    (text "", what was removed in meta["removed"], with its times and words) so an editor can restore
    them; exports skip them. Where t2s changed a text, the decoded one is kept in meta["original_text"].
    Words of a partly cleaned segment are left as decoded (their times stay valid)."""
    result = copy.deepcopy(result)
    for segment in result.segments:
        simplified = to_simplified(segment.text)
        if simplified != segment.text:
            segment.meta["original_text"] = segment.text
        segment.text = normalize_punctuation(simplified)
        for word in segment.words:
            word.text = to_simplified(word.text)
    remove_hallucinations(result.segments, result.initial_prompt)
    collapse_repetitions(result.segments)
    flag_for_review(result.segments)
    return result


def flagged_count(result: TranscriptionResult | Iterable[Segment]) -> int:
    """How many segments are flagged for review."""
    segments = result.segments if isinstance(result, TranscriptionResult) else result
    return sum(1 for s in segments if s.flagged)
