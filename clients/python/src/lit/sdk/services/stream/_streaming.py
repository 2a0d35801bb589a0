"""Server-streaming calls (WatchStatus, Logs) as iterators that say when the call ends."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Callable, Generator, Iterator, Optional, Type, TypeVar

import grpc

from ._errors import error_from_rpc

T = TypeVar("T")


class StreamingCall(Iterator[T]):
    """The results of a server-streaming call (``watch()``, ``watch_streams()``, ``logs()``).

    The call opens on the server at the first ``next()``. It is cancelled there when the ``with``
    block that holds it is left, however it is left; on ``close()``; and when the results end or the
    call fails (raising the :class:`LitStreamError` for its gRPC code)::

        with stream.watch() as events:
            for event in events:
                if event.status["active"] == "failed":
                    break          # leaving the with block cancels the watch

    ``break`` alone does not: a ``for`` loop never closes what it iterates, so a StreamingCall kept
    in a variable stays open on the server until it is closed or garbage-collected. (CPython
    collects ``for event in stream.watch(): ... break`` as the loop ends, since nothing else holds
    it; other Pythons may not.)
    """

    def __init__(self, results: Generator[T, None, None]) -> None:
        self._results = results

    def __iter__(self) -> "StreamingCall[T]":
        return self

    def __next__(self) -> T:
        return next(self._results)

    def close(self) -> None:
        """Cancels the call on the server; nothing to do if it never opened or has ended."""
        self._results.close()

    def __enter__(self) -> "StreamingCall[T]":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()


def responses(open_call: Callable[[], Any]) -> Generator[Any, None, None]:
    """A server-streaming call's responses. The call is opened only when iteration begins, so a
    generator never iterated (or closed first) leaves nothing open on the server; the ``finally``
    cancels the call however the iteration ends; a failure raises the SDK's exception for its code."""
    call = open_call()
    try:
        yield from call
    except grpc.RpcError as error:
        raise error_from_rpc(error) from None
    finally:
        call.cancel()
