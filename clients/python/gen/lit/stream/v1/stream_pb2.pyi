from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ACTION_STATUS_FAILURE: ActionStatus
ACTION_STATUS_SUCCESS: ActionStatus
ACTION_STATUS_UNSPECIFIED: ActionStatus
ACTIVE_STATE_ACTIVATING: ActiveState
ACTIVE_STATE_ACTIVE: ActiveState
ACTIVE_STATE_DEACTIVATING: ActiveState
ACTIVE_STATE_FAILED: ActiveState
ACTIVE_STATE_INACTIVE: ActiveState
ACTIVE_STATE_MAINTENANCE: ActiveState
ACTIVE_STATE_RELOADING: ActiveState
ACTIVE_STATE_UNSPECIFIED: ActiveState
DESCRIPTOR: _descriptor.FileDescriptor
LOAD_STATE_BAD_SETTING: LoadState
LOAD_STATE_ERROR: LoadState
LOAD_STATE_LOADED: LoadState
LOAD_STATE_MASKED: LoadState
LOAD_STATE_NOT_FOUND: LoadState
LOAD_STATE_UNSPECIFIED: LoadState
LOG_SOURCE_JOURNAL: LogSource
LOG_SOURCE_SYSTEMD: LogSource
LOG_SOURCE_UNSPECIFIED: LogSource
LOG_SOURCE_WORKER: LogSource
USAGE_SOURCE_PROCFS: UsageSource
USAGE_SOURCE_SYSTEMD: UsageSource
USAGE_SOURCE_UNSPECIFIED: UsageSource
WATCH_EVENT_KIND_CHANGED: WatchEventKind
WATCH_EVENT_KIND_INITIAL: WatchEventKind
WATCH_EVENT_KIND_REMOVED: WatchEventKind
WATCH_EVENT_KIND_UNSPECIFIED: WatchEventKind

class DisableRequest(_message.Message):
    __slots__ = ["host", "name", "now", "team"]
    HOST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    host: str
    name: str
    now: bool
    team: str
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., host: _Optional[str] = ..., now: bool = ...) -> None: ...

class DisableResponse(_message.Message):
    __slots__ = ["changes", "job_result", "message", "status", "stream"]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    JOB_RESULT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[UnitFileChange]
    job_result: str
    message: str
    status: ActionStatus
    stream: StreamSummary
    def __init__(self, status: _Optional[_Union[ActionStatus, str]] = ..., message: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[UnitFileChange, _Mapping]]] = ..., job_result: _Optional[str] = ..., stream: _Optional[_Union[StreamSummary, _Mapping]] = ...) -> None: ...

class EnableRequest(_message.Message):
    __slots__ = ["host", "name", "now", "settle", "team"]
    HOST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    SETTLE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    host: str
    name: str
    now: bool
    settle: _duration_pb2.Duration
    team: str
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., host: _Optional[str] = ..., now: bool = ..., settle: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class EnableResponse(_message.Message):
    __slots__ = ["changes", "job_result", "logs", "message", "status", "stream"]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    JOB_RESULT_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[UnitFileChange]
    job_result: str
    logs: _containers.RepeatedCompositeFieldContainer[LogEntry]
    message: str
    status: ActionStatus
    stream: StreamSummary
    def __init__(self, status: _Optional[_Union[ActionStatus, str]] = ..., message: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[UnitFileChange, _Mapping]]] = ..., job_result: _Optional[str] = ..., stream: _Optional[_Union[StreamSummary, _Mapping]] = ..., logs: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ["fresh_usage", "host", "log_lines", "name", "team"]
    FRESH_USAGE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    LOG_LINES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    fresh_usage: bool
    host: str
    log_lines: int
    name: str
    team: str
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., log_lines: _Optional[int] = ..., fresh_usage: bool = ..., host: _Optional[str] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ["logs", "logs_unavailable", "status"]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    LOGS_UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    logs: _containers.RepeatedCompositeFieldContainer[LogEntry]
    logs_unavailable: str
    status: StreamStatus
    def __init__(self, status: _Optional[_Union[StreamStatus, _Mapping]] = ..., logs: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ..., logs_unavailable: _Optional[str] = ...) -> None: ...

