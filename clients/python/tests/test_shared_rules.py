"""What the SDK shares with lit-streamd and the TypeScript client, held to ``clients/testdata``.

Each keeps its own constants (the SDK imports nothing of theirs); the server's and the TypeScript
client's specs (test/unit/sharedRules.spec.ts, test/unit/stateNames.spec.ts) read the same files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

import grpc
import pytest

from lit.sdk.services.stream import DEFAULT_ADDRESS, LitStreamError
from lit.sdk.services.stream import _connection, _stream
from lit.sdk.services.stream._service import to_service_status
from lit.stream.v1 import stream_pb2

TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
DEFAULTS: Dict[str, Any] = json.loads((TESTDATA / "defaults.json").read_text())
STATES: Dict[str, Dict[str, str]] = json.loads((TESTDATA / "states.json").read_text())
STATUS_CODES: Dict[str, int] = json.loads((TESTDATA / "statusCodes.json").read_text())["codes"]


def pairs(table: str) -> List[Tuple[str, str]]:
    return list(STATES[table].items())


def test_calls_lit_streamds_default_address_and_waits_the_clients_default_timeouts() -> None:
    assert DEFAULT_ADDRESS == _connection.DEFAULT_ADDRESS == DEFAULTS["address"]
    assert _connection.READ_TIMEOUT == DEFAULTS["readDeadlineSeconds"]
    assert _connection.ACTION_TIMEOUT == DEFAULTS["actionDeadlineSeconds"]


def test_status_asks_for_systemctls_log_lines() -> None:
    assert _stream.STATUS_LOG_LINES == DEFAULTS["statusLogLines"]


@pytest.mark.parametrize(
    "enum, table",
    [(stream_pb2.LoadState, "loadStates"), (stream_pb2.ActiveState, "activeStates"), (stream_pb2.UsageSource, "usageSources")],
    ids=["LoadState", "ActiveState", "UsageSource"],
)
def test_knows_every_value_of_its_generated_enums_and_no_other(enum: Any, table: str) -> None:
    assert list(enum.keys()) == list(STATES[table])


@pytest.mark.parametrize("name, word", pairs("loadStates"))
def test_reads_each_load_state_as_systemds_word(name: str, word: str) -> None:
    status = to_service_status(stream_pb2.StreamStatus(load_state=stream_pb2.LoadState.Value(name)))
    assert status["details"]["load_state"] == word


@pytest.mark.parametrize("name, word", pairs("activeStates"))
def test_reads_each_active_state_as_systemds_word(name: str, word: str) -> None:
    status = to_service_status(stream_pb2.StreamStatus(active_state=stream_pb2.ActiveState.Value(name)))
    assert status["details"]["active_state"] == word
    assert status["active"] == word


@pytest.mark.parametrize("name, word", pairs("usageSources"))
def test_reads_each_usage_source_by_its_word(name: str, word: str) -> None:
    status = to_service_status(stream_pb2.StreamStatus(usage_source=stream_pb2.UsageSource.Value(name)))
    assert status["details"]["usage_source"] == word


def test_knows_every_grpc_status_code_and_no_other() -> None:
    assert {code.name: code.value[0] for code in grpc.StatusCode} == STATUS_CODES


@pytest.mark.parametrize("name, number", list(STATUS_CODES.items()))
def test_names_each_code_in_a_lit_stream_error(name: str, number: int) -> None:
    error = LitStreamError(grpc.StatusCode[name], "why")
    assert (error.code.value[0], error.code_name, str(error)) == (number, name, f"{name}: why")
