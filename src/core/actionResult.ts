import { InvalidArgumentError } from './errors.js';
import { type LogLine, quoteLine } from './logLine.js';
import type { Action, ActionResult, StreamStatus, StreamSummary } from './status.js';

const PAST_TENSE: Record<Action, string> = { start: 'started', stop: 'stopped', restart: 'restarted' };
/** The RPC that asks for each action, as callers know it. */
const RPC_NAME: Record<Action, string> = { start: 'Start', stop: 'Stop', restart: 'Restart' };

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
  if (outcome.stream.subState === 'auto-restart') reasons.push('and systemd is restarting it (Restart=)');
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

/**
 * A start or restart whose job was `done` but whose worker did not hold for the settle window
 * (supervisord's `startsecs`, PM2's `min_uptime`): FAILURE, saying what systemd reported of the
 * worker's end within how long, and whether systemd is restarting it (Restart=). `ended` is the
 * status that showed the worker gone; `after` is systemd's answer read right after it, which says
 * where the unit came to rest (systemd passes through `failed` on its way to `auto-restart`).
 * `restartsBefore` is NRestarts as this start counts from (known before its job was sent): a
 * restart while the job ran shows only there, the worker running again by the time the job was done.
 */
export function judgeSettle(
  action: 'start' | 'restart',
  result: ActionResult,
  ended: StreamStatus,
  settleMs: number,
  after: StreamStatus = ended,
  restartsBefore: number = ended.restartCount,
): ActionResult {
  const restarts = Math.max(ended.restartCount, after.restartCount) - restartsBefore;
  const restarting = [ended, after].some((status) => status.subState === 'auto-restart') || restarts > 0;
  const exited = [ended, after].find((status) => status.exitStatus !== undefined || status.exitSignal !== undefined);
  const within = ` within ${formatSettle(settleMs)}${restarting ? ' and systemd is restarting it (Restart=)' : ''}`;
  const how =
    exited?.exitStatus !== undefined
      ? `main process exited with status ${exited.exitStatus}${within}`
      : exited?.exitSignal !== undefined
        ? `main process was killed by signal ${exited.exitSignal}${within}`
        : after.activeState === 'failed'
          ? `the unit failed with result '${after.result}'${within}`
          : restarts > 0 && ended.subState !== 'auto-restart'
            ? `systemd restarted the worker (Restart=) ${restarts === 1 ? 'once' : `${restarts} times`} since the ${action} was asked for`
            : `the unit went ${ended.activeState}/${ended.subState}${within}`;
  return {
    ...result,
    status: 'FAILURE',
    message: `Stream failed to ${action}: ${how}.`,
    stream: {
      ...result.stream,
      activeState: after.activeState,
      subState: after.subState,
      loadState: after.loadState || result.stream.loadState,
    },
  };
}

/**
 * A start or restart whose job was `done` and whose worker still ran when a later Stop or Restart
 * of the stream (`by`, from any caller) was sent, `afterMs` into the settle window. SUCCESS: systemd
 * started the stream and it held until then; the window ends there, since whether it would have
 * held is moot, and the message says so, so that what the later action did (e.g. the unit going
 * `deactivating`) is not read as the worker failing.
 */
export function judgeSuperseded(action: 'start' | 'restart', result: ActionResult, by: Action, afterMs: number, settleMs: number): ActionResult {
  return {
    ...result,
    message: `Stream ${PAST_TENSE[action]}; a later ${RPC_NAME[by]} of the stream was sent ${afterMs} ms into the ${formatSettle(settleMs)} settle window, which ended there.`,
  };
}

/** The result with its log lines, a FAILURE's message ending with the worker's last line. */
export function withLogs(result: ActionResult, logs: readonly LogLine[]): ActionResult {
  const lastOfWorker = [...logs].reverse().find((line) => line.source === 'worker');
  if (result.status === 'SUCCESS' || !lastOfWorker) return { ...result, logs };
  // Before the "See: journalctl …" hint, if the message has one.
  const [reason = '', hint] = result.message.split(/(?=\. See: )/, 2);
  const message = `${reason.replace(/\.$/, '')} — last log: ${quoteLine(lastOfWorker)}${hint ?? ''}`;
  return { ...result, message, logs };
}

/** 1000 → `1 s`, 1500 → `1.5 s`, 300 → `300 ms`. */
export function formatSettle(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(3))} s` : `${ms} ms`;
}

/** Longest settle window a request may ask for: the answer waits that long. */
export const MAX_SETTLE_MS = 300_000;

/**
 * A request's settle window (a google.protobuf.Duration's seconds and nanos) in ms; undefined when
 * the request names none. Negative or longer than MAX_SETTLE_MS: INVALID_ARGUMENT.
 */
export function parseSettle(duration: { seconds: number; nanos: number } | undefined): number | undefined {
  if (duration === undefined) return undefined;
  const ms = duration.seconds * 1000 + Math.round(duration.nanos / 1e6);
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_SETTLE_MS || (duration.seconds > 0 && duration.nanos < 0)) {
    throw new InvalidArgumentError(`settle must be between 0 and ${MAX_SETTLE_MS / 1000} s`);
  }
  return ms;
}
