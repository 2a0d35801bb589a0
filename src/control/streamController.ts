import { canceledBeforeSent, judgeAction, withLogs } from '../core/actionResult.js';
import type { Action, ActionResult } from '../core/status.js';
import type { StreamRef } from '../core/streamRef.js';
import type { UnitNaming } from '../core/unitNaming.js';
import type { WaitOptions } from '../systemd/jobs.js';
import { runActionJob, summaryOf, type UnitStates } from './actionJob.js';
import { declaredUnit, type DeclarationSources } from './declarations.js';
import { LaterActions } from './laterActions.js';
import type { RunLines } from './runLines.js';
import { type StatusChanges, settleWindow } from './settleWindow.js';
import type { SystemdPort } from './systemdPort.js';
import { CanceledByStopError, UnitQueue } from './unitQueue.js';

/** What a Start or Restart may say beyond the caller's deadline and cancellation. */
export interface ActionOptions extends WaitOptions {
  /** How long the worker must keep running once the job is done; default the server's, 0: off. */
  readonly settleMs?: number;
}

export interface ControllerOptions {
  /** Which log lines an answer carries (those of this start); without it, none. */
  readonly lines?: RunLines;
  /** The settle window when a request names none, ms. Default 1000. */
  readonly settleMs?: number;
}

/** The settle window when neither the request nor the server names one (supervisord's startsecs). */
export const DEFAULT_SETTLE_MS = 1_000;

/** What the controller reads of the live view (StreamView): declarations, unit states, changes. */
export type ControlView = DeclarationSources['view'] & UnitStates & StatusChanges;

/**
 * The product's actions on streams, in the product's words, each as four steps: **declare**
 * (prove against systemd itself, not the view, which may trail a file change by a moment, that the
 * stream is declared: declarations.ts), **queue** (one job at a time per unit: unitQueue.ts),
 * **job** (send it to systemd and see what it left: actionJob.ts), **judge** (systemd's job result
 * and the unit's state: core/actionResult.ts; then, for a start, the settle window:
 * settleWindow.ts). Every unit name handed to systemd comes from UnitNaming applied to a
 * validated StreamRef; everything asked of systemd goes through the SystemdPort.
 */
export class StreamController {
  private readonly queue = new UnitQueue();
  private readonly later = new LaterActions();
  private readonly lines: RunLines | undefined;
  private readonly settleMs: number;

  constructor(
    private readonly systemd: SystemdPort,
    readonly naming: UnitNaming,
    private readonly view: ControlView,
    options: ControllerOptions = {},
  ) {
    this.lines = options.lines;
    this.settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  }

  /**
   * Starts the stream. SUCCESS once systemd's start job is done and the worker still runs the
   * settle time later (see settleWindow.ts for when that applies); FAILURE at once if it exits,
   * fails or is restarted within it.
   */
  start(ref: StreamRef, options: ActionOptions = {}): Promise<ActionResult> {
    return this.act('start', ref, options);
  }

  /** Stopping a stopped stream succeeds: systemd finishes the stop job `done` at once. */
  stop(ref: StreamRef, wait: WaitOptions = {}): Promise<ActionResult> {
    return this.act('stop', ref, wait);
  }

  /** Restarts the stream; succeeds as start() does. */
  restart(ref: StreamRef, options: ActionOptions = {}): Promise<ActionResult> {
    return this.act('restart', ref, options);
  }

  private async act(action: Action, ref: StreamRef, options: ActionOptions): Promise<ActionResult> {
    const unit = await declaredUnit({ naming: this.naming, view: this.view, systemd: this.systemd }, ref, action);
    const sinceUsec = BigInt(Date.now()) * 1000n;
    const settleMs = action === 'stop' ? 0 : (options.settleMs ?? this.settleMs);
    // From the moment this action is sent, a later Stop or Restart of the unit ends its window.
    const turn = this.later.follow(unit, action);
    try {
      // Only a window needs the restart count from before the job (one more round trip).
      const job = { action, ref, unit, baseline: settleMs > 0, turn };
      let done;
      try {
        done = await this.queue.run(unit, action, options, (slot) => runActionJob(this.systemd, this.view, job, slot));
      } catch (error) {
        if (!(error instanceof CanceledByStopError)) throw error;
        return canceledBeforeSent(action, summaryOf(ref, unit, await this.view.unitState(unit)));
      }
      const result = judgeAction(action, done.outcome);
      if (action === 'stop') return result;
      const judged =
        result.status === 'SUCCESS' && settleMs > 0
          ? await settleWindow(this.systemd, this.view, { action, ref, unit, ms: settleMs, interrupted: turn.interrupted }, { ...done, result }, options)
          : result;
      if (judged.status === 'SUCCESS' && settleMs === 0) return judged;
      // A failure's message ends with the worker's last line.
      return withLogs(judged, (await this.lines?.ofThisStart(ref, sinceUsec, judged.status === 'FAILURE', options.signal)) ?? []);
    } finally {
      turn.end();
    }
  }

  /**
   * Shutdown begins: Start/Stop/Restart requests not yet sent to systemd never will be; their
   * callers are answered at once (UNAVAILABLE, "not sent to systemd").
   */
  closeActions(): void {
    this.queue.close();
  }

  /** The grace period is over: callers still waiting for a job are told it is still running in systemd. */
  abandonActions(): void {
    this.queue.abandon();
  }

  /** Callers of Start/Stop/Restart waiting for their turn on a unit (for tests and diagnostics). */
  queuedActions(unit: string): number {
    return this.queue.queued(unit);
  }
}
