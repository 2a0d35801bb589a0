import { ACTIVE_STATES, LOAD_STATES, USAGE_SOURCES } from '../core/stateWords.js';
import type { LogLine } from '../core/logLine.js';
import type { StreamRun } from '../core/run.js';
import type { ActionResult, EnablementResult, StreamStatus, StreamSummary, UnitFileChange } from '../core/status.js';
import {
  ActionStatus,
  type DisableResponse,
  type EnableResponse,
  LogSource,
  type LogEntry,
  type Run,
  type StartResponse,
  type StreamStatus as ProtoStatus,
  type StreamSummary as ProtoSummary,
} from '../../gen/lit/stream/v1/stream.js';

/**
 * An agent's answers in the product's words, each naming `host`: the gateway's name for the agent,
 * whatever the agent calls itself (its `--host-name` matters only to its direct callers). The
 * enums are in the order of core/stateWords.ts's word lists (enum value = index + 1).
 */

export function summaryFromProto(summary: ProtoSummary, host: string): StreamSummary {
  return {
    team: summary.team,
    name: summary.name,
    unit: summary.unit,
    loadState: LOAD_STATES[summary.loadState - 1] ?? '',
    activeState: ACTIVE_STATES[summary.activeState - 1] ?? '',
    subState: summary.subState,
    ...(summary.unitFileState ? { unitFileState: summary.unitFileState } : {}),
    host,
  };
}

export function statusFromProto(status: ProtoStatus, host: string): StreamStatus {
  return {
    ...summaryFromProto(status, host),
    started: status.started,
    mainPid: status.mainPid,
    tasks: status.tasks,
    memoryBytes: status.memoryBytes,
    usageSource: USAGE_SOURCES.at(Math.max(0, status.usageSource)) ?? 'none',
    ...(status.usagePartial ? { usagePartial: true } : {}),
    ...(status.usageAge ? { usageAgeMs: status.usageAge.seconds * 1000 + status.usageAge.nanos / 1e6 } : {}),
    restartCount: status.restartCount,
    result: status.result,
    exitStatus: status.exitStatus,
    exitSignal: status.exitSignal,
  };
}

export function logLineFromProto(entry: LogEntry, host: string): LogLine {
  return {
    timeUsec: BigInt(entry.time?.getTime() ?? 0) * 1000n,
    priority: entry.priority,
    pid: entry.pid,
    message: entry.message,
    cursor: entry.cursor,
    source: entry.source === LogSource.LOG_SOURCE_SYSTEMD ? 'systemd' : entry.source === LogSource.LOG_SOURCE_JOURNAL ? 'journal' : 'worker',
    ...(entry.source === LogSource.LOG_SOURCE_JOURNAL ? { suppressed: Number(entry.suppressedLines) } : {}),
    host,
  };
}

/** A run an agent answered, on its host. */
export function runFromProto(run: Run, host: string): StreamRun {
  const usec = (time: Date | undefined) => (time === undefined ? undefined : BigInt(time.getTime()) * 1000n);
  return {
    invocationId: run.invocationId,
    startedUsec: usec(run.started),
    endedUsec: usec(run.ended),
    result: run.result || undefined,
    exitCode: run.exitCode || undefined,
    exitStatus: run.exitStatus,
    restart: run.restart,
    lastLines: run.lastLines.map((entry) => logLineFromProto(entry, host)),
    host,
  };
}

/** A Start, Stop or Restart answer (Stop's has no log lines). */
export function actionFromProto(response: Omit<StartResponse, 'logs'> & { logs?: LogEntry[] }, host: string): ActionResult {
  return {
    status: response.status === ActionStatus.ACTION_STATUS_SUCCESS ? 'SUCCESS' : 'FAILURE',
    message: response.message,
    jobResult: response.jobResult,
    stream: response.stream ? summaryFromProto(response.stream, host) : missingStream(host),
    logs: (response.logs ?? []).map((entry) => logLineFromProto(entry, host)),
  };
}

/** An Enable or Disable answer (a DisableResponse is an EnableResponse without log lines). */
export function enablementFromProto(response: EnableResponse | DisableResponse, host: string): EnablementResult {
  return { ...actionFromProto(response, host), changes: response.changes.filter(isUnitFileChange) };
}

/** A change as the agent's systemd made it: a symlink created or removed (agents send no other). */
function isUnitFileChange(change: { type: string }): change is UnitFileChange {
  return change.type === 'symlink' || change.type === 'unlink';
}

function missingStream(host: string): StreamSummary {
  return { team: '', name: '', unit: '', loadState: '', activeState: '', subState: '', host };
}
