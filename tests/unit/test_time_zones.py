"""Time zones come from the pinned tzdata package, never from the host (issue 13).

Kazakhstan moved to one zone, UTC+5, on 1 March 2024 (tzdata 2024a). A host with older
data would put most of the country at UTC+6 and shift every voting-day window by an hour.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import subprocess
import sys
import tomllib
import zoneinfo
from importlib import resources
from pathlib import Path

import pytest

import service  # noqa: F401 - the import that sets zoneinfo's search path
from service.domain.window import registration_window
from tests.unit.factories import ELECTION, precinct

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
VOTING_DAY_2027 = dt.date(2027, 3, 21)
assert ELECTION.voting_day == VOTING_DAY_2027
# Astana keeps Almaty's zone: there is no Asia/Astana in the IANA database.
CITIES = {
    "Almaty": "Asia/Almaty",
    "Astana": "Asia/Almaty",
    "Oral": "Asia/Oral",
    "Aqtobe": "Asia/Aqtobe",
}
UTC_PLUS_5 = dt.timedelta(hours=5)


def test_zoneinfo_searches_no_host_directory_once_the_service_is_imported() -> None:
    assert zoneinfo.TZPATH == ()


def test_the_installed_tzdata_is_the_one_pyproject_pins() -> None:
    pins = tomllib.loads(PYPROJECT.read_text("utf-8"))["project"]["dependencies"]
    assert f"tzdata=={importlib.metadata.version('tzdata')}" in pins


@pytest.mark.parametrize("city", list(CITIES))
def test_almaty_astana_oral_and_aqtobe_are_utc_plus_5_on_a_2027_voting_day(city: str) -> None:
    zone = zoneinfo.ZoneInfo(CITIES[city])
    for hour in (0, 7, 20, 23):
        local = dt.datetime.combine(VOTING_DAY_2027, dt.time(hour), tzinfo=zone)
        assert local.utcoffset() == UTC_PLUS_5
    # Service B's window there: 07:00-20:00 local is 02:00-15:00 UTC.
    window = registration_window(ELECTION, precinct("75-0001", timezone=CITIES[city]))
    assert window.opens_at == dt.datetime(2027, 3, 21, 2, 0, tzinfo=dt.UTC)
    assert window.closes_at == dt.datetime(2027, 3, 21, 15, 0, tzinfo=dt.UTC)


_OFFSETS = (
    "import datetime as dt, zoneinfo{extra}\n"
    "day = dt.datetime(2027, 3, 21, 12)\n"
    "print(' '.join(str(day.replace(tzinfo=zoneinfo.ZoneInfo(k)).utcoffset()) for k in {keys!r}))"
)


def _offsets_with_host_data(host_tzpath: Path, *, import_service: bool) -> str:
    code = _OFFSETS.format(
        extra=", service" if import_service else "", keys=sorted(set(CITIES.values()))
    )
    env = {**os.environ, "PYTHONTZPATH": str(host_tzpath)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_a_host_whose_tz_data_is_older_than_2024a_does_not_move_kazakhstan(
    tmp_path: Path,
) -> None:
    # A host database that still has Kazakhstan at UTC+6: Dhaka's zone (UTC+6 all year)
    # under Kazakhstan's names, first on the system search path.
    stale = tmp_path / "zoneinfo"
    (stale / "Asia").mkdir(parents=True)
    utc_plus_6 = resources.files("tzdata.zoneinfo").joinpath("Asia", "Dhaka").read_bytes()
    for key in set(CITIES.values()):
        (stale / key).write_bytes(utc_plus_6)

    # The stale data is what zoneinfo finds by default: the trap is real...
    assert _offsets_with_host_data(stale, import_service=False) == "6:00:00 6:00:00 6:00:00"
    # ...and the service does not fall into it.
    assert _offsets_with_host_data(stale, import_service=True) == "5:00:00 5:00:00 5:00:00"
