"""Printable Chinese documents: Jinja2 HTML (A4, CJK fonts, page numbers) and the same HTML as PDF (WeasyPrint)."""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates" / "printable"
#: Tried in order by the PDF renderer (fontconfig) and by the browser printing the HTML: Noto CJK
#: (fonts-noto-cjk), Source Han, WenQuanYi (fonts-wqy-microhei / -zenhei), then whatever CJK font is installed.
CJK_FONT_STACK = ('"Noto Serif CJK SC", "Noto Sans CJK SC", "Source Han Serif SC", "Source Han Sans SC", '
                  '"WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "SimSun", "Songti SC", serif')


@lru_cache(maxsize=1)
def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(("html",)),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.globals["cjk_font_stack"] = CJK_FONT_STACK
    return environment


def render_html(template_name: str, /, **context: Any) -> str:
    """A complete HTML page from ``templates/printable/<template_name>``; templates extend ``base.html``
    (blocks ``title``, ``header``, ``content``) and print on A4 with "第 N 页，共 M 页" footers."""
    return _environment().get_template(template_name).render(**context)


def html_to_pdf(html: str) -> bytes:
    """The HTML as a PDF, Chinese text embedded with a CJK font found by fontconfig."""
    # WeasyPrint needs Pango (a system library) and takes most of a second to import: only for PDFs.
    import weasyprint

    return weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf()


def render_pdf(template_name: str, /, **context: Any) -> bytes:
    return html_to_pdf(render_html(template_name, **context))


@lru_cache(maxsize=1)
def cjk_font_installed() -> bool:
    """Whether fontconfig knows a font covering Chinese (without one a PDF shows empty boxes)."""
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    return bool(listed.stdout.strip())
