import { basename } from 'node:path';
import { canceledBeforeSent, type JobOutcome, judgeAction } from '../core/actionResult.js';
import { StreamMaskedError, StreamNotDeclaredError, StreamUndeclaredError } from '../core/errors.js';
import { type Page, paginate } from '../core/paging.js';
import type { Action, ActionResult, StreamStatus, StreamSummary } from '../core/status.js';
import { parseTeam, type StreamRef } from '../core/streamRef.js';
import type { UnitNaming } from '../core/unitNaming.js';
import type { WaitOptions } from '../systemd/jobs.js';
import type { ServiceState } from '../systemd/serviceState.js';
import type { SystemdSession } from '../systemd/systemdSession.js';
import { judgeDeclaration } from './declarations.js';
import type { StreamView } from './streamView.js';
import { CanceledByStopError, type JobSlot, UnitQueue } from './unitQueue.js';

/** Where the controller gets the current systemd session when it needs one (the SystemdLink). */
export interface SessionSource {
  session(): SystemdSession;
}

export interface ListOptions {
  readonly pageSize: number;
  readonly pageToken: string;
}

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

  constructor(
    private readonly systemd: SessionSource,
    readonly naming: UnitNaming,
    private readonly view: StreamView,
  ) {}

  /** The team's declared streams with their state, from memory (UNAVAILABLE without systemd). */
  async list(teamInput: string, { pageSize, pageToken }: ListOptions): Promise<Page<StreamSummary>> {
    const team = parseTeam(teamInput);
    return paginate(team, await this.view.list(team), pageSize, pageToken);
  }

  start(ref: StreamRef, wait: WaitOptions = {}): Promise<ActionResult> {
    return this.act('start', ref, wait);
  }

  /** Stopping a stopped stream succeeds: systemd finishes the stop job `done` at once. */
  stop(ref: StreamRef, wait: WaitOptions = {}): Promise<ActionResult> {
    return this.act('stop', ref, wait);
  }

  restart(ref: StreamRef, wait: WaitOptions = {}): Promise<ActionResult> {
    return this.act('restart', ref, wait);
  }

  async status(ref: StreamRef): Promise<StreamStatus> {
    return this.view.status(ref);
  }

  private async act(action: Action, ref: StreamRef, wait: WaitOptions): Promise<ActionResult> {
    const unit = await this.declaredUnit(ref, action);
    try {
      return await this.queue.run(unit, action, wait, (slot) => this.runJob(action, ref, unit, slot));
    } catch (error) {
      if (!(error instanceof CanceledByStopError)) throw error;
      return canceledBeforeSent(action, summaryOf(ref, unit, await this.view.unitState(unit)));
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

  private async runJob(action: Action, ref: StreamRef, unit: string, slot: JobSlot): Promise<ActionResult> {
    // The session current when the job is sent: a job belongs to the session it was started on.
    const session = this.systemd.session();
    const { manager } = session;
    const method = ENQUEUE[action];
    // `replace`, as `systemctl` does: the queue lets a Stop through while a start or restart job
    // runs, and the stop job replaces it; otherwise the queue leaves no job of ours to replace.
    const job = await slot.job(() => manager[method](unit, 'replace'), session.jobs);
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
    return judgeAction(action, outcome);
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
