import { canceledBeforeSent, judgeAction, withLogs } from '../core/actionResult.js';
import { Failure } from '../core/errors.js';
import type { Action, ActionResult, EnablementResult, StreamSummary } from '../core/status.js';
import type { StreamRef } from '../core/streamRef.js';
import type { UnitNaming } from '../core/unitNaming.js';
import type { WaitOptions } from '../systemd/jobs.js';
import { runActionJob, summaryOf, type UnitStates } from './actionJob.js';
import { declaredUnit, type DeclarationSources, proveDeclared } from './declarations.js';
import { disableUnitFile, enableUnitFile, type ManagerScope, type UnitFileOutcome, type UnitFileSources } from './enablement.js';
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
  /** Which manager systemd is: what a stream is wanted by to start at boot. Default `user`. */
  readonly scope?: ManagerScope;
}

/** What an Enable may say beyond a Start's options. */
export interface EnableOptions extends ActionOptions {
  /** Also start the stream, answered as Start is. */
  readonly now?: boolean;
}

/** What a Disable may say beyond the caller's deadline and cancellation. */
export interface DisableOptions extends WaitOptions {
  /** Also stop the stream, answered as Stop is. */
  readonly now?: boolean;
}

/** The settle window when neither the request nor the server names one (supervisord's startsecs). */
export const DEFAULT_SETTLE_MS = 1_000;

/** What the controller reads of the live view (StreamView): declarations, unit states, changes. */
export type ControlView = DeclarationSources['view'] &
  UnitStates &
  StatusChanges & {
    /** The stream as a listing shows it (with its UnitFileState), once the view reflects the file changes seen so far. */
    summary(ref: StreamRef): Promise<StreamSummary>;
  };

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
  private readonly unitFiles: UnitFileSources;

  constructor(
    private readonly systemd: SystemdPort,
    readonly naming: UnitNaming,
    private readonly view: ControlView,
    options: ControllerOptions = {},
  ) {
    this.lines = options.lines;
    this.settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
    this.unitFiles = { systemd, naming, scope: options.scope ?? 'user' };
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

  /**
   * Makes the stream start at boot, as `systemctl enable` does (enablement.ts), under the same
   * rules as Start (declared, unmasked); with `now`, then starts it, answered as Start is.
   */
  async enable(ref: StreamRef, options: EnableOptions = {}): Promise<EnablementResult> {
    const { unit, file } = await proveDeclared(this.sources, ref, 'enable');
    const outcome = await enableUnitFile(this.unitFiles, ref, unit, file!);
    return this.followedBy(ref, outcome, options.now ? () => this.act('start', ref, options) : undefined);
  }

  /** Undoes enable, as `systemctl disable` does; with `now`, then stops the stream, answered as Stop is. */
  async disable(ref: StreamRef, options: DisableOptions = {}): Promise<EnablementResult> {
    const { unit, file } = await proveDeclared(this.sources, ref, 'disable');
    const outcome = await disableUnitFile(this.unitFiles, ref, unit, file!);
    return this.followedBy(ref, outcome, options.now ? () => this.act('stop', ref, options) : undefined);
  }

  /**
   * The answer to an Enable or Disable: what changed on disk and, with `now`, the Start's or Stop's
   * answer after it (its status; both sentences). The change stays whatever the action does, so an
   * error of the action says that it came after it.
   */
  private async followedBy(ref: StreamRef, outcome: UnitFileOutcome, action: (() => Promise<ActionResult>) | undefined): Promise<EnablementResult> {
    const { changes, message } = outcome;
    if (!action) return { status: 'SUCCESS', message, changes, jobResult: '', stream: await this.view.summary(ref) };
    let result: ActionResult;
    try {
      result = await action();
    } catch (error) {
      if (error instanceof Failure) error.message = `${message} Then: ${error.message}`;
      throw error;
    }
    const { unitFileState } = await this.view.summary(ref);
    return { ...result, message: `${message} ${result.message}`, changes, stream: { ...result.stream, unitFileState } };
  }

  private get sources(): DeclarationSources {
    return { naming: this.naming, view: this.view, systemd: this.systemd };
  }

  private async act(action: Action, ref: StreamRef, options: ActionOptions): Promise<ActionResult> {
    const unit = await declaredUnit(this.sources, ref, action);
    const sinceUsec = BigInt(Date.now()) * 1000n;
    // The worker running when the action came: a line it writes late (a Restart stops it, a Start
    // may wait for a Stop of it) is not the new run's.
    const previousMainPid = this.view.knownState(unit)?.MainPID;
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
      return withLogs(judged, (await this.lines?.ofThisStart(ref, sinceUsec, judged.status === 'FAILURE', options.signal, previousMainPid)) ?? []);
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
