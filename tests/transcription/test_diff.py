"""The revision diff: unchanged revisions, changed characters, added and removed segments, splits and merges."""

from __future__ import annotations

import copy

from transcription.diff import diff_segments, text_ops


def _segment(index: int, start: float, end: float, text: str, speaker: str | None = "SPEAKER_1",
             flagged: bool = False) -> dict:
    return {"index": index, "start": start, "end": end, "text": text, "speaker": speaker, "flagged": flagged}


REVISION = [
    _segment(0, 0.0, 2.5, "我叫王秀英，今年八十三岁。"),
    _segment(1, 2.5, 5.0, "小时候家里在新坝镇打鱼。", flagged=True),
    _segment(2, 5.5, 8.0, "那时候日子很苦。"),
    _segment(3, 8.0, 10.0, "您还记得哪一年吗？", speaker="SPEAKER_2"),
]


def test_an_unchanged_revision_has_no_entries() -> None:
    assert diff_segments(REVISION, copy.deepcopy(REVISION)) == {
        "stats": {"added": 0, "removed": 0, "changed": 0, "unchanged": 4}, "segments": []}
    assert diff_segments([], []) == {"stats": {"added": 0, "removed": 0, "changed": 0, "unchanged": 0},
                                      "segments": []}


def test_a_changed_character_is_one_changed_segment_with_its_text_ops() -> None:
    after = copy.deepcopy(REVISION)
    after[1]["text"] = "小时候家里在新坝镇捕鱼。"
    result = diff_segments(REVISION, after)
    assert result["stats"] == {"added": 0, "removed": 0, "changed": 1, "unchanged": 3}
    assert result["segments"] == [{
        "type": "changed", "from_index": 1, "to_index": 1, "before": REVISION[1], "after": after[1],
        "fields": ["text"],
        "text_ops": [{"op": "equal", "before": "小时候家里在新坝镇", "after": "小时候家里在新坝镇"},
                     {"op": "replace", "before": "打", "after": "捕"},
                     {"op": "equal", "before": "鱼。", "after": "鱼。"}]}]


def test_a_removed_and_an_added_segment_leave_the_moved_ones_alone() -> None:
    added = _segment(3, 10.5, 11.5, "记得，是一九五八年。", speaker="SPEAKER_1")
    after = [REVISION[0], {**REVISION[2], "index": 1}, {**REVISION[3], "index": 2}, added]
    result = diff_segments(REVISION, after)
    assert result["stats"] == {"added": 1, "removed": 1, "changed": 0, "unchanged": 3}
    assert result["segments"] == [
        {"type": "removed", "from_index": 1, "to_index": None, "before": REVISION[1], "after": None},
        {"type": "added", "from_index": None, "to_index": 3, "before": None, "after": added},
    ]


def test_a_split_is_the_first_part_changed_and_the_second_added_and_a_merge_the_reverse() -> None:
    split = [REVISION[0], REVISION[1], _segment(2, 5.5, 6.5, "那时候"), _segment(3, 6.5, 8.0, "日子很苦。"),
             {**REVISION[3], "index": 4}]
    result = diff_segments(REVISION, split)
    assert result["stats"] == {"added": 1, "removed": 0, "changed": 1, "unchanged": 3}
    changed, added = result["segments"]
    assert (changed["type"], changed["from_index"], changed["to_index"], changed["fields"]) == (
        "changed", 2, 2, ["end", "text"])
    assert changed["text_ops"] == [{"op": "equal", "before": "那时候", "after": "那时候"},
                                   {"op": "delete", "before": "日子很苦。", "after": ""}]
    assert (added["type"], added["from_index"], added["to_index"], added["after"]) == ("added", None, 3, split[3])

    merged = diff_segments(split, REVISION)
    assert merged["stats"] == {"added": 0, "removed": 1, "changed": 1, "unchanged": 3}
    assert [(e["type"], e["from_index"], e["to_index"]) for e in merged["segments"]] == [
        ("changed", 2, 2), ("removed", 3, None)]


def test_fields_other_than_text_are_named_without_text_ops() -> None:
    after = copy.deepcopy(REVISION)
    after[3]["speaker"] = "SPEAKER_1"
    after[1]["flagged"] = False
    result = diff_segments(REVISION, after)
    assert [(e["from_index"], e["fields"], e["text_ops"]) for e in result["segments"]] == [
        (1, ["flagged"], []), (3, ["speaker"], [])]


def test_text_ops_rebuild_both_texts() -> None:
    before, after = "那时候日子很苦。", "那时候的日子很苦很苦！"
    ops = text_ops(before, after)
    assert "".join(op["before"] for op in ops) == before
    assert "".join(op["after"] for op in ops) == after
    assert [op for op in ops if op["op"] != "equal"] == [
        {"op": "insert", "before": "", "after": "的"}, {"op": "replace", "before": "。", "after": "很苦！"}]
    assert text_ops("", "") == [] and text_ops("", "好") == [{"op": "insert", "before": "", "after": "好"}]
