"""Transcript exports: SRT, WebVTT, plain text, JSON and Word (.docx) with an archive metadata table."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from transcription.base import Segment

MACHINE_LABEL = "机器生成，未经审核"
CJK_FONT = "SimSun"  # 宋体; Word falls back to any installed CJK font

#: Metadata fields shown in the .docx header table, in order, with their Chinese labels.
DOCX_FIELDS: tuple[tuple[str, str], ...] = (
    ("title", "标题"),
    ("archival_code", "档号"),
    ("interviewee", "受访者"),
    ("interviewer", "采访者"),
    ("date", "日期"),
    ("place", "地点"),
    ("language", "语言"),
    ("engine", "转写引擎/模型"),
)

SegmentLike = Segment | Mapping[str, Any]

#: Characters outside XML 1.0's Char production: C0 controls but tab, newline and carriage return, lone
#: surrogates, U+FFFE and U+FFFF. A .docx (XML inside) cannot hold them; the API refuses them at input and the
#: Word export drops any that older data still holds.
XML_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` without the characters XML cannot hold."""
    return XML_INVALID_CHARS.sub("", text)


@dataclass(frozen=True)
class _Cue:
    index: int
    start: float
    end: float
    text: str
    speaker: str | None


def _cues(segments: Iterable[SegmentLike]) -> list[_Cue]:
    """Non-empty segments as cues, numbered from 1, text on one line, end never before start."""
    cues = []
    for seg in segments:
        get = seg.get if isinstance(seg, Mapping) else lambda k, d=None, s=seg: getattr(s, k, d)
        text = re.sub(r"\s*\n\s*", " ", str(get("text", "") or "")).strip()
        if not text:
            continue
        start = max(0.0, float(get("start", 0.0)))
        end = max(start, float(get("end", start)))
        cues.append(_Cue(len(cues) + 1, start, end, text, get("speaker")))
    return cues


def _clock(seconds: float, separator: str) -> str:
    ms = int(round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def to_srt(segments: Iterable[SegmentLike]) -> str:
    """SubRip; a speaker is written as a "Name: " prefix."""
    blocks = []
    for cue in _cues(segments):
        text = f"{cue.speaker}: {cue.text}" if cue.speaker else cue.text
        blocks.append(f"{cue.index}\n{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}\n{text}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(segments: Iterable[SegmentLike]) -> str:
    """WebVTT; a speaker is written as a voice tag <v Name>."""
    blocks = ["WEBVTT\n"]
    for cue in _cues(segments):
        text = _vtt_escape(cue.text)
        if cue.speaker:
            text = f"<v {_vtt_escape(cue.speaker)}>{text}"
        blocks.append(f"{cue.index}\n{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}\n{text}\n")
    return "\n".join(blocks)


def _short_clock(seconds: float) -> str:
    return _clock(seconds, ",")[:8]


def to_txt(segments: Iterable[SegmentLike], timestamps: bool = True) -> str:
    """One line per segment: "[HH:MM:SS] Speaker: text" (or the text alone)."""
    lines = []
    for cue in _cues(segments):
        text = f"{cue.speaker}: {cue.text}" if cue.speaker else cue.text
        lines.append(f"[{_short_clock(cue.start)}] {text}" if timestamps else text)
    return "\n".join(lines) + ("\n" if lines else "")


def to_json(segments: Iterable[SegmentLike], metadata: Mapping[str, Any] | None = None) -> str:
    """{"metadata": {...}, "segments": [...]}, every field kept (emptied segments and meta included)."""
    items = [dataclasses.asdict(s) if isinstance(s, Segment) else dict(s) for s in segments]
    return json.dumps({"metadata": dict(metadata or {}), "segments": items}, ensure_ascii=False, indent=2)


def _set_cjk_font(style: Any) -> None:
    from docx.oxml.ns import qn

    style.font.name = CJK_FONT
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), CJK_FONT)


def to_docx(segments: Sequence[SegmentLike], metadata: Mapping[str, Any]) -> bytes:
    """A Word document: title, the "机器生成，未经审核" label unless metadata["machine_generated"] is false,
    a metadata table (DOCX_FIELDS; "engine" may be given as engine + model), then one timestamped
    paragraph per segment. Characters XML cannot hold are left out, so old data never breaks the export."""
    from docx import Document
    from docx.shared import Pt, RGBColor

    document = Document()
    _set_cjk_font(document.styles["Normal"])
    document.add_heading(xml_safe(str(metadata.get("title") or "")) or "口述历史转写稿", level=1)
    if metadata.get("machine_generated", True):
        run = document.add_paragraph().add_run(MACHINE_LABEL)
        run.bold = True
        run.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
    values = dict(metadata)
    if metadata.get("model") and metadata.get("engine"):
        values["engine"] = f"{metadata['engine']} / {metadata['model']}"
    rows = [(label, xml_safe(str(values[key]))) for key, label in DOCX_FIELDS if values.get(key) not in (None, "")]
    if rows:
        table = document.add_table(rows=len(rows), cols=2)
        table.style = "Table Grid"
        for row, (label, value) in zip(table.rows, rows):
            row.cells[0].text = label
            row.cells[1].text = value
    document.add_paragraph()
    for cue in _cues(segments):
        paragraph = document.add_paragraph()
        stamp = paragraph.add_run(f"[{_short_clock(cue.start)}] ")
        stamp.font.size = Pt(9)
        stamp.font.color.rgb = RGBColor(0x70, 0x70, 0x70)
        if cue.speaker:
            paragraph.add_run(f"{xml_safe(str(cue.speaker))}：").bold = True
        paragraph.add_run(xml_safe(cue.text))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
