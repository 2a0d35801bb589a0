"""This module defines the Stream class and associated functions for managing real-time data-streaming services.

It provides functionality to start, stop, restart and retrieve the status of streams, as well as a
function to get a list of available streams. Each call goes to lit-streamd over gRPC (address and
credentials from ``LIT_STREAM_ADDR``, ``LIT_STREAM_TOKEN``, ``LIT_STREAM_CA``/``_CERT``/``_KEY``, or
a :class:`Connection`); a failed call raises a :class:`LitStreamError` carrying the gRPC code.

Examples:
    >>> from lit.sdk.services.stream import Stream, get_streams
    >>> Stream("contoso", "bitcoin").start()
    {'status': 'SUCCESS', 'message': 'Stream started successfully.'}
    >>> get_streams("contoso")
    [Stream(team='contoso', name='bitcoin')]
"""

from ._connection import DEFAULT_ADDRESS, Connection, close_shared_channels
from ._errors import (
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    LitStreamError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from ._format import format_bytes, format_timestamp
from ._service import Service, ServiceActionStatus, ServiceStatus, ServiceStatusDetails
from ._stream import EnableOutcome, LogLine, Run, ServiceActionOutcome, Stream, StreamEvent, UnitFileChange, get_streams, watch_streams
from ._streaming import StreamingCall

__all__ = [
    "DEFAULT_ADDRESS",
    "Connection",
    "DeadlineExceededError",
    "EnableOutcome",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "LitStreamError",
    "LogLine",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "Run",
    "Service",
    "ServiceActionOutcome",
    "ServiceActionStatus",
    "ServiceStatus",
    "ServiceStatusDetails",
    "Stream",
    "StreamEvent",
    "StreamingCall",
    "UnauthenticatedError",
    "UnavailableError",
    "UnitFileChange",
    "close_shared_channels",
    "format_bytes",
    "format_timestamp",
    "get_streams",
    "watch_streams",
]
