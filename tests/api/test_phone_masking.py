"""Phones are masked for roles without person.read_personal_data whatever their length: a 7-digit landline shows no
more of itself than a mobile number does."""

from __future__ import annotations

import pytest

from backend.services.identity import mask_phone
from tests.api.helpers import make_person


@pytest.mark.parametrize("phone, masked", [
    ("13812345678", "138****5678"),          # a mobile number: first 3 and last 4, as before
    ("+86 138 1234 5678", "+86 1** **** 5678"),
    ("5551234", "*****34"),                  # a 7-digit local number: the last 2 only
    ("0518-5551234", "051*-***1234"),        # 11 digits with the area code
    ("62345678", "******78"),
    ("021-6234567", "***-*****67"),
    ("123456", "******"),                    # 6 digits or fewer: nothing
])
def test_every_length_hides_most_of_the_number(phone, masked):
    assert mask_phone(phone) == masked
    digits = sum(ch.isdigit() for ch in phone)
    shown = sum(a.isdigit() for a in mask_phone(phone))
    assert shown <= digits - 4, "at least four digits hidden"


@pytest.mark.parametrize("role, expected", [("collector", "*****34"), ("editor", "*****34"),
                                            ("archivist", "5551234"), ("admin", "5551234")])
def test_a_seven_digit_phone_is_masked_in_profiles_and_lists(client, auth, role, expected):
    person = make_person(client, auth("collector"), name="赵大爷", phone="5551234")
    detail = client.get(f"/api/v1/persons/{person['id']}", headers=auth(role)).get_json()
    assert detail["phone"] == expected
    listed = client.get("/api/v1/persons", headers=auth(role)).get_json()["items"]
    assert [item["phone"] for item in listed if item["id"] == person["id"]] == [expected]
