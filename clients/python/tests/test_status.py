"""How a StreamStatus message becomes status(): pure conversion of the message lit-streamd sends
(what the server sends for a real stream is in test_stream.py)."""

from datetime import datetime, timezone

from lit.sdk.services.stream._service import to_service_status
from lit.stream.v1 import stream_pb2


def test_usage_that_covers_only_some_processes_is_marked_partial_and_keeps_the_seeds_shapes() -> None:
    message = stream_pb2.StreamStatus(
        team="contoso",
        name="crowd",
        active_state=stream_pb2.ACTIVE_STATE_ACTIVE,
        sub_state="running",
        main_pid=4408,
        tasks=256,
        memory_bytes=3597035929,
        usage_source=stream_pb2.USAGE_SOURCE_PROCFS,
        usage_partial=True,
    )
    message.started.FromDatetime(datetime(2024, 7, 24, 18, 32, 23, tzinfo=timezone.utc))
    status = to_service_status(message, "America/Chicago")
    assert (status["tasks"], status["memory"], status["started"]) == (256, "3.3G", "Wed 2024-07-24 13:32:23 CDT")
    assert status["details"]["usage_partial"] is True  # so 256 tasks and 3.3G are lower bounds
    assert to_service_status(stream_pb2.StreamStatus(name="bitcoin", tasks=1))["details"]["usage_partial"] is False
