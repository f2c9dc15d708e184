"""The printable-document helper: Chinese HTML for the browser and the same page as a PDF whose text is Chinese."""

from __future__ import annotations

import pypdfium2
import pytest

from backend.services import printable


def test_html_escapes_and_keeps_chinese() -> None:
    html = printable.render_html("document.html", heading="四性检测报告", meta=[("档号", "LYG-KS-2026-0001")],
                                 tables=[{"caption": "检测结果", "columns": ["项目", "结果"], "rows": [("真实性", "<b>通过</b>")]}])
    assert '<html lang="zh-CN">' in html
    assert "四性检测报告" in html and "&lt;b&gt;通过&lt;/b&gt;" in html


@pytest.mark.skipif(not printable.cjk_font_installed(), reason="no Chinese font (scripts/install-system-deps)")
def test_pdf_holds_the_chinese_text() -> None:
    pdf = printable.render_pdf("document.html", heading="四性检测报告", tables=[
        {"caption": "", "columns": ["项目", "结果"], "rows": [("真实性", "通过"), ("完整性", "未通过")]}])
    assert pdf.startswith(b"%PDF-")
    document = pypdfium2.PdfDocument(pdf)
    text = document[0].get_textpage().get_text_range()
    assert "四性检测报告" in text and "完整性" in text and "未通过" in text
    assert "第 1 页，共 1 页" in text