class HostError(_message.Message):
    __slots__ = ["code", "host", "message"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    host: str
    message: str
    def __init__(self, host: _Optional[str] = ..., code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ["host", "limit", "name", "team"]
    HOST_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    host: str
    limit: int
    name: str
    team: str
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., host: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ["runs"]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[Run]
    def __init__(self, runs: _Optional[_Iterable[_Union[Run, _Mapping]]] = ...) -> None: ...

class ListStreamsRequest(_message.Message):
    __slots__ = ["host", "page_size", "page_token", "team"]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    host: str
    page_size: int
    page_token: str
    team: str
    def __init__(self, team: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., host: _Optional[str] = ...) -> None: ...

class ListStreamsResponse(_message.Message):
    __slots__ = ["host_errors", "next_page_token", "streams"]
    HOST_ERRORS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    host_errors: _containers.RepeatedCompositeFieldContainer[HostError]
    next_page_token: str
    streams: _containers.RepeatedCompositeFieldContainer[StreamSummary]
    def __init__(self, streams: _Optional[_Iterable[_Union[StreamSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., host_errors: _Optional[_Iterable[_Union[HostError, _Mapping]]] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ["cursor", "host", "message", "pid", "priority", "source", "suppressed_lines", "time"]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_LINES_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    host: str
    message: str
    pid: int
    priority: int
    source: LogSource
    suppressed_lines: int
    time: _timestamp_pb2.Timestamp
    def __init__(self, time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., priority: _Optional[int] = ..., pid: _Optional[int] = ..., message: _Optional[str] = ..., cursor: _Optional[str] = ..., source: _Optional[_Union[LogSource, str]] = ..., host: _Optional[str] = ..., suppressed_lines: _Optional[int] = ...) -> None: ...

class LogsRequest(_message.Message):
    __slots__ = ["after_cursor", "follow", "host", "name", "since", "tail_lines", "team"]
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    TAIL_LINES_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    after_cursor: str
    follow: bool
    host: str
    name: str
    since: _timestamp_pb2.Timestamp
    tail_lines: int
    team: str
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., tail_lines: _Optional[int] = ..., follow: bool = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., after_cursor: _Optional[str] = ..., host: _Optional[str] = ...) -> None: ...

class LogsResponse(_message.Message):
    __slots__ = ["dropped_lines", "entries"]
    DROPPED_LINES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    dropped_lines: int
    entries: _containers.RepeatedCompositeFieldContainer[LogEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ..., dropped_lines: _Optional[int] = ...) -> None: ...

class RestartRequest(_message.Message):
    __slots__ = ["host", "name", "settle", "team"]
    HOST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SETTLE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    host: str
    name: str
    settle: _duration_pb2.Duration
    team: str
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., settle: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., host: _Optional[str] = ...) -> None: ...

class RestartResponse(_message.Message):
    __slots__ = ["job_result", "logs", "message", "status", "stream"]
    JOB_RESULT_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    job_result: str
    logs: _containers.RepeatedCompositeFieldContainer[LogEntry]
    message: str
    status: ActionStatus
    stream: StreamSummary
    def __init__(self, status: _Optional[_Union[ActionStatus, str]] = ..., message: _Optional[str] = ..., job_result: _Optional[str] = ..., stream: _Optional[_Union[StreamSummary, _Mapping]] = ..., logs: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ["ended", "exit_code", "exit_status", "host", "invocation_id", "last_lines", "restart", "result", "started"]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    EXIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_LINES_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    ended: _timestamp_pb2.Timestamp
    exit_code: str
    exit_status: int
    host: str
    invocation_id: str
    last_lines: _containers.RepeatedCompositeFieldContainer[LogEntry]
    restart: int
    result: str
    started: _timestamp_pb2.Timestamp
    def __init__(self, invocation_id: _Optional[str] = ..., started: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., ended: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., result: _Optional[str] = ..., exit_code: _Optional[str] = ..., exit_status: _Optional[int] = ..., restart: _Optional[int] = ..., last_lines: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ..., host: _Optional[str] = ...) -> None: ...

class StartRequest(_message.Message):
    __slots__ = ["host", "name", "settle", "team"]
    HOST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SETTLE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    host: str
    name: str
    settle: _duration_pb2.Duration
    team: str
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., settle: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., host: _Optional[str] = ...) -> None: ...

class StartResponse(_message.Message):
    __slots__ = ["job_result", "logs", "message", "status", "stream"]
    JOB_RESULT_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    job_result: str
    logs: _containers.RepeatedCompositeFieldContainer[LogEntry]
    message: str
    status: ActionStatus
    stream: StreamSummary
    def __init__(self, status: _Optional[_Union[ActionStatus, str]] = ..., message: _Optional[str] = ..., job_result: _Optional[str] = ..., stream: _Optional[_Union[StreamSummary, _Mapping]] = ..., logs: _Optional[_Iterable[_Union[LogEntry, _Mapping]]] = ...) -> None: ...

class StopRequest(_message.Message):
    __slots__ = ["host", "name", "team"]
    HOST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    host: str
    name: str
    team: str
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., host: _Optional[str] = ...) -> None: ...

class StopResponse(_message.Message):
    __slots__ = ["job_result", "message", "status", "stream"]
    JOB_RESULT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    job_result: str
    message: str
    status: ActionStatus
    stream: StreamSummary
    def __init__(self, status: _Optional[_Union[ActionStatus, str]] = ..., message: _Optional[str] = ..., job_result: _Optional[str] = ..., stream: _Optional[_Union[StreamSummary, _Mapping]] = ...) -> None: ...

class StreamStatus(_message.Message):
    __slots__ = ["active_state", "exit_signal", "exit_status", "host", "load_state", "main_pid", "memory_bytes", "name", "restart_count", "result", "started", "sub_state", "tasks", "team", "unit", "unit_file_state", "usage_age", "usage_partial", "usage_source"]
    ACTIVE_STATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    EXIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    LOAD_STATE_FIELD_NUMBER: _ClassVar[int]
    MAIN_PID_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESTART_COUNT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    SUB_STATE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    UNIT_FILE_STATE_FIELD_NUMBER: _ClassVar[int]
    USAGE_AGE_FIELD_NUMBER: _ClassVar[int]
    USAGE_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    USAGE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    active_state: ActiveState
    exit_signal: int
    exit_status: int
    host: str
    load_state: LoadState
    main_pid: int
    memory_bytes: int
    name: str
    restart_count: int
    result: str
    started: _timestamp_pb2.Timestamp
    sub_state: str
    tasks: int
    team: str
    unit: str
    unit_file_state: str
    usage_age: _duration_pb2.Duration
    usage_partial: bool
    usage_source: UsageSource
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., unit: _Optional[str] = ..., load_state: _Optional[_Union[LoadState, str]] = ..., active_state: _Optional[_Union[ActiveState, str]] = ..., sub_state: _Optional[str] = ..., started: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., main_pid: _Optional[int] = ..., tasks: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., usage_source: _Optional[_Union[UsageSource, str]] = ..., restart_count: _Optional[int] = ..., result: _Optional[str] = ..., exit_status: _Optional[int] = ..., exit_signal: _Optional[int] = ..., usage_partial: bool = ..., usage_age: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., unit_file_state: _Optional[str] = ..., host: _Optional[str] = ...) -> None: ...

class StreamSummary(_message.Message):
    __slots__ = ["active_state", "host", "load_state", "name", "sub_state", "team", "unit", "unit_file_state"]
    ACTIVE_STATE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    LOAD_STATE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUB_STATE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    UNIT_FILE_STATE_FIELD_NUMBER: _ClassVar[int]
    active_state: ActiveState
    host: str
    load_state: LoadState
    name: str
    sub_state: str
    team: str
    unit: str
    unit_file_state: str
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., unit: _Optional[str] = ..., load_state: _Optional[_Union[LoadState, str]] = ..., active_state: _Optional[_Union[ActiveState, str]] = ..., sub_state: _Optional[str] = ..., unit_file_state: _Optional[str] = ..., host: _Optional[str] = ...) -> None: ...

class UnitFileChange(_message.Message):
    __slots__ = ["destination", "path", "type"]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    destination: str
    path: str
    type: str
    def __init__(self, type: _Optional[str] = ..., path: _Optional[str] = ..., destination: _Optional[str] = ...) -> None: ...

class WatchStatusRequest(_message.Message):
    __slots__ = ["batch_initial", "host", "name", "team"]
    BATCH_INITIAL_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    batch_initial: bool
    host: str
    name: str
    team: str
    def __init__(self, team: _Optional[str] = ..., name: _Optional[str] = ..., batch_initial: bool = ..., host: _Optional[str] = ...) -> None: ...

class WatchStatusResponse(_message.Message):
    __slots__ = ["host_error", "initial_complete", "kind", "status", "statuses"]
    HOST_ERROR_FIELD_NUMBER: _ClassVar[int]
    INITIAL_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    host_error: HostError
    initial_complete: bool
    kind: WatchEventKind
    status: StreamStatus
    statuses: _containers.RepeatedCompositeFieldContainer[StreamStatus]
    def __init__(self, kind: _Optional[_Union[WatchEventKind, str]] = ..., status: _Optional[_Union[StreamStatus, _Mapping]] = ..., statuses: _Optional[_Iterable[_Union[StreamStatus, _Mapping]]] = ..., initial_complete: bool = ..., host_error: _Optional[_Union[HostError, _Mapping]] = ...) -> None: ...

class ActionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LogSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LoadState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ActiveState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class WatchEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class UsageSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
