import type { LogLine } from '../core/logLine.js';
import type { ActionResult, StreamStatus as CoreStatus, StreamSummary as CoreSummary } from '../core/status.js';
import { activeStateToProto, loadStateToProto, usageSourceToProto } from './stateNames.js';
import {
  ActionStatus,
  type LogEntry,
  LogSource,
  type StartResponse,
  type StreamStatus,
  type StreamSummary,
} from '../../gen/lit/stream/v1/stream.js';

export function summaryToProto(summary: CoreSummary): StreamSummary {
  return {
    team: summary.team,
    name: summary.name,
    unit: summary.unit,
    loadState: loadStateToProto(summary.loadState),
    activeState: activeStateToProto(summary.activeState),
    subState: summary.subState,
    unitFileState: summary.unitFileState ?? '',
    host: summary.host ?? '',
  };
}

export function statusToProto(status: CoreStatus): StreamStatus {
  return {
    ...summaryToProto(status),
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
export function actionToProto(result: ActionResult): StartResponse {
  return {
    status: result.status === 'SUCCESS' ? ActionStatus.ACTION_STATUS_SUCCESS : ActionStatus.ACTION_STATUS_FAILURE,
    message: result.message,
    jobResult: result.jobResult,
    stream: summaryToProto(result.stream),
    logs: (result.logs ?? []).map(logLineToProto),
  };
}

export function logLineToProto(line: LogLine): LogEntry {
  return {
    time: new Date(Number(line.timeUsec / 1000n)),
    priority: line.priority,
    pid: line.pid,
    message: line.message,
    cursor: line.cursor,
    source: line.source === 'worker' ? LogSource.LOG_SOURCE_WORKER : LogSource.LOG_SOURCE_SYSTEMD,
    host: '',
    suppressedLines: 0,
  };
}
