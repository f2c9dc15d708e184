"""Generated Chinese documents for the OCR tests and bench: a certificate (荣誉证书), a letter, newspaper columns and
a poor phone photo, drawn with a Chinese font from Debian, and PDFs with and without a text layer."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from transcription.cer import cer

__all__ = ["CERTIFICATE_LINES", "blank_page_image", "blank_page_pdf", "certificate", "character_accuracy", "cjk_font", "letter",
           "newspaper", "phone_photo", "scanned_pdf", "text_layer_pdf"]

CERTIFICATE_LINES = ["荣誉证书", "王秀英同志：", "在二〇二三年度社区志愿服务工作中表现突出，",
                     "热心帮助孤寡老人，事迹感人，", "被评为“优秀志愿者”，特发此证，以资鼓励。",
                     "苏州市姑苏区精神文明建设办公室", "二〇二三年十二月二十日"]
LETTER_LINES = ["亲爱的建国：", "见字如面。家里一切都好，你不必挂念。今年春天雨水多，",
                "田里的秧苗长得很旺，你父亲腰疼的老毛病也好了许多。", "村里新修了通往镇上的水泥路，赶集方便多了。",
                "你在部队要听首长的话，好好学习，注意身体。", "天冷了记得添衣服，有空常写信回来。",
                "此致", "敬礼", "母亲 张桂兰", "一九七八年十月五日"]
NEWS_COLUMNS = [
    ["古城老街焕新颜", "本报讯 经过一年的修缮，平江路", "沿线的老宅院陆续对外开放。居民",
     "李阿婆说，她在这条街上住了六", "十多年，如今门前的河道清了，", "游客多了，日子也更有奔头。"],
    ["乡贤回乡办学堂", "退休教师陈德明回到家乡，把老", "祠堂改成了免费的图书室，每逢",
     "周末给村里的孩子们讲历史故事", "和做人的道理，已坚持了八年。"],
]


def cjk_font() -> str:
    """The file of a Chinese font installed from Debian (fonts-wqy-microhei; scripts/install-system-deps --test)."""
    found = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False).stdout
    files = sorted(line.split(":")[0].strip() for line in found.splitlines() if line.strip())
    if not files:
        raise RuntimeError("no Chinese font installed: run scripts/install-system-deps --test")
    return next((f for f in files if "wqy-microhei" in f), files[0])


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(cjk_font(), size)


def _as_phone_photo(image: Image.Image, path: Path, *, rotation: float, quality: int, blur: float = 0.0,
                    noise: int = 0, dim: float = 1.0, seed: int = 7) -> None:
    """The sheet as a phone sees it: turned a little on a darker table, a little soft, saved as a JPEG."""
    rng = random.Random(seed)
    margin = image.width // 12
    table = Image.new("RGB", (image.width + 2 * margin, image.height + 2 * margin), (96, 84, 70))
    table.paste(image, (margin, margin))
    photo = table.rotate(rotation, resample=Image.Resampling.BICUBIC, fillcolor=(96, 84, 70))
    if blur:
        photo = photo.filter(ImageFilter.GaussianBlur(blur))
    if dim != 1.0:
        photo = ImageEnhance.Brightness(photo).enhance(dim)
    if noise:
        pixels = photo.load()
        for _ in range(photo.width * photo.height // 6):
            x, y = rng.randrange(photo.width), rng.randrange(photo.height)
            r, g, b = pixels[x, y]
            delta = rng.randint(-noise, noise)
            pixels[x, y] = (max(0, min(255, r + delta)), max(0, min(255, g + delta)), max(0, min(255, b + delta)))
    photo.save(path, format="JPEG", quality=quality)


def _certificate_sheet() -> Image.Image:
    width, height = 1600, 1130
    sheet = Image.new("RGB", (width, height), (250, 245, 232))
    draw = ImageDraw.Draw(sheet)
    draw.rectangle([30, 30, width - 30, height - 30], outline=(178, 34, 34), width=14)
    draw.rectangle([56, 56, width - 56, height - 56], outline=(205, 160, 60), width=4)
    draw.text((width // 2, 180), CERTIFICATE_LINES[0], font=_font(110), fill=(190, 20, 20), anchor="mm")
    body = _font(46)
    draw.text((170, 330), CERTIFICATE_LINES[1], font=body, fill=(25, 25, 25))
    for row, line in enumerate(CERTIFICATE_LINES[2:5]):
        draw.text((260, 430 + row * 90), line, font=body, fill=(25, 25, 25))
    draw.text((width - 190, 850), CERTIFICATE_LINES[5], font=body, fill=(25, 25, 25), anchor="rm")
    draw.text((width - 190, 935), CERTIFICATE_LINES[6], font=body, fill=(25, 25, 25), anchor="rm")
    # The red seal over the issuer, as on every real certificate.
    draw.ellipse([width - 560, 760, width - 320, 1000], outline=(215, 40, 40), width=8)
    return sheet


def certificate(path: Path, *, rotation: float = 3.0, quality: int = 80) -> str:
    """A printed 荣誉证书 (name, reason, issuing body, date) photographed a little askew; returns its text."""
    _as_phone_photo(_certificate_sheet(), path, rotation=rotation, quality=quality)
    return "\n".join(CERTIFICATE_LINES)


def letter(path: Path) -> str:
    """A family letter of the 1970s on ruled paper, photographed flat."""
    width, height = 1240, 1754
    sheet = Image.new("RGB", (width, height), (247, 243, 228))
    draw = ImageDraw.Draw(sheet)
    font = _font(40)
    for row in range(24):
        draw.line([(90, 200 + row * 64 + 52), (width - 90, 200 + row * 64 + 52)], fill=(200, 120, 120), width=2)
    y = 200
    for index, line in enumerate(LETTER_LINES):
        x = 120 if index in (0, 6) else 200
        if index == 7:
            x = 120
        if index >= 8:
            x = width - 120 - int(font.getlength(line))
        draw.text((x, y), line, font=font, fill=(30, 40, 90))
        y += 128 if index == 7 else 64
    _as_phone_photo(sheet, path, rotation=-1.5, quality=85)
    return "\n".join(LETTER_LINES)


def newspaper(path: Path) -> str:
    """A clipping with two columns under their headlines, on greyish newsprint."""
    width, height = 1400, 900
    sheet = Image.new("RGB", (width, height), (232, 228, 214))
    draw = ImageDraw.Draw(sheet)
    headline, body = _font(56), _font(34)
    truth = []
    for column, lines in enumerate(NEWS_COLUMNS):
        x = 60 + column * 680
        draw.text((x, 60), lines[0], font=headline, fill=(10, 10, 10))
        for row, line in enumerate(lines[1:]):
            draw.text((x, 170 + row * 52), line, font=body, fill=(35, 35, 35))
        truth.extend(lines)
    draw.line([(width // 2, 50), (width // 2, height - 50)], fill=(80, 80, 80), width=2)
    _as_phone_photo(sheet, path, rotation=1.0, quality=75)
    return "\n".join(truth)


def phone_photo(path: Path) -> str:
    """The certificate again, as a poor phone photo: more askew, blurred, dim, noisy, heavily compressed."""
    _as_phone_photo(_certificate_sheet().resize((1000, 706)), path, rotation=-5.0, quality=45, blur=1.4, noise=40,
                    dim=0.7)
    return "\n".join(CERTIFICATE_LINES)


def scanned_pdf(path: Path, images: list[Path]) -> None:
    """A PDF of page images only (a scan: no text layer)."""
    pages = [Image.open(image).convert("RGB") for image in images]
    pages[0].save(path, format="PDF", save_all=True, append_images=pages[1:], resolution=200)


def blank_page_pdf(path: Path) -> None:
    Image.new("RGB", (1654, 2339), (255, 255, 255)).save(path, format="PDF", resolution=200)


def text_layer_pdf(path: Path, pages: list[list[str]]) -> None:
    """A PDF whose pages carry real text (Adobe's STSong-Light with the UniGB-UCS2-H encoding, which every PDF
    reader knows without an embedded font), one line per entry, as a word processor would export it."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
               b"/DescendantFonts [ 2 0 R ] >>")
    add(b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /DW 1000 >>")
    pages_id = add(b"")  # filled in below
    kids = []
    for lines in pages:
        stream = [b"BT /F1 18 Tf 72 770 Td 26 TL"]
        for line in lines:
            stream.append(b"<" + line.encode("utf-16-be").hex().encode() + b"> Tj T*")
        stream.append(b"ET")
        content = b"\n".join(stream)
        content_id = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content_id, font)))
    objects[pages_id - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % kid for kid in kids)
                             + b"] /Count %d >>" % len(kids))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.7\n%\xe7\xf3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    path.write_bytes(bytes(out))


def character_accuracy(reference: str, hypothesis: str) -> float:
    """1 − character error rate (Simplified, punctuation and spaces ignored), never below 0."""
    return max(0.0, 1.0 - cer(reference, hypothesis))


def blank_page_image(path: Path) -> None:
    """An empty sheet of paper photographed: off-white, a little uneven, no text."""
    sheet = Image.new("RGB", (1240, 1754), (244, 241, 232))
    _as_phone_photo(sheet, path, rotation=0.5, quality=80, noise=6)
