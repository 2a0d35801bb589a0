"""Errors of the SDK: each failed call raises a LitStreamError carrying the gRPC status code."""

from __future__ import annotations

from typing import Dict, Type

import grpc


class LitStreamError(Exception):
    """A call to lit-streamd failed.

    Attributes:
        code: The gRPC status code, e.g. ``grpc.StatusCode.NOT_FOUND``.
        details: The server's explanation.

    Examples:
        >>> error = LitStreamError(grpc.StatusCode.NOT_FOUND, "stream 'dogecoin' of team 'contoso' is not declared")
        >>> error.code_name, str(error)
        ('NOT_FOUND', "NOT_FOUND: stream 'dogecoin' of team 'contoso' is not declared")
    """

    code: grpc.StatusCode
    details: str

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details

    @property
    def code_name(self) -> str:
        """The code's name, e.g. ``'NOT_FOUND'``."""
        return self.code.name


class InvalidArgumentError(LitStreamError, ValueError):
    """A bad team or stream name (INVALID_ARGUMENT); systemd was never asked."""


class NotFoundError(LitStreamError, LookupError):
    """The stream is not declared: no unit file of its name (NOT_FOUND)."""


class FailedPreconditionError(LitStreamError):
    """The stream cannot do that now, e.g. start a masked stream (FAILED_PRECONDITION)."""


class UnauthenticatedError(LitStreamError, PermissionError):
    """No valid token or client certificate (UNAUTHENTICATED)."""


class PermissionDeniedError(LitStreamError, PermissionError):
    """The caller's role does not allow this on that team (PERMISSION_DENIED)."""


class ResourceExhaustedError(LitStreamError):
    """A limit of the server was reached (RESOURCE_EXHAUSTED)."""


class DeadlineExceededError(LitStreamError, TimeoutError):
    """The call's timeout passed first (DEADLINE_EXCEEDED); a systemd job already started goes on."""


class UnavailableError(LitStreamError, ConnectionError):
    """lit-streamd or systemd's bus cannot be reached (UNAVAILABLE)."""


_BY_CODE: Dict[grpc.StatusCode, Type[LitStreamError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
}


def error_from_rpc(error: grpc.RpcError) -> LitStreamError:
    """The SDK's exception for a failed gRPC call: the subclass for its code, else LitStreamError."""
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (error.details() if isinstance(error, grpc.Call) else None) or str(error)
    return _BY_CODE.get(code, LitStreamError)(code, details)


def error_from_status(code: int, details: str) -> LitStreamError:
    """The SDK's exception for a gRPC status code number (e.g. a fleet host's HostError.code)."""
    status = next((each for each in grpc.StatusCode if each.value[0] == code), grpc.StatusCode.UNKNOWN)
    return _BY_CODE.get(status, LitStreamError)(status, details)
