"""Service, the base of the SDK's services, and what its calls answer."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, List, Literal, Optional, TypedDict, TypeVar

import grpc

from lit.stream.v1 import stream_pb2
from lit.stream.v1.stream_pb2_grpc import StreamServiceStub

from ._connection import Connection
from ._errors import error_from_rpc
from ._format import format_bytes, format_timestamp


class ServiceActionStatus(TypedDict):
    """The outcome of start(), stop() or restart().

    ``{'status': 'SUCCESS', 'message': 'Stream started successfully.'}``; on ``'FAILURE'`` the
    message is systemd's reason (the job result, the unit's result, the exit status).
    """

    status: Literal["SUCCESS", "FAILURE"]
    message: str


class _StatusValues(TypedDict):
    """The values every status carries (see ServiceStatusDetails)."""

    team: str
    unit: str
    load_state: str
    active_state: str
    sub_state: str
    started: Optional[datetime]
    main_pid: Optional[int]
    tasks: Optional[int]
    memory_bytes: Optional[int]
    usage_source: Literal["systemd", "procfs", "none"]
    usage_partial: bool
    restart_count: int
    result: str
    exit_status: Optional[int]
    exit_signal: Optional[int]


class ServiceStatusDetails(_StatusValues, total=False):
    """The typed values behind a ServiceStatus, in systemd's words (org.freedesktop.systemd1(5)).

    ``started`` is an aware datetime; counts are ints; None where systemd has no value.
    ``usage_partial`` is True when ``tasks`` and ``memory_bytes`` (so the formatted ``tasks`` and
    ``memory`` too) cover only some of the stream's processes and are lower bounds: the server reads
    at most so many processes per sample (StreamStatus.usage_partial); when none could be read in
    time, both are None. From
    ``Stream.status()`` also ``logs`` (its newest journal lines since it last started, LogLines)
    and, when the server could not read the journal, ``logs_unavailable`` saying why.
    """

    logs: List[Any]
    logs_unavailable: str
    unit_file_state: str
    """systemd's UnitFileState, whether the stream starts at boot: ``enabled``, ``disabled``,
    ``static``, ``masked``, …; absent when the server does not say."""


class ServiceStatus(TypedDict):
    """What ``systemctl status`` shows, formatted as it prints it.

    ``{'name': 'bitcoin', 'active': 'active', 'status': 'running', 'started': 'Wed 2024-07-24
    13:32:23 CDT', 'pid': 3687984, 'tasks': 5, 'memory': '3.3G', 'details': {...}}``: ``started``
    in this process's local zone, ``memory`` in systemd's IEC format; None where systemd has no
    value. ``details`` holds the typed values. ``tasks`` and ``memory`` keep the seed's shapes, so
    where they are lower bounds only ``details['usage_partial']`` says so.
    """

    name: str
    active: str
    status: str
    started: Optional[str]
    pid: Optional[int]
    tasks: Optional[int]
    memory: Optional[str]
    details: ServiceStatusDetails


_Response = TypeVar("_Response")


class Service:
    """Base of the SDK's services: a connection to lit-streamd, and calls that raise LitStreamError.

    Args:
        connection: Where and how to reach lit-streamd; default: from the environment.
    """

    def __init__(self, connection: Optional[Connection] = None) -> None:
        self._connection = (connection or Connection()).resolved()
        self._stub = StreamServiceStub(self._connection.open_channel())

    def _call(self, method: Callable[..., _Response], request: Any, timeout: float) -> _Response:
        """Calls a unary method; a failure raises the LitStreamError subclass for its gRPC code."""
        try:
            return method(request, timeout=self._timeout(timeout), metadata=self._connection.metadata())
        except grpc.RpcError as error:
            raise error_from_rpc(error) from None

    def _timeout(self, default: float) -> float:
        """Seconds a call that ends by itself may take: the connection's ``timeout``, else ``default``."""
        return self._connection.timeout or default


def to_action_status(response: Any) -> ServiceActionStatus:
    """A Start/Stop/Restart response as the SDK's ServiceActionStatus."""
    status: Literal["SUCCESS", "FAILURE"] = "SUCCESS" if response.status == stream_pb2.ACTION_STATUS_SUCCESS else "FAILURE"
    return {"status": status, "message": response.message}


def to_service_status(status: stream_pb2.StreamStatus, zone: Optional[str] = None) -> ServiceStatus:
    """A StreamStatus message as the SDK's ServiceStatus (times formatted in ``zone``, default local)."""
    started = status.started.ToDatetime(tzinfo=timezone.utc) if status.HasField("started") else None
    details: ServiceStatusDetails = {
        "team": status.team,
        "unit": status.unit,
        "load_state": _word(stream_pb2.LoadState, "LOAD_STATE_", status.load_state),
        "active_state": _word(stream_pb2.ActiveState, "ACTIVE_STATE_", status.active_state),
        "sub_state": status.sub_state,
        "started": started,
        "main_pid": status.main_pid if status.HasField("main_pid") else None,
        "tasks": status.tasks if status.HasField("tasks") else None,
        "memory_bytes": status.memory_bytes if status.HasField("memory_bytes") else None,
        "usage_source": _usage_source(status.usage_source),
        "usage_partial": status.usage_partial,
        "restart_count": status.restart_count,
        "result": status.result,
        "exit_status": status.exit_status if status.HasField("exit_status") else None,
        "exit_signal": status.exit_signal if status.HasField("exit_signal") else None,
    }
    if status.unit_file_state:
        details["unit_file_state"] = status.unit_file_state
    return {
        "name": status.name,
        "active": details["active_state"],
        "status": details["sub_state"],
        "started": format_timestamp(started, zone) if started is not None else None,
        "pid": details["main_pid"],
        "tasks": details["tasks"],
        "memory": format_bytes(details["memory_bytes"]) if details["memory_bytes"] is not None else None,
        "details": details,
    }


def _word(enum: Any, prefix: str, value: int) -> str:
    """systemd's word for an API enum value: the proto names each value after it
    (LOAD_STATE_BAD_SETTING is ``bad-setting``); UNSPECIFIED and values unknown here read as ``''``."""
    try:
        name: str = enum.Name(value)
    except ValueError:
        return ""
    if name.endswith("_UNSPECIFIED"):
        return ""
    return name[len(prefix) :].lower().replace("_", "-")


def _usage_source(value: int) -> Literal["systemd", "procfs", "none"]:
    if value == stream_pb2.USAGE_SOURCE_SYSTEMD:
        return "systemd"
    if value == stream_pb2.USAGE_SOURCE_PROCFS:
        return "procfs"
    return "none"
