"""OCR benchmark: character accuracy and seconds per page of each engine on generated Chinese documents.

Usage:  .venv/bin/python bench/ocr_bench.py [--engines rapidocr tesseract] [--repeats 3] [--threads N]

The documents (tests/support/documents.py) are drawn with Debian's Chinese font and photographed as a phone would
(turned a little on a table, JPEG): a 荣誉证书 certificate with a red seal over the date, a family letter on ruled
paper, newspaper-like columns, the certificate again as a poor photo (blurred, dim, noisy, 45% JPEG quality), and a
two-page scanned PDF (the letter and a blank sheet, rendered at 200 dpi as the job does). Accuracy is 1 − CER on
Simplified text with punctuation and spaces ignored (transcription.cer), in reading order: a newspaper read
across its columns scores badly. Seconds per page: the median of ``--repeats`` runs after one warm-up run (the
first run's extra time, loading models, is shown as ``load s``), as wall-clock seconds and as CPU seconds of this
process and its children (all threads, Tesseract's subprocess included), which say more than the wall clock on a
machine shared with other work. The reference, measured in the same run, is the
PDF text layer of a two-page document read through the same code (media.ocr.pdf_pages): what a PDF costs when
no OCR is needed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from media import ocr  # noqa: E402
from tests.support import documents  # noqa: E402


def _documents(folder: Path) -> list[tuple[str, Path, str, str]]:
    """(name, path, kind, reference text) of each generated document."""
    made = []
    for name, draw in (("certificate", documents.certificate), ("letter", documents.letter),
                       ("newspaper", documents.newspaper), ("poor phone photo", documents.phone_photo)):
        path = folder / f"{name.replace(' ', '_')}.jpg"
        made.append((name, path, "image", draw(path)))
    letter = folder / "scan_page1.jpg"
    truth = documents.letter(letter)
    blank = folder / "scan_page2.jpg"
    documents.blank_page_image(blank)
    scan = folder / "scan.pdf"
    documents.scanned_pdf(scan, [letter, blank])
    made.append(("scanned PDF, 2 pages", scan, "document", truth))
    return made


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _timed(run: Callable[[], Any], repeats: int) -> tuple[Any, float, float, float]:
    """(result, first run's seconds, median wall seconds and median CPU seconds of ``repeats`` later runs)."""
    start = time.perf_counter()
    result = run()
    first = time.perf_counter() - start
    wall, cpu = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), _cpu()
        result = run()
        wall.append(time.perf_counter() - start)
        cpu.append(_cpu() - cpu_start)
    return result, first, statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=list(ocr.ENGINES), choices=list(ocr.ENGINES))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="liufang-ocr-bench-") as tmp:
        folder = Path(tmp)
        docs = _documents(folder)
        reference_pdf = folder / "text_layer.pdf"
        documents.text_layer_pdf(reference_pdf, [documents.LETTER_LINES[:5], documents.LETTER_LINES[5:]])
        pages, _, reference_s, _ = _timed(lambda: ocr.pdf_pages(reference_pdf, None), args.repeats)
        reference_text = ocr.full_text(page.text for page in pages)
        reference_accuracy = documents.character_accuracy("\n".join(documents.LETTER_LINES), reference_text)

        print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"reference: PDF text layer, 2 pages: {reference_s / 2 * 1000:.1f} ms per page, "
              f"accuracy {reference_accuracy:.1%}\n")
        header = f"{'engine':<10} {'document':<22} {'accuracy':>9} {'s/page':>8} {'CPU s/page':>11} {'load s':>7}"
        print(header)
        print("-" * len(header))
        summary: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for name in args.engines:
            engine = ocr.engine_named(name)
            accuracies, seconds, cpu_seconds = summary.setdefault(name, ([], [], []))
            for label, path, kind, truth in docs:
                pages, first, median, cpu = _timed(lambda: ocr.extract_text(path, kind, engine), args.repeats)
                text = ocr.full_text(page.text for page in pages)
                accuracy = documents.character_accuracy(truth, text)
                per_page = median / len(pages)
                accuracies.append(accuracy)
                seconds.append(per_page)
                cpu_seconds.append(cpu / len(pages))
                print(f"{name:<10} {label:<22} {accuracy:>9.1%} {per_page:>8.2f} {cpu / len(pages):>11.2f} "
                      f"{first - median:>7.2f}")
        print()
        for name, (accuracies, seconds, cpu_seconds) in summary.items():
            print(f"{name:<10} mean accuracy {statistics.mean(accuracies):.1%}, worst {min(accuracies):.1%}, "
                  f"mean {statistics.mean(seconds):.2f} s ({statistics.mean(cpu_seconds):.2f} CPU s) per page")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
