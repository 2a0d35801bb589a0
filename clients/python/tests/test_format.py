"""Formatting parity: the test vectors the TypeScript client's spec reads too (test/unit/format.spec.ts)."""

import json
from datetime import datetime
from pathlib import Path

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
