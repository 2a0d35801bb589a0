import type { Action, ActionResult, StreamSummary } from './status.js';

const PAST_TENSE: Record<Action, string> = { start: 'started', stop: 'stopped', restart: 'restarted' };

/** What systemd told us about the unit once its job had finished. */
export interface JobOutcome {
  /** The JobRemoved signal's result: done, canceled, timeout, failed, dependency, skipped. */
  readonly jobResult: string;
  readonly stream: StreamSummary;
  /** The unit's Result property: success, exit-code, signal, core-dump, timeout, ... */
  readonly unitResult: string;
  readonly exitStatus?: number;
  readonly exitSignal?: number;
}

/**
 * SUCCESS only when the job finished as `done` (org.freedesktop.systemd1(5), "JobRemoved": done
 * means the job was successful) and, for start and restart, the unit is not `failed`. A stop job
 * that is `done` has left the stream not running, which is what stop asks for, even when the unit
 * ends up `failed`: that records how its last run ended (e.g. a worker killed during
 * ExecStartPre ends with Result `signal`), as `systemctl stop` also treats it. Everything else is
 * FAILURE with systemd's own words for why.
 */
export function judgeAction(action: Action, outcome: JobOutcome): ActionResult {
  const { jobResult, stream } = outcome;
  const succeeded = jobResult === 'done' && (action === 'stop' || stream.activeState !== 'failed');
  return {
    status: succeeded ? 'SUCCESS' : 'FAILURE',
    message: succeeded ? `Stream ${PAST_TENSE[action]} successfully.` : failureMessage(action, outcome),
    jobResult,
    stream,
  };
}

function failureMessage(action: Action, outcome: JobOutcome): string {
  const reasons = [`systemd's ${action} job ended '${outcome.jobResult}'`];
  if (outcome.stream.activeState === 'failed' || outcome.unitResult !== 'success') {
    reasons.push(`the unit is ${outcome.stream.activeState} with result '${outcome.unitResult}'`);
  }
  if (outcome.exitStatus !== undefined) reasons.push(`exit status ${outcome.exitStatus}`);
  if (outcome.exitSignal !== undefined) reasons.push(`killed by signal ${outcome.exitSignal}`);
  return `Stream failed to ${action}: ${reasons.join(', ')}. See: journalctl -u ${outcome.stream.unit}`;
}

/**
 * A Start or Restart that a Stop canceled before it was sent to systemd: FAILURE, job result
 * `canceled` as systemd would have reported had the request been sent (the stop job replaces it),
 * with the stream as it is now.
 */
export function canceledBeforeSent(action: Action, stream: StreamSummary): ActionResult {
  return {
    status: 'FAILURE',
    message: `Stream failed to ${action}: a Stop of the stream came while the ${action} waited for its turn, so it was canceled before it was sent to systemd.`,
    jobResult: 'canceled',
    stream,
  };
}
