"""Chinese identity data: GB 11643 resident ID numbers, phone numbers, partial dates, and masking for display."""

from __future__ import annotations

import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(r"^\+?[\d\- ]{5,20}$")
_PARTIAL_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def gb11643_check_digit(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def normalise_id_number(value: str) -> str:
    """Return the upper-cased 18-character ID number, or raise ValueError with a readable reason."""
    number = value.strip().upper()
    if not _ID_RE.match(number):
        raise ValueError("身份证号码应为18位（最后一位可为X）")
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError("身份证号码中的出生日期无效") from None
    if gb11643_check_digit(number[:17]) != number[17]:
        raise ValueError("身份证号码校验位错误")
    return number


def normalise_phone(value: str) -> str:
    phone = value.strip()
    if not _PHONE_RE.match(phone) or sum(ch.isdigit() for ch in phone) < 5:
        raise ValueError("电话号码格式无效")
    return phone


def validate_partial_date(value: str) -> str:
    """Accept ``1938``, ``1938-05`` or ``1938-05-12`` (dates of old people are often known only in part)."""
    match = _PARTIAL_DATE_RE.match(value.strip())
    if not match:
        raise ValueError("日期格式应为 YYYY、YYYY-MM 或 YYYY-MM-DD")
    year, month, day = match.groups()
    try:
        if day:
            date(int(year), int(month), int(day))
        elif month and not 1 <= int(month) <= 12:
            raise ValueError
    except ValueError:
        raise ValueError("日期不存在") from None
    return match.group(0)


def mask_id_number(number: str | None) -> str | None:
    if not number:
        return number
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


# A mobile number (11 digits, more with a country code) shows its first 3 and last 4 digits: 138****5678. A shorter
# one (a 7- or 8-digit landline, a 10-digit number) would show nearly all of itself that way, so it shows its last
# 2 only (*****78), and one of 6 digits or fewer shows none.
_PHONE_FULL_DIGITS = 11
_PHONE_SHORT_TAIL = 2
_PHONE_MIN_WITH_TAIL = 7


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    digits = [i for i, ch in enumerate(phone) if ch.isdigit()]
    if len(digits) >= _PHONE_FULL_DIGITS:
        keep = set(digits[:3]) | set(digits[-4:])
    elif len(digits) >= _PHONE_MIN_WITH_TAIL:
        keep = set(digits[-_PHONE_SHORT_TAIL:])
    else:
        keep = set()
    return "".join(ch if (i in keep or not ch.isdigit()) else "*" for i, ch in enumerate(phone))


def mask_address(address: str | None) -> str | None:
    if not address:
        return address
    visible = min(6, max(1, len(address) // 3))
    return address[:visible] + "****"
