import { EventEmitter } from 'node:events';
import { basename } from 'node:path';
import { canceledBeforeSent, formatSettle, type JobOutcome, judgeAction, judgeSettle, judgeSuperseded, withLogs } from '../core/actionResult.js';
import { StreamMaskedError, StreamNotDeclaredError, StreamUndeclaredError } from '../core/errors.js';
import { type Page, paginate } from '../core/paging.js';
import type { Action, ActionResult, StreamStatus, StreamSummary } from '../core/status.js';
import { parseTeam, type StreamRef } from '../core/streamRef.js';
import type { UnitNaming } from '../core/unitNaming.js';
import { BusUnavailableError } from '../systemd/errors.js';
import type { WaitOptions } from '../systemd/jobs.js';
import { SERVICE_INTERFACE } from '../systemd/manager.js';
import { hasProcesses, readServiceState, type ServiceState } from '../systemd/serviceState.js';
import type { SystemdSession } from '../systemd/systemdSession.js';
import { judgeDeclaration } from './declarations.js';
import { awaitSettle, type Superseded, settleApplies } from './settleWindow.js';
import type { RunLines } from './runLines.js';
import { type StreamView, toStatus } from './streamView.js';
import { CanceledByStopError, type JobSlot, UnitQueue } from './unitQueue.js';

/** Where the controller gets the current systemd session when it needs one (the SystemdLink). */
export interface SessionSource {
  session(): SystemdSession;
}

export interface ListOptions {
  readonly pageSize: number;
  readonly pageToken: string;
}

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

const ENQUEUE: Record<Action, 'StartUnit' | 'StopUnit' | 'RestartUnit'> = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
};

/**
 * The product's operations on streams, in the product's words. Reads are served from the
 * signal-driven StreamView; actions go to systemd, after proving against systemd itself (not the
 * view, which may trail a file change by a moment) that the stream is declared. Every unit name
 * handed to systemd comes from UnitNaming applied to a validated StreamRef.
 */
export class StreamController {
  private readonly queue = new UnitQueue();
  /**
   * Tells, per unit (the event name), of each action about to be sent to systemd: (action, sender),
   * the sender being the act() that sends it. A settle window learns from it that a later Stop or
   * Restart took the stream over; told before the request leaves, it is told before any of the
   * signals the request causes.
   */
  private readonly sending = new EventEmitter().setMaxListeners(0);
  /**
   * What to call, per session, when it ends: the settle windows watching through it. One `closed`
   * listener per session however many windows wait (Node warns past 10 listeners as a likely leak).
   */
  private readonly sessionEnds = new WeakMap<SystemdSession, Set<(error: Error) => void>>();

  private readonly lines: RunLines | undefined;
  private readonly settleMs: number;

  constructor(
    private readonly systemd: SessionSource,
    readonly naming: UnitNaming,
    private readonly view: StreamView,
    options: ControllerOptions = {},
  ) {
    this.lines = options.lines;
    this.settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  }

