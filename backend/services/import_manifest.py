"""The import manifest (CSV or XLSX): its columns in Chinese and English, reading it row by row, and turning each
cell into a checked value, with every problem named by row and column as a spreadsheet shows them."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import openpyxl

from backend.models import ACCESS_LEVELS, CATEGORIES, LINK_ROLES
from backend.models.person import CATEGORY_LABELS, GENDERS
from backend.services.identity import (gb11643_check_digit, mask_id_number, mask_phone, normalise_id_number,
                                       normalise_phone, validate_partial_date)
from backend.services.text import INVALID_CHARACTER_MESSAGE, invalid_character

CHINA_TIME = timezone(timedelta(hours=8))
ROW_TYPES = ("person", "interview", "file")
MAX_PROBLEMS = 5000  # a report of a badly broken manifest stays readable; the count says how many more there were


@dataclass(frozen=True)
class Column:
    """One manifest column: its English key, its Chinese header, the row types it applies to, other accepted names."""

    key: str
    chinese: str
    applies_to: tuple[str, ...]
    help: str
    aliases: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        return f"{self.chinese}/{self.key}"


_ALL = ROW_TYPES
COLUMNS: tuple[Column, ...] = (
    Column("type", "类型", _ALL, "人物/person, 访谈/interview or 文件/file", ("行类型", "row_type")),
    Column("ref", "编号", _ALL, "the row's own reference, unique in the manifest (e.g. P001); other rows name it",
           ("序号", "档案编号", "id")),
    Column("project", "项目", ("interview", "file"), "collection project (采集项目): its id or its exact title",
           ("采集项目", "专题")),
    # persons
    Column("name", "姓名", ("person",), "full name", ("名字",)),
    Column("category", "类别", ("person",), "好人/good_person, 名家/notable, 乡贤/local_worthy", ("分类", "人物类别")),
    Column("aliases", "别名", ("person",), "other names, separated by ；、; or ,", ("字号", "曾用名")),
    Column("gender", "性别", ("person",), "男/male, 女/female, 其他/other, 不详/unknown"),
    Column("ethnicity", "民族", ("person",), "e.g. 汉族"),
    Column("birth_date", "出生日期", ("person",), "1938, 1938-05, 1938-05-12 (also 1938年5月12日, 1938/5/12)",
           ("出生年月", "生日")),
    Column("death_date", "去世日期", ("person",), "as birth_date", ("逝世日期",)),
    Column("native_place", "籍贯", ("person",), "place of origin"),
    Column("district", "区县", ("person",), "district or county", ("区/县", "县区")),
    Column("town", "镇街", ("person",), "town or subdistrict", ("镇/街道", "乡镇", "街道")),
    Column("village", "村社区", ("person",), "village or community", ("村/社区", "村", "社区")),
    Column("occupation", "职业", ("person",), "occupation", ("职务",)),
    Column("biography", "生平", ("person",), "biography (Markdown)", ("简介", "人物简介", "事迹")),
    Column("honours", "荣誉", ("person",), "honours separated by ；, each optionally starting with its year: "
           "2019 江苏好人；2021 全国道德模范", ("荣誉称号",)),
    Column("tags", "标签", ("person",), "tags separated by ；、; or ,"),
    Column("id_number", "身份证号", ("person",), "18-digit resident ID (GB 11643 check digit; 15-digit ones are "
           "converted)", ("身份证", "身份证号码", "公民身份号码")),
    Column("phone", "电话", ("person",), "phone number", ("手机", "联系电话", "手机号")),
    Column("address", "地址", ("person",), "address", ("住址", "联系地址")),
    # interviews
    Column("title", "标题", ("interview", "file"), "title", ("题名", "名称")),
    Column("date", "日期", ("interview",), "interview date, as birth_date", ("访谈日期", "采访日期")),
    Column("place", "地点", ("interview", "file"), "where it was recorded or taken", ("采访地点", "拍摄地点")),
    Column("interviewers", "采访人", ("interview",), "interviewers, separated by ；、; or ,", ("采访者", "采集人")),
    Column("language", "语言", ("interview",), "e.g. 普通话, 连云港方言", ("方言",)),
    Column("interviewees", "受访人", ("interview",), "refs of person rows, separated by ；、; or ,",
           ("受访者", "口述者")),
    Column("notes", "备注", ("interview",), "notes", ("说明",)),
    # files
    Column("path", "文件", ("file",), "path of the file inside the directory or zip (/ or \\ between folders)",
           ("文件路径", "路径", "文件名", "file")),
    Column("description", "描述", ("file",), "description", ("内容描述", "摘要")),
    Column("captured_at", "拍摄时间", ("file",), "when it was recorded or taken: 2003-05-01 or "
           "2003-05-01 14:30 (China time unless an offset is given)", ("录制时间", "形成时间", "时间")),
    Column("device", "设备", ("file",), "recording device", ("拍摄设备",)),
    Column("persons", "人物", ("file",), "refs of person rows the file is about, separated by ；、; or ,",
           ("相关人物",)),
    Column("role", "关联角色", ("file",), "how those persons relate to it: 受访人/interviewee, 传主/subject (default), "
           "提及/mentioned, 捐赠人/donor, 证书/certificate, 采访人/interviewer, 摄影/photographer, 其他/other",
           ("角色",)),
    Column("interview", "访谈", ("file",), "ref of the interview row it was recorded in", ("所属访谈",)),
    Column("access_level", "开放级别", ("file",), "开放/open, 限制/restricted (default), 封闭/closed",
           ("开放等级", "密级")),
    Column("embargo_until", "限制期至", ("file",), "date until which it stays closed to the public",
           ("解禁日期",)),
    Column("sha256", "sha256", ("file",), "expected SHA-256 (from an earlier system): checked", ("校验值", "SHA-256")),
)
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}

TYPE_NAMES = {"人物": "person", "person": "person", "访谈": "interview", "interview": "interview",
              "文件": "file", "file": "file", "资料": "file", "material": "file"}
CATEGORY_NAMES = {**{label: key for key, label in CATEGORY_LABELS.items()}, **{key: key for key in CATEGORIES}}
GENDER_NAMES = {"男": "male", "女": "female", "其他": "other", "不详": "unknown", "未知": "unknown",
                **{key: key for key in GENDERS}}
ROLE_NAMES = {"受访人": "interviewee", "传主": "subject", "本人": "subject", "提及": "mentioned", "捐赠人": "donor",
              "捐赠者": "donor", "证书": "certificate", "采访人": "interviewer", "摄影": "photographer",
              "摄影者": "photographer", "其他": "other", **{key: key for key in LINK_ROLES}}
ACCESS_NAMES = {"开放": "open", "公开": "open", "限制": "restricted", "控制": "restricted", "封闭": "closed",
                "不开放": "closed", **{key: key for key in ACCESS_LEVELS}}
_LIST_SPLIT = re.compile(r"[;；、,，\n]+")
_HONOUR_YEAR = re.compile(r"^(\d{4})\s*年?\s*(.+)$")
_CHINESE_DATE = re.compile(r"^(\d{4})\s*年(?:\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日?)?)?$")
_SLASH_DATE = re.compile(r"^(\d{4})[./](\d{1,2})(?:[./](\d{1,2}))?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _fold(header: str) -> str:
    """A header as compared: NFKC (full-width letters and ／ become plain), no spaces, lower case."""
    return "".join(unicodedata.normalize("NFKC", header).split()).lower()


def _header_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for column in COLUMNS:
        for name in (column.key, column.chinese, *column.aliases):
            names[_fold(name)] = column.key
        for pair in (f"{column.chinese}/{column.key}", f"{column.key}/{column.chinese}",
                     f"{column.chinese}({column.key})"):
            names[_fold(pair)] = column.key
    return names


HEADER_NAMES = _header_names()


@dataclass
class Problem:
    """One thing wrong (error: the run will not start) or worth knowing (warning) about the manifest."""

    row: int | None
    column: str | None
    code: str
    message: str
    severity: str = "error"
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code, "severity": self.severity,
                "message": self.message, "value": self.value}


@dataclass
class Report:
    """Every problem found, in the order found (the manifest's order), at most MAX_PROBLEMS of them kept."""

    problems: list[Problem] = field(default_factory=list)
    errors: int = 0
    warnings: int = 0

    def add(self, problem: Problem) -> None:
        if problem.severity == "error":
            self.errors += 1
        else:
            self.warnings += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def error(self, row: int | None, column: str | None, code: str, message: str, value: Any = None) -> None:
        self.add(Problem(row, column, code, message, "error", None if value is None else str(value)[:200]))

    def warning(self, row: int | None, column: str | None, code: str, message: str, value: Any = None) -> None:
        self.add(Problem(row, column, code, message, "warning", None if value is None else str(value)[:200]))

    @property
    def truncated(self) -> bool:
        return self.errors + self.warnings > len(self.problems)


@dataclass
class ManifestRow:
    """A data row: its spreadsheet row number, its cells by column key (text, or a date/number from XLSX) and the
    header each key was read from (for problem reports)."""

    number: int
    cells: dict[str, Any]
    headers: dict[str, str]

    def header(self, key: str) -> str:
        return self.headers.get(key) or COLUMNS_BY_KEY[key].header


# --- reading ----------------------------------------------------------------------------------------------------

class ManifestUnreadable(ValueError):
    """The file is not a CSV or XLSX manifest that can be read at all (message in Chinese)."""


def _decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM, as Excel writes it), else GB 18030 (what Chinese Windows Excel saves as CSV)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ManifestUnreadable("清单不是 UTF-8 或 GB18030 编码的 CSV 文件")


