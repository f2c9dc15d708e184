"""The 档号 settings are checked at start-up: a pattern must hold exactly one {seq} and only the known fields; series
codes are kind=CODE or kind.category=CODE."""

from __future__ import annotations

import pytest

from backend.config import ConfigError, load_from_env


def test_archival_settings_parse_and_bad_ones_stop_start_up():
    values = load_from_env({"LIUFANG_ARCHIVAL_CODE_PATTERN": "{fonds}/{series}/{year}/{seq:05d}",
                            "LIUFANG_ARCHIVAL_FONDS": " J012 ",
                            "LIUFANG_ARCHIVAL_SERIES": "person=RW, interview=KS,person.notable=MJ"})
    assert values["ARCHIVAL_CODE_PATTERN"] == "{fonds}/{series}/{year}/{seq:05d}"
    assert values["ARCHIVAL_FONDS"] == "J012"
    assert values["ARCHIVAL_SERIES"] == {"person": "RW", "interview": "KS", "person.notable": "MJ"}
    defaults = load_from_env({})
    assert defaults["ARCHIVAL_CODE_PATTERN"].format(fonds="LYG", series="KS", year=2026, seq=1) == "LYG-KS-2026-0001"
    for pattern in ("{fonds}-{series}-{year}", "{seq}-{seq}", "{fonds}-{name}-{seq}", "{year:%Y}-{seq}", "{seq"):
        with pytest.raises(ConfigError, match="LIUFANG_ARCHIVAL_CODE_PATTERN"):
            load_from_env({"LIUFANG_ARCHIVAL_CODE_PATTERN": pattern})
    with pytest.raises(ConfigError, match="LIUFANG_ARCHIVAL_SERIES"):
        load_from_env({"LIUFANG_ARCHIVAL_SERIES": "person"})
