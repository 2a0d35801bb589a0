"""How the SDK turns a server-streaming call's responses into what it yields, and when it cancels
the call: pure logic over recorded responses (the same message types lit-streamd sends). That the
server really releases what a cancelled call held is in test_stream.py, through lit-streamd."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator, List, Optional

import grpc
import pytest

from lit.sdk.services.stream import LitStreamError, StreamingCall
from lit.sdk.services.stream._stream import _log_lines
from lit.stream.v1 import stream_pb2


class RecordedCall:
    """Stands in for a grpc call object: yields the responses given, then fails if told to; records
    whether the SDK opened and cancelled it."""

    def __init__(self, responses: List[object], error: Optional[grpc.RpcError] = None) -> None:
        self.responses = responses
        self.error = error
        self.opened = False
        self.cancelled = False

    def open(self) -> "RecordedCall":
        self.opened = True
        return self

    def __iter__(self) -> Iterator[object]:
        yield from self.responses
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        self.cancelled = True


def entry(number: int) -> stream_pb2.LogEntry:
    entry = stream_pb2.LogEntry(message=f"line {number}", priority=6, cursor=f"s=cursor-{number}")
    entry.time.FromDatetime(datetime(2024, 7, 24, 18, 32, number, tzinfo=timezone.utc))
    return entry


def logs(*responses: stream_pb2.LogsResponse) -> RecordedCall:
    return RecordedCall(list(responses))


def test_dropped_lines_sent_without_lines_are_counted_on_the_next_line() -> None:
    # The server sends a count alone when a follower's buffer ran over and the stream has written
    # nothing since (LogsResponse.dropped_lines with no entries); two such counts may come in a row.
    call = logs(
        stream_pb2.LogsResponse(entries=[entry(1), entry(2)]),
        stream_pb2.LogsResponse(dropped_lines=7),
        stream_pb2.LogsResponse(entries=[entry(3)]),
        stream_pb2.LogsResponse(dropped_lines=2, entries=[entry(4), entry(5)]),
        stream_pb2.LogsResponse(dropped_lines=1),
        stream_pb2.LogsResponse(dropped_lines=4),
        stream_pb2.LogsResponse(entries=[entry(6)]),
    )
    lines = list(_log_lines(call.open))
    assert [(line.message, line.dropped_before) for line in lines] == [
        ("line 1", 0),
        ("line 2", 0),
        ("line 3", 7),
        ("line 4", 2),
        ("line 5", 0),
        ("line 6", 5),
    ]
    assert sum(line.dropped_before for line in lines) == 14  # every count the server sent


def test_a_streaming_call_opens_at_the_first_next_not_before() -> None:
    call = logs(stream_pb2.LogsResponse(entries=[entry(1)]))
    lines = StreamingCall(_log_lines(call.open))
    assert not call.opened
    assert next(lines).message == "line 1"
    assert call.opened


def test_leaving_the_with_block_cancels_the_call_however_it_is_left() -> None:
    call = logs(stream_pb2.LogsResponse(entries=[entry(1), entry(2), entry(3)]))
    with StreamingCall(_log_lines(call.open)) as lines:
        for line in lines:
            break
        assert not call.cancelled  # a for loop's break leaves the call open ...
    assert call.cancelled  # ... the with block's end cancels it
    assert list(lines) == []  # and nothing more comes

    failing = logs(stream_pb2.LogsResponse(entries=[entry(1)]))
    with pytest.raises(RuntimeError):
        with StreamingCall(_log_lines(failing.open)) as lines:
            next(lines)
            raise RuntimeError("the caller's own error")
    assert failing.cancelled


def test_close_cancels_the_call_and_a_call_never_opened_stays_unopened() -> None:
    call = logs(stream_pb2.LogsResponse(entries=[entry(1), entry(2)]))
    lines = StreamingCall(_log_lines(call.open))
    next(lines)
    lines.close()
    assert call.cancelled

    never = logs(stream_pb2.LogsResponse(entries=[entry(1)]))
    with StreamingCall(_log_lines(never.open)):
        pass
    assert not never.opened


def test_the_call_is_cancelled_when_its_results_end_or_it_fails() -> None:
    ended = logs(stream_pb2.LogsResponse(entries=[entry(1)]))
    assert len(list(StreamingCall(_log_lines(ended.open)))) == 1
    assert ended.cancelled

    failed = RecordedCall([stream_pb2.LogsResponse(entries=[entry(1)])], error=grpc.RpcError())
    lines = StreamingCall(_log_lines(failed.open))
    assert next(lines).message == "line 1"
    with pytest.raises(LitStreamError):
        next(lines)
    assert failed.cancelled


def test_a_watch_through_a_fleet_gateway_tells_of_a_lost_host_and_goes_on() -> None:
    from lit.sdk.services.stream import UnavailableError
    from lit.sdk.services.stream._stream import _events

    status = stream_pb2.StreamStatus(team="contoso", name="bitcoin", host="feed-1", active_state=stream_pb2.ACTIVE_STATE_ACTIVE)
    call = RecordedCall(
        [
            stream_pb2.WatchStatusResponse(kind=stream_pb2.WATCH_EVENT_KIND_INITIAL, status=status),
            stream_pb2.WatchStatusResponse(host_error=stream_pb2.HostError(host="feed-2", code=14, message="gone")),
            stream_pb2.WatchStatusResponse(kind=stream_pb2.WATCH_EVENT_KIND_CHANGED, status=status),
        ]
    )
    lost: List[object] = []
    events = list(_events(call.open, lambda host, error: lost.append((host, error))))
    assert [event.kind for event in events] == ["INITIAL", "CHANGED"]
    assert len(lost) == 1
    host, error = lost[0]  # type: ignore[misc]
    assert host == "feed-2"
    assert isinstance(error, UnavailableError) and error.details == "gone"
    assert call.cancelled
