"""media.ocr without a model: the clean-up of recognised Chinese lines, reading order, Tesseract's TSV, PDF text."""

from __future__ import annotations

from pathlib import Path

import pytest

from media import ocr
from media.errors import CorruptMedia, UnsupportedMedia
from tests.support import documents


def _line(text: str, x0: float, y0: float, x1: float, y1: float) -> ocr.OcrLine:
    return ocr.OcrLine(text, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), 0.9)


@pytest.mark.parametrize("raw, kept", [
    ("二O二三年十二月", "二〇二三年十二月"),      # Latin O read for the zero of a Chinese year
    ("一九九O年", "一九九〇年"),
    ("二OO五年", "二〇〇五年"),
    ("荣 誉 证 书", "荣誉证书"),                   # spaces an engine put between Chinese characters
    ("被评为 “优秀志愿者 ”", "被评为“优秀志愿者”"),
    ("優秀誌願者", "优秀志愿者"),                   # Simplified output
    ("第10号 Room 3O2", "第10号 Room 3O2"),         # Latin text and Arabic numerals stay as they are
    ("\x0c  \n", ""),
])
def test_recognised_lines_are_tidied(raw: str, kept: str) -> None:
    assert ocr.tidy_text(raw) == kept


def test_columns_are_read_one_after_the_other() -> None:
    left = [_line(f"左{i}", 60, 100 + 50 * i, 560, 134 + 50 * i) for i in range(4)]
    right = [_line(f"右{i}", 700, 100 + 50 * i, 1200, 134 + 50 * i) for i in range(4)]
    headline = _line("标题", 60, 20, 1200, 70)
    ordered = ocr._reading_order([*reversed(right), *left, headline])
    assert [line.text for line in ordered] == ["标题", "左0", "左1", "左2", "左3", "右0", "右1", "右2", "右3"]


def test_a_row_is_read_left_to_right() -> None:
    ordered = ocr._reading_order([_line("二〇二三年", 800, 500, 1000, 540), _line("日期：", 600, 502, 700, 538),
                                  _line("证书", 600, 100, 800, 160)])
    assert [line.text for line in ordered] == ["证书", "日期：", "二〇二三年"]


def test_tesseract_words_become_lines() -> None:
    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "5\t1\t1\t1\t1\t1\t100\t50\t40\t40\t96.5\t荣誉\n"
           "5\t1\t1\t1\t1\t2\t145\t52\t40\t40\t91.5\t证书\n"
           "5\t1\t1\t1\t2\t1\t100\t120\t30\t30\t12.0\t~\n"
           "5\t1\t2\t1\t1\t1\t100\t200\t300\t30\t88.0\t王秀英同志\n")
    lines = ocr._reading_order(ocr.TesseractEngine()._lines(tsv))
    assert [(line.text, line.box[0], line.box[2]) for line in lines] == [
        ("荣誉证书", (100, 50), (185, 92)), ("王秀英同志", (100, 200), (400, 230))]
    assert lines[0].confidence == pytest.approx(0.94)


def test_pdf_pages_without_an_engine_keep_their_text_layer_and_leave_scans_empty(tmp_path: Path) -> None:
    layered = tmp_path / "layered.pdf"
    documents.text_layer_pdf(layered, [["第一页", "第二行"], []])
    pages = ocr.pdf_pages(layered, None)
    assert [(page.number, page.source, page.text) for page in pages] == [(1, "text_layer", "第一页\n第二行"),
                                                                          (2, "text_layer", "")]
    assert ocr.full_text(page.text for page in pages) == "第一页\n第二行"


def test_damaged_files_and_other_kinds_are_refused_clearly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(CorruptMedia):
        ocr.ocr_image(broken, ocr.engine_named("tesseract"))
    with pytest.raises(UnsupportedMedia):
        ocr.extract_text(broken, "audio", ocr.engine_named("tesseract"))
    with pytest.raises(UnsupportedMedia):
        ocr.engine_named("abbyy")


def test_a_centred_title_above_a_short_line_is_not_read_as_a_column() -> None:
    title = _line("荣誉证书", 600, 120, 1000, 230)
    name = _line("王秀英同志：", 170, 330, 450, 380)
    body = _line("在二〇二三年度社区志愿服务工作中表现突出，", 260, 430, 1300, 480)
    issuer = _line("文明办", 1100, 850, 1400, 900)
    ordered = ocr._reading_order([issuer, body, name, title])
    assert [line.text for line in ordered] == ["荣誉证书", "王秀英同志：", "在二〇二三年度社区志愿服务工作中表现突出，",
                                               "文明办"]
