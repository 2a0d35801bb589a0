"""Stream, get_streams and watch_streams: the seed SDK's API over lit-streamd's gRPC service."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Generator, Iterable, List, Literal, NamedTuple, Optional, Tuple, TypedDict

from lit.stream.v1 import stream_pb2

from ._connection import ACTION_TIMEOUT, READ_TIMEOUT, Connection
from ._errors import LitStreamError, error_from_status
from ._service import Service, ServiceActionStatus, ServiceStatus, to_action_status, to_service_status
from ._streaming import StreamingCall, responses


class StreamEvent(NamedTuple):
    """One report of a watch: a stream's status when the watch began, a change, or its removal.

    ``status`` is as ``Stream.status()`` reports it, except tasks and memory (None: they are
    measured on request, not signalled by systemd).
    """

    kind: Literal["INITIAL", "CHANGED", "REMOVED"]
    status: ServiceStatus


STATUS_LOG_LINES = 10
"""Log lines status() asks for, as ``systemctl status`` shows; the TypeScript client's is the same
(clients/testdata/defaults.json)."""


class LogLine(NamedTuple):
    """One line of a stream's log, as the journal holds it.

    Attributes:
        time: When the journal received it (an aware datetime).
        message: The text.
        priority: syslog priority, 0 (emerg) to 7 (debug); 6 (info) unless the worker said otherwise.
        pid: The process that wrote it, when the journal says.
        source: ``'worker'`` (its stdout/stderr), ``'systemd'`` (the manager about the worker) or
            ``'journal'`` (journald noting lines it dropped: ``suppressed`` says how many).
        cursor: Where it is in the journal: pass it as ``after_cursor`` to continue after it.
        dropped_before: Lines skipped just before this one because a follower read slower than the
            stream wrote (they are still in the journal: ``after_cursor`` of the line before the gap
            reads them); 0 normally. The count waits for the next line, so a gap followed by
            silence shows with the next line the stream writes. (The TypeScript client yields a
            ``{kind: 'dropped', count}`` item of its own instead: a union is idiomatic there, while
            here every item stays a LogLine.)
    """

    time: datetime
    message: str
    priority: int
    pid: Optional[int]
    source: Literal["worker", "systemd", "journal", ""]
    cursor: str
    dropped_before: int = 0
    suppressed: int = 0


class Run(NamedTuple):
    """One run of a stream: systemd's invocation of its unit, as ``Stream.runs()`` reports it.

    Attributes:
        invocation_id: systemd's InvocationID (32 hex digits).
        started: When systemd began starting it (an aware datetime); None when the journal no
            longer holds that.
        ended: When it ended; None while it runs, or when nothing on record says.
        result: systemd's Result (``'success'``, ``'exit-code'``, ``'signal'``, ``'timeout'``...);
            None while it runs.
        exit_code: How its process ended: ``'exited'``, ``'killed'`` or ``'dumped'``; None when not known.
        exit_status: The exit status (``exited``) or the signal number (``killed``, ``dumped``).
        restart: Which automatic restart it was; 0 for a start by hand.
        last_lines: Its newest lines (its worker's, and systemd's about it), oldest first.
    """

    invocation_id: str
    started: Optional[datetime]
    ended: Optional[datetime]
    result: Optional[str]
    exit_code: Optional[str]
    exit_status: Optional[int]
    restart: int
    last_lines: List[LogLine]


class ServiceActionOutcome(ServiceActionStatus):
    """What ``Stream.act()`` answers: the SDK's ``{status, message}`` and all else the server said.

    ``job_result`` is systemd's job result: ``'done'``, ``'canceled'``, ``'timeout'``, ``'failed'``,
    ``'dependency'`` or ``'skipped'``; ``'canceled'`` too for a start that a stop cancelled before it
    reached systemd (the message says so). ``logs`` holds, for a start or restart, the stream's
    LogLines since this start began, oldest first: those a ``'FAILURE'`` is explained by, ending
    with how the worker ended (none when the server reads no journal, or for a plain success it
    did not wait on); for a stop, none (the server sends none with a stop).
    """

    job_result: str
    logs: List[LogLine]


Action = Literal["start", "stop", "restart"]


class UnitFileChange(TypedDict):
    """One symlink systemd created (``'symlink'``, to ``destination``) or removed (``'unlink'``)."""

    type: str
    path: str
    destination: str


class EnableOutcome(ServiceActionOutcome):
    """What ``Stream.enable()`` and ``Stream.disable()`` answer: act()'s answer with ``now``, and more.

    ``changes``: what systemd changed on disk, empty when nothing had to (already enabled, not
    enabled); ``unit_file_state``: systemd's UnitFileState afterwards. Without ``now``,
    ``job_result`` is ``''`` and ``logs`` empty; with it, the start's or stop's, as act() answers.
    """

    changes: List[UnitFileChange]
    unit_file_state: str


class Stream(Service):
    """Represents a real-time data-streaming service worker.

    Args:
        team: The name of the team that owns the Stream.
        name: The name of the Stream.
        connection: Where and how to reach lit-streamd; default: from the environment
            (``LIT_STREAM_ADDR``, ``LIT_STREAM_TOKEN``, ``LIT_STREAM_CA``/``_CERT``/``_KEY``).
        host: The host whose stream this is, through a fleet gateway; None: the one host that
            declares it (or, from an agent, the agent's own).

    Attributes:
        team: The name of the team that owns the Stream.
        name: The name of the Stream.
        host: The host it runs on, when known.
    """

    team: str
    """The name of the team that owns the Stream."""
    name: str
    """The name of the Stream."""
    host: Optional[str]
    """The host it runs on, when known (a fleet gateway's answers, an agent's ``--host-name``)."""

    def __init__(self, team: str, name: str, connection: Optional[Connection] = None, host: Optional[str] = None) -> None:
        """Initializes a new instance of Stream.

        Args:
            team: The name of the team that owns the Stream.
            name: The name of the Stream.
            connection: Where and how to reach lit-streamd; default: from the environment.
            host: The host whose stream this is; None: the one that declares it.
        """
        super().__init__(connection)
        self.team = team
        self.name = name
        self.host = host or None

    def act(self, action: Action) -> ServiceActionOutcome:
        """Starts, stops or restarts the stream, answering with all the server said.

        For programs that want more than start(), stop() and restart() answer (the seed SDK's
        ``{status, message}``): systemd's job result and, for a start or restart, the stream's log
        lines since this start began, which explain a failure. Returns once systemd's job has
        finished, as they do.

        Args:
            action: ``'start'``, ``'stop'`` or ``'restart'``.

        Returns:
            A ServiceActionOutcome: ``status``, ``message``, ``job_result`` and ``logs``.

        Raises:
            ValueError: For any other action (never taken for a restart); the server is not asked.

        Examples:
            >>> outcome = Stream("contoso", "bitcoin").act("restart")
            >>> outcome["status"], outcome["job_result"]
            ('SUCCESS', 'done')
            >>> if outcome["status"] == "FAILURE":
            ...     for line in outcome["logs"]:
            ...         print(line.time, line.source, line.message)
        """
        if action not in _ACTIONS:
            raise ValueError(f"act(): unknown action {action!r}: use 'start', 'stop' or 'restart'")
        method_name, request_type = _ACTIONS[action]
        response = self._call(getattr(self._stub, method_name), self._request(request_type), ACTION_TIMEOUT)
        # A StopResponse has no logs field: a stop answers with none.
        entries = response.logs if action != "stop" else []
        return {**to_action_status(response), "job_result": response.job_result, "logs": [_log_line(entry) for entry in entries]}

    def start(self) -> ServiceActionStatus:
        """Starts the stream.

        Returns once systemd has finished starting it.

        Returns:
            An object containing the status of the operation.

        Examples:
            >>> stream = Stream("contoso", "bitcoin")
            >>> stream.start()
            {'status': 'SUCCESS', 'message': 'Stream started successfully.'}
        """
        return _sdk_shape(self.act("start"))

    def stop(self) -> ServiceActionStatus:
        """Stops the stream.

        Stopping a stopped stream succeeds.

        Returns:
            An object containing the status of the operation.

        Examples:
            >>> stream = Stream("contoso", "bitcoin")
            >>> stream.stop()
            {'status': 'SUCCESS', 'message': 'Stream stopped successfully.'}
        """
        return _sdk_shape(self.act("stop"))

    def restart(self) -> ServiceActionStatus:
        """Restarts the stream.

        Starts it if it was stopped.

        Returns:
            An object containing the status of the operation.

        Examples:
            >>> stream = Stream("contoso", "bitcoin")
            >>> stream.restart()
            {'status': 'SUCCESS', 'message': 'Stream restarted successfully.'}
        """
        return _sdk_shape(self.act("restart"))

    def enable(self, now: bool = False) -> EnableOutcome:
        """Makes the stream start at boot, as ``systemctl enable`` does.

        Enabling an enabled stream succeeds and changes nothing.

        Args:
            now: Also start it, answered as start() is.

        Returns:
            What systemd changed, and with ``now`` how the start went.

        Examples:
            >>> stream = Stream("contoso", "bitcoin")
            >>> stream.enable()["changes"]  # doctest: +SKIP
            [{'type': 'symlink', 'path': '/etc/systemd/system/multi-user.target.wants/lit-stream-contoso@bitcoin.service', 'destination': ...}]
        """
        request = self._request(stream_pb2.EnableRequest)
        request.now = now
        return _enable_outcome(self._call(self._stub.Enable, request, ACTION_TIMEOUT))

    def disable(self, now: bool = False) -> EnableOutcome:
        """Makes the stream no longer start at boot, as ``systemctl disable`` does.

        Disabling a stream that is not enabled succeeds and changes nothing.

        Args:
            now: Also stop it, answered as stop() is.

        Returns:
            What systemd changed, and with ``now`` how the stop went.
        """
        request = self._request(stream_pb2.DisableRequest)
        request.now = now
        return _enable_outcome(self._call(self._stub.Disable, request, ACTION_TIMEOUT))

    def status(self) -> ServiceStatus:
        """Retrieves the status of the stream.

        Returns:
            An object containing the current status of the stream, formatted as ``systemctl
            status`` prints it, with the typed values under ``'details'`` (and there, as
            ``systemctl status`` shows them, its newest log lines since it last started under
            ``'logs'``, up to 10).

        Examples:
            >>> stream = Stream("contoso", "bitcoin")
            >>> stream.status()  # doctest: +ELLIPSIS
            {'name': 'bitcoin', 'active': 'active', 'status': 'running', 'started': '...', 'pid': ..., 'tasks': ..., 'memory': '...', 'details': {...}}
        """
        request = self._request(stream_pb2.GetStatusRequest)
        request.log_lines = STATUS_LOG_LINES
        response = self._call(self._stub.GetStatus, request, READ_TIMEOUT)
        status = to_service_status(response.status)
        status["details"]["logs"] = [_log_line(entry) for entry in response.logs]
        if response.logs_unavailable:
            status["details"]["logs_unavailable"] = response.logs_unavailable
        return status

    def watch(self, timeout: Optional[float] = None) -> StreamingCall[StreamEvent]:
        """Watches the stream: its status now, then every change as systemd signals it.

        The call opens at the first ``next()``; it is cancelled on the server when the ``with``
        block is left, on ``close()``, or when it ends (see :class:`StreamingCall`). ``break``
        alone does not cancel a watch kept in a variable.

        Args:
            timeout: Seconds after which the watch ends with DeadlineExceededError; default never.

        Returns:
            StreamEvents: ``INITIAL`` first, then ``CHANGED`` (or ``REMOVED``) per change.

        Examples:
            >>> with Stream("contoso", "bitcoin").watch() as events:
            ...     for event in events:
            ...         print(event.kind, event.status["name"])
            ...         break
            INITIAL bitcoin
        """
        request = self._request(stream_pb2.WatchStatusRequest)
        return StreamingCall(_events(lambda: self._stub.WatchStatus(request, timeout=timeout, metadata=self._connection.metadata())))

    def logs(
        self,
        tail: Optional[int] = None,
        follow: bool = False,
        since: Optional[datetime] = None,
        after_cursor: str = "",
        timeout: Optional[float] = None,
    ) -> StreamingCall[LogLine]:
        """Reads the stream's log lines from the journal, oldest first.

        The call opens at the first ``next()``; it is cancelled on the server when the ``with``
        block is left, on ``close()``, or when it ends (see :class:`StreamingCall`)::

            with stream.logs(follow=True) as lines:
                for line in lines:
                    print(line.time, line.message)

        Args:
            tail: How many of the newest lines; default 10, or with ``since`` all since then.
            follow: Keep going with each new line as the journal gets it, until cancelled.
            since: Only lines received at or after this (aware) time.
            after_cursor: Continue right after the line with this ``cursor``.
            timeout: Seconds the call may take, from when it opens; default the connection's
                ``timeout``, else 10 as for every read (the TypeScript client's default too). With
                ``follow`` none unless given here: a follow runs until it is cancelled.

        Returns:
            LogLines, one per journal entry; where a slow follower missed lines, the next line's
            ``dropped_before`` counts them.
        """
        request = self._request(stream_pb2.LogsRequest)
        if tail is not None:
            request.tail_lines = tail
        request.follow = follow
        if since is not None:
            request.since.FromDatetime(since.astimezone(timezone.utc))
        request.after_cursor = after_cursor
        deadline = timeout if timeout is not None else (None if follow else self._timeout(READ_TIMEOUT))
        return StreamingCall(_log_lines(lambda: self._stub.Logs(request, timeout=deadline, metadata=self._connection.metadata())))

    def runs(self, limit: int = 10) -> List[Run]:
        """The stream's recent runs, newest first: how each began and ended, and its own last lines.

        What explains a crash loop: systemd's result, exit code or signal of each run, which
        automatic restart it was, and what its worker wrote last. Needs the logs role.

        Args:
            limit: At most this many runs (at most 100).

        Returns:
            Runs, newest first; none for a stream that never ran.
        """
        request = self._request(stream_pb2.ListRunsRequest)
        request.limit = limit
        response = self._call(self._stub.ListRuns, request, READ_TIMEOUT)
        return [_run(run) for run in response.runs]

    def __repr__(self) -> str:
        host = "" if self.host is None else f", host={self.host!r}"
        return f"Stream(team={self.team!r}, name={self.name!r}{host})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stream) and (other.team, other.name, other.host) == (self.team, self.name, self.host)

    def __hash__(self) -> int:
        return hash((self.team, self.name, self.host))

    def _request(self, message: Callable[..., Any]) -> Any:
        if self.host is None:
            return message(team=self.team, name=self.name)
        return message(team=self.team, name=self.name, host=self.host)


def get_streams(team: str, connection: Optional[Connection] = None) -> List[Stream]:
    """Gets a list of the available streams.

    Args:
        team: The name of the team.
        connection: Where and how to reach lit-streamd; default: from the environment.

    Returns:
        List of available streams.

    Through a fleet gateway: the streams of every host that answered, each naming its host
    (``Stream(team='contoso', name='bitcoin', host='feed-2')``).

    Examples:
        >>> get_streams("contoso")
        [Stream(team='contoso', name='bitcoin')]
    """
    directory = Service(connection)
    rows: List[Any] = []
    unanswered = False
    page_token = ""
    while True:
        request = stream_pb2.ListStreamsRequest(team=team, page_size=1000, page_token=page_token)
        page = directory._call(directory._stub.ListStreams, request, READ_TIMEOUT)
        rows.extend(page.streams)
        unanswered = unanswered or len(page.host_errors) > 0
        page_token = page.next_page_token
        if not page_token:
            break
    # A fleet's streams (of several hosts, or with hosts that did not answer) keep their host, so
    # their calls go straight to it; a single lit-streamd's print and act as they always did.
    fleet = unanswered or len({row.host for row in rows}) > 1
    return [Stream(row.team, row.name, connection, host=row.host if fleet and row.host else None) for row in rows]


def watch_streams(
    team: str,
    connection: Optional[Connection] = None,
    timeout: Optional[float] = None,
    on_host_lost: Optional[Callable[[str, LitStreamError], None]] = None,
) -> StreamingCall[StreamEvent]:
    """Watches every stream of a team, including streams declared later.

    The current status of each stream first (``INITIAL``), then every change. As with
    ``Stream.watch()``, ``with watch_streams(team) as events:`` cancels the call when the block is
    left (see :class:`StreamingCall`).

    Args:
        team: The name of the team.
        connection: Where and how to reach lit-streamd; default: from the environment.
        timeout: Seconds after which the watch ends with DeadlineExceededError; default never.
        on_host_lost: Through a fleet gateway, called with a host's name and its error when it
            stops answering (or had not answered when the watch began): what was said of its
            streams is no longer current; they come again as CHANGED when it answers.

    Returns:
        StreamEvents, one per stream and change.
    """
    directory = Service(connection)
    request = stream_pb2.WatchStatusRequest(team=team, name="")
    return StreamingCall(_events(lambda: directory._stub.WatchStatus(request, timeout=timeout, metadata=directory._connection.metadata()), on_host_lost))


_ACTIONS: Dict[str, Tuple[str, Callable[..., Any]]] = {
    "start": ("Start", stream_pb2.StartRequest),
    "stop": ("Stop", stream_pb2.StopRequest),
    "restart": ("Restart", stream_pb2.RestartRequest),
}


def _sdk_shape(outcome: ServiceActionOutcome) -> ServiceActionStatus:
    """The seed SDK's ``{status, message}``, nothing more: what start(), stop() and restart() answer."""
    return {"status": outcome["status"], "message": outcome["message"]}


_KINDS: dict = {
    stream_pb2.WATCH_EVENT_KIND_INITIAL: "INITIAL",
    stream_pb2.WATCH_EVENT_KIND_CHANGED: "CHANGED",
    stream_pb2.WATCH_EVENT_KIND_REMOVED: "REMOVED",
}


_SOURCES: dict = {stream_pb2.LOG_SOURCE_WORKER: "worker", stream_pb2.LOG_SOURCE_SYSTEMD: "systemd", stream_pb2.LOG_SOURCE_JOURNAL: "journal"}


def _log_lines(open_call: Callable[[], Iterable[Any]]) -> Generator[LogLine, None, None]:
    """A Logs call as a generator of LogLines (see responses). A count of dropped lines is kept
    until a line comes to carry it: the server sends a count alone when a follower's buffer ran
    over and the stream has written nothing since the gap (LogsResponse.dropped_lines)."""
    dropped = 0
    with closing(responses(open_call)) as logs:
        for response in logs:
            dropped += response.dropped_lines
            for entry in response.entries:
                yield _log_line(entry, dropped)
                dropped = 0


def _log_line(entry: Any, dropped_before: int = 0) -> LogLine:
    return LogLine(
        time=entry.time.ToDatetime(tzinfo=timezone.utc),
        message=entry.message,
        priority=entry.priority,
        pid=entry.pid if entry.HasField("pid") else None,
        source=_SOURCES.get(entry.source, ""),
        cursor=entry.cursor,
        dropped_before=dropped_before,
        suppressed=entry.suppressed_lines,
    )


def _run(run: Any) -> Run:
    def time(field: str) -> Optional[datetime]:
        return getattr(run, field).ToDatetime(tzinfo=timezone.utc) if run.HasField(field) else None

    return Run(
        invocation_id=run.invocation_id,
        started=time("started"),
        ended=time("ended"),
        result=run.result or None,
        exit_code=run.exit_code or None,
        exit_status=run.exit_status if run.HasField("exit_status") else None,
        restart=run.restart,
        last_lines=[_log_line(entry) for entry in run.last_lines],
    )


def _events(
    open_call: Callable[[], Iterable[Any]], on_host_lost: Optional[Callable[[str, LitStreamError], None]] = None
) -> Generator[StreamEvent, None, None]:
    """A WatchStatus call as a generator of StreamEvents (see responses); a fleet gateway's
    host_error goes to ``on_host_lost``."""
    with closing(responses(open_call)) as watch:
        for response in watch:
            if response.HasField("status"):
                yield StreamEvent(_KINDS.get(response.kind, "CHANGED"), to_service_status(response.status))
            elif response.HasField("host_error") and on_host_lost is not None:
                lost = response.host_error
                on_host_lost(lost.host, error_from_status(lost.code, lost.message))



def _enable_outcome(response: Any) -> EnableOutcome:
    """An EnableResponse or DisableResponse as an EnableOutcome."""
    return {
        **to_action_status(response),
        "changes": [{"type": c.type, "path": c.path, "destination": c.destination} for c in response.changes],
        "unit_file_state": response.stream.unit_file_state,
        "job_result": response.job_result,
        "logs": [_log_line(entry) for entry in getattr(response, "logs", [])],
    }