  /** The team's declared streams with their state, from memory (UNAVAILABLE without systemd). */
  async list(teamInput: string, { pageSize, pageToken }: ListOptions): Promise<Page<StreamSummary>> {
    const team = parseTeam(teamInput);
    return paginate(team, await this.view.list(team), pageSize, pageToken);
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

  async status(ref: StreamRef): Promise<StreamStatus> {
    return this.view.status(ref);
  }

  private async act(action: Action, ref: StreamRef, options: ActionOptions): Promise<ActionResult> {
    const unit = await this.declaredUnit(ref, action);
    const sinceUsec = BigInt(Date.now()) * 1000n;
    const self = Symbol(action);
    // From the moment this action is sent, a later Stop or Restart of the unit ends its settle
    // window (a later Start of a running stream changes nothing in systemd).
    const later = new AbortController();
    let sent = false;
    const onSending = (other: Action, sender: symbol) => {
      if (sender === self) sent = true;
      else if (sent && other !== 'start' && !later.signal.aborted) later.abort({ supersededBy: other } satisfies Superseded);
    };
    this.sending.on(unit, onSending);
    try {
      let job: JobDone;
      // Only a window needs the restart count from before the job (one more round trip).
      const baseline = action !== 'stop' && (options.settleMs ?? this.settleMs) > 0;
      try {
        job = await this.queue.run(unit, action, options, (slot) => this.runJob(action, ref, unit, slot, self, baseline));
      } catch (error) {
        if (!(error instanceof CanceledByStopError)) throw error;
        return canceledBeforeSent(action, summaryOf(ref, unit, await this.view.unitState(unit)));
      }
      if (action === 'stop') return job.result;
      return await this.settle(action, ref, unit, job, sinceUsec, { ...options, later });
    } finally {
      this.sending.off(unit, onSending);
    }
  }

  /**
   * After a start or restart job: the settle window (outside the unit's queue, so a Stop is never
   * held up by it), then the log lines of this start. A failure's message ends with the worker's
   * last line. `later` aborts when a later action takes the stream over; the window also ends, in
   * UNAVAILABLE, when the session the job ran on does: the signals it waits for are then lost (a
   * new session's view starts afresh), and a status read after that would say nothing of what
   * happened in between.
   */
  private async settle(
    action: 'start' | 'restart',
    ref: StreamRef,
    unit: string,
    { result, session, restartsBefore }: JobDone,
    sinceUsec: bigint,
    options: ActionOptions & { readonly later: AbortController },
  ): Promise<ActionResult> {
    const settleMs = options.settleMs ?? this.settleMs;
    let judged = result;
    if (result.status === 'SUCCESS' && settleMs > 0) {
      const { later } = options;
      const lost = (error: Error) => {
        const message = `the session with systemd ended within the ${formatSettle(settleMs)} settle window (${error.message}): systemd had started the stream; whether its worker holds is not known`;
        if (!later.signal.aborted) later.abort(new BusUnavailableError(message));
      };
      const stopListening = this.onSessionEnd(session, lost);
      try {
        const type = String(await this.systemd.session().manager.getUnitProperty(unit, SERVICE_INTERFACE, 'Type'));
        if (settleApplies(type)) {
          const outcome = await awaitSettle(this.view, { ref, ms: settleMs, restartsBefore, interrupted: later.signal }, options);
          if (outcome.kind === 'ended') {
            // One round trip to systemd: its answer comes after every signal it sent before, so it
            // tells where the unit came to rest (e.g. `failed` was on the way to `auto-restart`).
            const after = readServiceState(await this.systemd.session().manager.getUnitProperties(unit));
            judged = judgeSettle(action, result, outcome.status, settleMs, toStatus(ref, unit, after), restartsBefore);
          } else if (outcome.kind === 'superseded') {
            judged = judgeSuperseded(action, result, outcome.by, outcome.afterMs, settleMs);
          }
        }
      } finally {
        stopListening();
      }
    }
    if (judged.status === 'SUCCESS' && settleMs === 0) return judged;
    const lines = (await this.lines?.ofThisStart(ref, sinceUsec, judged.status === 'FAILURE', options.signal)) ?? [];
    return withLogs(judged, lines);
  }

  /** Calls `callback` when `session` ends (at once if it has); returns how to stop listening. */
  private onSessionEnd(session: SystemdSession, callback: (error: Error) => void): () => void {
    if (!session.isOpen) {
      callback(new Error('it ended as the job finished'));
      return () => undefined;
    }
    let callbacks = this.sessionEnds.get(session);
    if (!callbacks) {
      const all = new Set<(error: Error) => void>();
      callbacks = all;
      this.sessionEnds.set(session, all);
      session.once('closed', (error: Error) => {
        for (const call of all) call(error);
        all.clear();
      });
    }
    callbacks.add(callback);
    const mine = callbacks;
    return () => mine.delete(callback);
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

  /**
   * Sends the action's job and judges it; with the session it ran on (its signals told the outcome)
   * and, when `baseline`, the restart count this start counts from (see restartBaseline).
   */
  private async runJob(action: Action, ref: StreamRef, unit: string, slot: JobSlot, sender: symbol, baseline: boolean): Promise<JobDone> {
    // The session current when the job is sent: a job belongs to the session it was started on.
    const session = this.systemd.session();
    const { manager } = session;
    const method = ENQUEUE[action];
    const restartsBefore = baseline ? await this.restartBaseline(action, unit, manager) : undefined;
    // `replace`, as `systemctl` does: the queue lets a Stop through while a start or restart job
    // runs, and the stop job replaces it; otherwise the queue leaves no job of ours to replace.
    const job = await slot.job(() => {
      this.sending.emit(unit, action, sender);
      return manager[method](unit, 'replace');
    }, session.jobs);
    // No extra round trip: systemd flushes a unit's PropertiesChanged before the JobRemoved of
    // its job (manager_dispatch_dbus_queue() sends the unit queue, then the job queue), and one
    // connection delivers them in order, so the view already holds the state the job left.
    // That is also what makes every later read see it (read-your-writes).
    // A plain success needs nothing more than that. For a failure, or a unit loaded just now whose
    // values the view has not all seen, read the unit whole: the message names systemd's reasons.
    const known = this.view.knownState(unit);
    const plainSuccess = known && job.result === 'done' && known.ActiveState !== '' && known.ActiveState !== 'failed';
    const state = plainSuccess ? withLoadState(known) : await this.view.unitState(unit);
    const outcome: JobOutcome = {
      jobResult: job.result,
      stream: summaryOf(ref, unit, state),
      unitResult: state.Result,
      exitStatus: state.exitStatus,
      exitSignal: state.exitSignal,
    };
    return { result: judgeAction(action, outcome), session, restartsBefore };
  }

  /**
   * NRestarts as a start or restart about to be sent will count the worker's restarts from. systemd
   * zeroes the counter when a unit starts after a stop that was not its own restart
   * (service_enter_dead() sets flush_n_restarts, service_start() applies it): so 0 when the unit is
   * inactive or failed, or for a Restart, which stops it first — unless systemd is about to restart
   * it itself (SubState `auto-restart`: a stop from there does not flush, and a start waits for that
   * restart). Otherwise (running, or starting or stopping already), systemd's current count.
   */
  private async restartBaseline(action: Action, unit: string, manager: SystemdSession['manager']): Promise<number> {
    const known = this.view.knownState(unit);
    const autoRestart = known?.SubState === 'auto-restart';
    const stopped = !hasProcesses(known?.ActiveState);
    if (!autoRestart && (stopped || action === 'restart')) return 0;
    return Number(await manager.getUnitProperty(unit, SERVICE_INTERFACE, 'NRestarts'));
  }

  /**
   * The stream's unit name, once its unit file is proven to declare it (and, to start, unmasked).
   * The view answers first, so systemd is never even asked about a stream it does not show;
   * systemd's own file list then confirms it, as the view may trail a file change by a moment.
   * A stream shown without a declaring file (removed while its unit runs) can only be stopped.
   */
  private async declaredUnit(ref: StreamRef, action: Action): Promise<string> {
    const unit = this.naming.unitOf(ref);
    const shown = await this.view.declaration(ref);
    // The pattern is the exact unit name: validation leaves no glob characters in it.
    const files = await this.systemd.session().manager.ListUnitFilesByPatterns([], [unit]);
    const file = files.find((candidate) => basename(candidate.path) === unit);
    const subject = `stream '${ref.name}' of team '${ref.team}'`;
    const declaration = file
      ? await judgeDeclaration(file, this.naming.templateOf(ref.team))
      : { declared: false as const, why: `there is no unit file ${unit} in systemd's unit search path` };
    if (!declaration.declared) {
      // It was declared until a moment ago (the view still shows it): stopping is always safe.
      if (action === 'stop') return unit;
      if (!shown.undeclared) throw new StreamNotDeclaredError(`${subject} is not declared: ${declaration.why}`);
      throw new StreamUndeclaredError(`${subject} is no longer declared (${declaration.why}) but still runs: it can be stopped, not ${action}ed`);
    }
    if (declaration.masked && action !== 'stop') {
      throw new StreamMaskedError(`${subject} is masked (${declaration.path}); unmask ${unit} before you ${action} it`);
    }
    return unit;
  }
}

/** What a job left: its judged result, the session it ran on, the restart count it counts from. */
interface JobDone {
  readonly result: ActionResult;
  readonly session: SystemdSession;
  readonly restartsBefore?: number;
}

function summaryOf(ref: StreamRef, unit: string, state: ServiceState): StreamSummary {
  return { team: ref.team, name: ref.name, unit, loadState: state.LoadState, activeState: state.ActiveState, subState: state.SubState };
}

/**
 * systemd announces a unit's ActiveState as it loads and starts it, but not always its LoadState:
 * a unit that is running, or was just stopped by a job, was loaded, so say so rather than "unknown".
 */
function withLoadState(state: ServiceState): ServiceState {
  return state.LoadState === '' ? { ...state, LoadState: 'loaded' } : state;
}
