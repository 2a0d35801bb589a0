import type { ActionResult, StreamStatus as CoreStatus, StreamSummary as CoreSummary } from '../core/status.js';
import { activeStateToProto, loadStateToProto, usageSourceToProto } from '../core/stateNames.js';
import {
  ActionStatus,
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
    restartCount: status.restartCount,
    result: status.result,
    exitStatus: status.exitStatus,
    exitSignal: status.exitSignal,
  };
}

/** Start, Stop and Restart responses share one shape. */
export function actionToProto(result: ActionResult): StartResponse {
  return {
    status: result.status === 'SUCCESS' ? ActionStatus.ACTION_STATUS_SUCCESS : ActionStatus.ACTION_STATUS_FAILURE,
    message: result.message,
    jobResult: result.jobResult,
    stream: summaryToProto(result.stream),
  };
}
