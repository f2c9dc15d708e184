"""Chinese clean-up: t2s with timestamps, punctuation, hallucinations kept in meta, repetition loops, flags."""

from __future__ import annotations

from transcription.base import Segment, TranscriptionResult, Word
from transcription.chinese import (
    HALLUCINATIONS_ANYWHERE,
    HALLUCINATIONS_WHOLE_SEGMENT,
    flagged_count,
    normalize_punctuation,
    postprocess,
    to_simplified,
)


def _result(*segments: Segment) -> TranscriptionResult:
    return TranscriptionResult("zh", 1.0, 60.0, list(segments), "faster-whisper", "test")


def test_t2s_keeps_timestamps_and_words() -> None:
    words = [Word(1.0, 1.4, "換", 0.9), Word(1.4, 2.5, "一首歌", 0.8)]
    result = _result(Segment(0, 1.0, 2.5, "換一首歌", -0.2, 0.01, 1.1, words))
    cleaned = postprocess(result)
    segment = cleaned.segments[0]
    assert segment.text == "换一首歌"
    assert (segment.start, segment.end) == (1.0, 2.5)
    assert [(w.start, w.end, w.text) for w in segment.words] == [(1.0, 1.4, "换"), (1.4, 2.5, "一首歌")]
    assert segment.meta["original_text"] == "換一首歌"
    assert result.segments[0].text == "換一首歌", "postprocess must not change its input"
    assert to_simplified("甚至出現交易幾乎停滯的情況") == "甚至出现交易几乎停滞的情况"


def test_punctuation_full_width_in_chinese_only() -> None:
    assert normalize_punctuation("我们今天 开始吧,好吗?好!") == "我们今天开始吧，好吗？好！"
    assert normalize_punctuation("时间:1985年;地点:苏州.") == "时间：1985年；地点：苏州。"
    assert normalize_punctuation("价格是3.5元") == "价格是3.5元"
    assert normalize_punctuation("Hello, world. Is it? Yes!") == "Hello, world. Is it? Yes!"
    assert normalize_punctuation("他说...") == "他说……"


def test_hallucinations_removed_and_kept_in_meta() -> None:
    result = _result(
        Segment(0, 0.0, 5.0, "今天天气很好。请不吝点赞 订阅 转发 打赏支持明镜与点点栏目"),
        Segment(1, 5.0, 8.0, "字幕由Amara.org社群提供"),
        Segment(2, 8.0, 10.0, "中文字幕"),
        Segment(3, 10.0, 12.0, "优优独播剧场——YoYo Television Series Exclusive"),
        Segment(4, 12.0, 20.0, "我们谢谢观看的朋友"),
        Segment(5, 50.0, 60.0, "謝謝觀看!"),
    )
    cleaned = postprocess(result)
    texts = [s.text for s in cleaned.segments]
    assert texts == ["今天天气很好。", "", "", "", "我们谢谢观看的朋友", ""]
    assert cleaned.segments[0].meta["removed"] == [
        {"reason": "hallucination", "text": "请不吝点赞订阅转发打赏支持明镜与点点栏目"}  # spaces between 汉字 dropped first
    ]
    restored = cleaned.segments[1].meta["removed"][0]
    assert restored["text"] == "字幕由Amara.org社群提供" and restored["start"] == 5.0
    assert cleaned.segments[5].meta["removed"][0]["reason"] == "hallucination"
    assert cleaned.text == "今天天气很好。我们谢谢观看的朋友"
    assert HALLUCINATIONS_ANYWHERE and HALLUCINATIONS_WHOLE_SEGMENT


def test_thank_you_only_dropped_at_the_end() -> None:
    cleaned = postprocess(_result(Segment(0, 0, 2, "谢谢观看"), Segment(1, 2, 5, "下面我们开始采访。")))
    assert [s.text for s in cleaned.segments] == ["谢谢观看", "下面我们开始采访。"]


def test_repetition_within_segment_collapsed() -> None:
    cleaned = postprocess(
        _result(
            Segment(0, 0, 9, "那个时候我们那个时候我们那个时候我们那个时候我们那个时候我们住在老城区"),
            Segment(1, 9, 12, "对对对，就是这样"),
            Segment(2, 12, 15, "啊" * 30),
        )
    )
    first, second, third = cleaned.segments
    assert first.text == "那个时候我们住在老城区"
    assert first.meta["removed"] == [{"reason": "repetition", "text": "那个时候我们" * 4}]
    assert second.text == "对对对，就是这样" and "removed" not in second.meta
    assert third.text == "啊" and third.meta["removed"][0]["text"] == "啊" * 29


def test_repetition_across_segments_collapsed() -> None:
    segments = [Segment(0, 0, 3, "我出生在苏州。")]
    segments += [Segment(i, 3.0 * i, 3.0 * i + 3, "谢谢大家。") for i in range(1, 6)]
    segments.append(Segment(6, 18, 20, "好，我们继续。"))
    segments.append(Segment(7, 20, 22, "好，我们继续。"))  # said twice: kept
    cleaned = postprocess(_result(*segments))
    assert [s.text for s in cleaned.segments] == [
        "我出生在苏州。", "谢谢大家。", "", "", "", "", "好，我们继续。", "好，我们继续。"
    ]
    assert all(s.meta["removed"][0]["reason"] == "repetition" for s in cleaned.segments[2:6])


def test_flags_for_review() -> None:
    cleaned = postprocess(
        _result(
            Segment(0, 0, 2, "清楚的句子。", -0.3, 0.05, 1.2),
            Segment(1, 2, 4, "含糊的句子。", -1.4, 0.1, 1.3),
            Segment(2, 4, 6, "可能没有说话。", -0.5, 0.8, 1.0),
            Segment(3, 6, 8, "重复重复。", -0.5, 0.1, 2.9),
        )
    )
    assert [s.flagged for s in cleaned.segments] == [False, True, True, True]
    assert [f["reason"] for f in cleaned.segments[1].meta["flags"]] == ["low_avg_logprob"]
    assert [f["reason"] for f in cleaned.segments[2].meta["flags"]] == ["high_no_speech_prob"]
    assert [f["reason"] for f in cleaned.segments[3].meta["flags"]] == ["high_compression_ratio"]
    assert flagged_count(cleaned) == 3 and flagged_count(cleaned.segments) == 3


def test_prompt_echo_removed() -> None:
    # Texts faster-whisper produced here for 10 s of digital silence with vad_filter=False.
    cleaned = postprocess(
        _result(
            Segment(0, 0, 10, "这次是普通话的句子。", -0.9, 0.55, 0.9),
            Segment(1, 10, 12, "我们说的是普通话。"),
            Segment(2, 12, 14, "。。。。。"),
            Segment(3, 14, 20, "这位是普通话的句子，使用简体中文，并带有标点符号。"),
        )
    )
    assert [s.text for s in cleaned.segments] == ["", "我们说的是普通话。", "", ""]
    assert cleaned.segments[0].meta["removed"][0]["reason"] == "prompt_echo"
    assert cleaned.segments[2].meta["removed"][0]["reason"] == "punctuation_only"