def _csv_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    text = _decode_csv(path.read_bytes())  # a manifest is text of a few MB at most
    dialect: Any = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        pass
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    number = 0
    for record in reader:
        number += 1
        yield number, record


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any damage in the zip or its XML is one answer
        raise ManifestUnreadable(f"无法读取 Excel 文件：{type(exc).__name__}") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
            yield number, list(values)
    finally:
        workbook.close()


def manifest_format(name: str, head: bytes) -> str:
    """``xlsx`` (a zip, whatever the name) or ``csv``."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if name.lower().endswith((".xlsx", ".xlsm")):
        raise ManifestUnreadable("扩展名为 .xlsx，但内容不是 Excel 文件")
    return "csv"


def read_manifest(path: Path, report: Report) -> list[ManifestRow]:
    """The data rows of the manifest at ``path``; problems with its header go into ``report``."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    rows_of = _xlsx_rows if manifest_format(path.name, head) == "xlsx" else _csv_rows
    records = rows_of(path)
    header_cells: list[Any] = []
    header_number = 0
    for header_number, header_cells in records:
        if any(_text(cell) for cell in header_cells):
            break
    else:
        raise ManifestUnreadable("清单是空的：没有表头")
    keys: list[str | None] = []
    headers: dict[str, str] = {}
    for index, cell in enumerate(header_cells):
        header = _text(cell)
        key = HEADER_NAMES.get(_fold(header)) if header else None
        if header and key is None:
            report.error(header_number, header, "unknown_column",
                         f"未知的列“{header}”；可用的列见说明（如 姓名/name、类别/category）", header)
        elif key is not None and key in headers:
            report.error(header_number, header, "duplicate_column", f"列“{header}”与“{headers[key]}”重复", header)
            key = None
        if key is not None:
            headers[key] = header
        keys.append(key)
    for required in ("type", "ref"):
        if required not in headers:
            report.error(header_number, COLUMNS_BY_KEY[required].header, "missing_column",
                         f"缺少必需的列“{COLUMNS_BY_KEY[required].header}”")
    rows = []
    for number, cells in records:
        values = {key: cell for key, cell in zip(keys, cells) if key is not None and _text(cell)}
        if len(cells) > len(keys) and any(_text(cell) for cell in cells[len(keys):]):
            report.error(number, None, "cell_without_header", "该行有内容超出了表头的列", None)
        if values:
            rows.append(ManifestRow(number, values, headers))
    return rows


