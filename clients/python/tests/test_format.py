"""Formatting parity: the test vectors the TypeScript client's spec reads too (test/unit/format.spec.ts)."""

import json
import locale
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest

from lit.sdk.services.stream import format_bytes, format_timestamp

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "testdata" / "format.json").read_text())


@pytest.mark.parametrize("vector", VECTORS["bytes"], ids=lambda v: f"{v['bytes']}->{v['formatted']}")
def test_formats_bytes_as_systemctl_prints_memory(vector: dict) -> None:
    assert format_bytes(vector["bytes"]) == vector["formatted"]


@pytest.mark.parametrize("vector", VECTORS["timestamps"], ids=lambda v: f"{v['instant']}@{v['zone']}")
def test_formats_timestamps_as_systemctl_prints_times(vector: dict) -> None:
    moment = datetime.fromisoformat(vector["instant"].replace("Z", "+00:00"))
    assert format_timestamp(moment, vector["zone"]) == vector["formatted"]


ALL_WEEKDAYS = [(f"2024-07-{day:02d}T12:00:00Z", name) for day, name in zip(range(22, 29), ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))]


@pytest.mark.parametrize("instant, weekday", ALL_WEEKDAYS, ids=lambda v: str(v))
def test_weekdays_are_english_whatever_the_locale(instant: str, weekday: str, german_time_locale: None) -> None:
    # systemd prints its own English names (src/basic/time-util.c), not strftime's %a, so a German
    # LC_TIME still reads "Wed", not "Mi"; an app calling setlocale(LC_ALL, "") is not surprised.
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    assert format_timestamp(moment, "UTC") == f"{weekday} {instant[:10]} 12:00:00 UTC"


@pytest.fixture(scope="module")
def german_time_locale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """LC_TIME set to German for the test, as an app that calls setlocale(LC_ALL, "") in Germany has
    it: de_DE.UTF-8 if installed, else compiled with localedef from Debian's `locales` definitions
    into a temporary LOCPATH. Where neither can be had, the C locale (the names are checked all the
    same, but then English anyway)."""
    saved = locale.setlocale(locale.LC_TIME)
    saved_locpath = os.environ.get("LOCPATH")
    try:
        if not _set_time_locale("de_DE.UTF-8") and shutil.which("localedef") and Path("/usr/share/i18n/locales/de_DE").exists():
            locpath = tmp_path_factory.mktemp("locales")
            subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", str(locpath / "de_DE.UTF-8")], check=False, capture_output=True)
            os.environ["LOCPATH"] = str(locpath)
            _set_time_locale("de_DE.UTF-8")
        if locale.setlocale(locale.LC_TIME) == "de_DE.UTF-8":
            assert datetime(2024, 7, 24).strftime("%a") == "Mi"  # the locale is really in effect
        yield
    finally:
        locale.setlocale(locale.LC_TIME, saved)
        if saved_locpath is None:
            os.environ.pop("LOCPATH", None)
        else:
            os.environ["LOCPATH"] = saved_locpath


def _set_time_locale(name: str) -> bool:
    try:
        locale.setlocale(locale.LC_TIME, name)
        return True
    except locale.Error:
        return False
