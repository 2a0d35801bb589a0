"""Where and how the SDK reaches lit-streamd: from arguments, else from the environment.

The environment is the TypeScript client's: ``LIT_STREAM_ADDR`` (default ``127.0.0.1:50051``),
``LIT_STREAM_TOKEN`` (a bearer token), ``LIT_STREAM_CA``, ``LIT_STREAM_CERT``, ``LIT_STREAM_KEY``
(PEM files for TLS and mTLS). So the seed's two-liners work unchanged against any server.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import grpc

DEFAULT_ADDRESS = "127.0.0.1:50051"
"""Where lit-streamd listens by default; clients/testdata/defaults.json holds this, the server's and
the TypeScript client's defaults (timeouts too) to the same values."""
READ_TIMEOUT = 10.0
"""Seconds a read (status, get_streams, logs without follow) may take by default; the TypeScript
client's default (READ_DEADLINE_MS) is the same."""
ACTION_TIMEOUT = 120.0
"""Seconds start/stop/restart may take by default: they return when systemd's job has finished."""


@dataclass(frozen=True)
class Connection:
    """How to reach lit-streamd; fields left None come from the environment.

    Attributes:
        address: ``host:port`` or ``unix:/path``; default ``$LIT_STREAM_ADDR``, else 127.0.0.1:50051.
        token: Bearer token sent with every call; default ``$LIT_STREAM_TOKEN``. Not in ``repr()``.
        ca: PEM of the CA that signed the server's certificate; default the file ``$LIT_STREAM_CA``.
        cert: PEM client certificate for mTLS; default the file ``$LIT_STREAM_CERT``.
        key: PEM client key for mTLS; default the file ``$LIT_STREAM_KEY``. Not in ``repr()``.
        timeout: Seconds each call may take; default 10 for reads (``logs()`` without ``follow``
            too) and 120 for start/stop/restart. Not for watches and log follows, which run until
            cancelled (give those a ``timeout`` of their own).
        channel: A ready gRPC channel to use instead of opening one.
    """

    address: Optional[str] = None
    # Secrets stay out of repr(), and so out of logs and tracebacks that print a Connection.
    token: Optional[str] = field(default=None, repr=False)
    ca: Optional[bytes] = None
    cert: Optional[bytes] = None
    key: Optional[bytes] = field(default=None, repr=False)
    timeout: Optional[float] = None
    channel: Optional[grpc.Channel] = None

    def resolved(self) -> "Connection":
        """This connection with every unset field taken from the environment."""
        ca, cert, key = (self.ca, self.cert, self.key)
        if ca is None and cert is None and key is None:
            ca, cert, key = (_read_env_file(name) for name in ("LIT_STREAM_CA", "LIT_STREAM_CERT", "LIT_STREAM_KEY"))
        return Connection(
            address=self.address or _env("LIT_STREAM_ADDR") or DEFAULT_ADDRESS,
            token=self.token if self.token is not None else _env("LIT_STREAM_TOKEN"),
            ca=ca,
            cert=cert,
            key=key,
            timeout=self.timeout,
            channel=self.channel,
        )

    def open_channel(self) -> grpc.Channel:
        """The channel for this (resolved) connection.

        One channel per address and TLS material is shared by every Stream, so ``Stream(...)`` in a
        loop opens no new connections; :func:`close_shared_channels` closes them.
        """
        if self.channel is not None:
            return self.channel
        assert self.address is not None, "resolve the connection first"
        tls = self.ca is not None or self.cert is not None or self.key is not None
        cache_key = (self.address, self.ca, self.cert, self.key) if tls else (self.address, None, None, None)
        with _lock:
            channel = _shared.get(cache_key)
            if channel is None:
                if tls:
                    credentials = grpc.ssl_channel_credentials(root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert)
                    channel = grpc.secure_channel(self.address, credentials)
                else:
                    channel = grpc.insecure_channel(self.address)
                _shared[cache_key] = channel
            return channel

    def metadata(self) -> Tuple[Tuple[str, str], ...]:
        """Call metadata: the bearer token, when there is one."""
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()


_shared: Dict[Tuple[str, Optional[bytes], Optional[bytes], Optional[bytes]], grpc.Channel] = {}
_lock = threading.Lock()


def close_shared_channels() -> None:
    """Closes the channels shared by Streams (e.g. before a short script or a test ends)."""
    with _lock:
        for channel in _shared.values():
            channel.close()
        _shared.clear()


def _env(name: str) -> Optional[str]:
    return os.environ.get(name) or None


def _read_env_file(name: str) -> Optional[bytes]:
    path = _env(name)
    if path is None:
        return None
    with open(path, "rb") as file:
        return file.read()