# --- cells --------------------------------------------------------------------------------------------------------

def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return str(cell).strip()


class CellError(ValueError):
    """A cell's value is wrong: ``code`` and a Chinese message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def text(cell: Any, limit: int) -> str:
    value = _text(cell)
    if invalid_character(value) is not None:
        raise CellError("invalid_character", INVALID_CHARACTER_MESSAGE)
    if len(value) > limit:
        raise CellError("too_long", f"超过 {limit} 个字符")
    return unicodedata.normalize("NFC", value)


def text_list(cell: Any, limit: int, max_items: int = 50) -> list[str]:
    items = [item.strip() for item in _LIST_SPLIT.split(text(cell, 100_000)) if item.strip()]
    if len(items) > max_items:
        raise CellError("too_many", f"最多 {max_items} 项")
    for item in items:
        if len(item) > limit:
            raise CellError("too_long", f"“{item[:20]}…”超过 {limit} 个字符")
    return list(dict.fromkeys(items))


def choice(cell: Any, names: dict[str, str], what: str) -> str:
    value = _text(cell)
    found = names.get(value) or names.get(value.lower())
    if found is None:
        shown = "、".join(sorted({k for k in names if not k.isascii()})) or ", ".join(sorted(set(names.values())))
        raise CellError(f"unknown_{what}", f"未知的取值“{value}”；可用：{shown}（或英文 "
                        f"{', '.join(sorted(set(names.values())))}）")
    return found


def partial_date(cell: Any) -> str:
    """YYYY, YYYY-MM or YYYY-MM-DD from a text, an Excel date or a bare year number."""
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    value = unicodedata.normalize("NFKC", _text(cell))
    match = _CHINESE_DATE.match(value) or _SLASH_DATE.match(value)
    if match:
        year, month, day = match.groups()
        value = year + (f"-{int(month):02d}" if month else "") + (f"-{int(day):02d}" if day else "")
    try:
        return validate_partial_date(value)
    except ValueError as exc:
        raise CellError("bad_date", f"日期无效：{exc}") from None


def full_date(cell: Any) -> date:
    value = partial_date(cell)
    if len(value) != 10:
        raise CellError("bad_date", "须为完整日期 YYYY-MM-DD")
    return date.fromisoformat(value)


def moment(cell: Any) -> str:
    """An ISO 8601 time with offset: naive times (and bare dates) are China Standard Time."""
    if isinstance(cell, datetime):
        return (cell if cell.tzinfo else cell.replace(tzinfo=CHINA_TIME)).isoformat()
    if isinstance(cell, date):
        return datetime.combine(cell, time(), CHINA_TIME).isoformat()
    value = unicodedata.normalize("NFKC", _text(cell)).replace("/", "-")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            return datetime.combine(full_date(cell), time(), CHINA_TIME).isoformat()
        except CellError:
            raise CellError("bad_date", "时间格式应为 2003-05-01 或 2003-05-01 14:30（可带时区）") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TIME)).isoformat()


def id_number(cell: Any) -> tuple[str, bool]:
    """An 18-character GB 11643 number; a 15-digit first-generation one is converted (returns (number, converted))."""
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        raise CellError("id_number_as_number", "身份证号被 Excel 存成了数字（末几位已丢失）：请把该列设为“文本”后重新填写")
    value = unicodedata.normalize("NFKC", _text(cell)).upper()
    converted = False
    if re.fullmatch(r"\d{15}", value):
        first17 = value[:6] + "19" + value[6:]
        value, converted = first17 + gb11643_check_digit(first17), True
    try:
        return normalise_id_number(value), converted
    except ValueError as exc:
        raise CellError("bad_id_number", str(exc)) from None


def phone(cell: Any) -> str:
    try:
        return normalise_phone(_text(cell))
    except ValueError as exc:
        raise CellError("bad_phone", str(exc)) from None


def honours(cell: Any) -> list[dict[str, Any]]:
    result = []
    for item in text_list(cell, 255, max_items=100):
        match = _HONOUR_YEAR.match(item)
        if match and 1000 <= int(match.group(1)) <= 2999:
            result.append({"title": match.group(2).strip(), "year": int(match.group(1)), "conferred_by": None})
        else:
            result.append({"title": item, "year": None, "conferred_by": None})
    return result


def sha256(cell: Any) -> str:
    value = _text(cell).lower()
    if not _SHA256.match(value):
        raise CellError("bad_sha256", "SHA-256 应为 64 位十六进制")
    return value


def shown_value(key: str, cell: Any) -> str:
    """A cell's value as a problem report may show it: personal data masked."""
    value = _text(cell)
    if key == "id_number":
        return mask_id_number(value) or ""
    if key == "phone":
        return mask_phone(value) or ""
    if key == "address":
        return value[:2] + "****" if value else ""
    return value[:200]
