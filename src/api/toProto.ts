import { status } from '@grpc/grpc-js';
import type { HostError as CoreHostError } from '../core/backend.js';
import type { LogLine } from '../core/logLine.js';
import type { StreamRun } from '../core/run.js';
import type { ActionResult, StreamStatus as CoreStatus, StreamSummary as CoreSummary, EnablementResult } from '../core/status.js';
import { activeStateToProto, loadStateToProto, usageSourceToProto } from './stateNames.js';
import {
  ActionStatus,
  type HostError,
  type EnableResponse,
  type LogEntry,
  LogSource,
  type Run,
  type StartResponse,
  type StreamStatus,
  type StreamSummary,
} from '../../gen/lit/stream/v1/stream.js';

/**
 * Each mapping takes `host`, the host of a backend that serves one (StreamBackend.host), for values
 * that do not name their own.
 */
export function summaryToProto(summary: CoreSummary, host = ''): StreamSummary {
  return {
    team: summary.team,
    name: summary.name,
    unit: summary.unit,
    loadState: loadStateToProto(summary.loadState),
    activeState: activeStateToProto(summary.activeState),
    subState: summary.subState,
    unitFileState: summary.unitFileState ?? '',
    host: summary.host ?? host,
  };
}

export function statusToProto(status: CoreStatus, host = ''): StreamStatus {
  return {
    ...summaryToProto(status, host),
    started: status.started,
    mainPid: status.mainPid,
    tasks: status.tasks,
    memoryBytes: status.memoryBytes,
    usageSource: usageSourceToProto(status.usageSource),
    usagePartial: status.usagePartial ?? false,
    usageAge: status.usageAgeMs === undefined ? undefined : durationOf(status.usageAgeMs),
    restartCount: status.restartCount,
    result: status.result,
    exitStatus: status.exitStatus,
    exitSignal: status.exitSignal,
  };
}

/** A google.protobuf.Duration of `ms` milliseconds (≥ 0). */
function durationOf(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** Start, Stop and Restart responses share one shape. */
export function actionToProto(result: ActionResult, host = ''): StartResponse {
  return {
    status: result.status === 'SUCCESS' ? ActionStatus.ACTION_STATUS_SUCCESS : ActionStatus.ACTION_STATUS_FAILURE,
    message: result.message,
    jobResult: result.jobResult,
    stream: summaryToProto(result.stream, host),
    logs: (result.logs ?? []).map((line) => logLineToProto(line, result.stream.host ?? host)),
  };
}

/** Enable and Disable responses share one shape (Disable's has no logs: a Stop's answer carries none). */
export function enablementToProto(result: EnablementResult, host = ''): EnableResponse {
  return {
    status: result.status === 'SUCCESS' ? ActionStatus.ACTION_STATUS_SUCCESS : ActionStatus.ACTION_STATUS_FAILURE,
    message: result.message,
    changes: result.changes.map(({ type, path, destination }) => ({ type, path, destination })),
    jobResult: result.jobResult,
    stream: summaryToProto(result.stream, host),
    logs: (result.logs ?? []).map((line) => logLineToProto(line, result.stream.host ?? host)),
  };
}

const LOG_SOURCES: Record<LogLine['source'], LogSource> = {
  worker: LogSource.LOG_SOURCE_WORKER,
  systemd: LogSource.LOG_SOURCE_SYSTEMD,
  journal: LogSource.LOG_SOURCE_JOURNAL,
};

export function logLineToProto(line: LogLine, host = ''): LogEntry {
  return {
    time: new Date(Number(line.timeUsec / 1000n)),
    priority: line.priority,
    pid: line.pid,
    message: line.message,
    cursor: line.cursor,
    source: LOG_SOURCES[line.source],
    host: line.host ?? host,
    suppressedLines: line.suppressed ?? 0,
  };
}

/** A run; `host` is the backend's, for a run that names none. */
export function runToProto(run: StreamRun, host = ''): Run {
  const time = (usec: bigint | undefined) => (usec === undefined ? undefined : new Date(Number(usec / 1000n)));
  const runHost = run.host ?? host;
  return {
    invocationId: run.invocationId,
    started: time(run.startedUsec),
    ended: time(run.endedUsec),
    result: run.result ?? '',
    exitCode: run.exitCode ?? '',
    exitStatus: run.exitStatus,
    restart: run.restart,
    lastLines: run.lastLines.map((line) => logLineToProto(line, runHost)),
    host: runHost,
  };
}

export function hostErrorToProto(error: CoreHostError): HostError {
  return { host: error.host, code: status[error.code], message: error.message };
}
