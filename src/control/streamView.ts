import { EventEmitter } from 'node:events';
import { CoalescedTask } from '../core/coalescedTask.js';
import { StreamNotDeclaredError } from '../core/errors.js';
import type { StreamStatus, StreamSummary } from '../core/status.js';
import type { StreamRef } from '../core/streamRef.js';
import type { UnitNaming } from '../core/unitNaming.js';
import { readServiceState, type ServiceState } from '../systemd/serviceState.js';
import type { SystemdSession } from '../systemd/systemdSession.js';
import { UnitTracker, type UnitTrackerLogger } from '../systemd/unitTracker.js';
import { type Usage, UsageSampler } from '../systemd/usageSampler.js';
import { judgeDeclaration } from './declarations.js';

export type StreamChangeKind = 'changed' | 'removed';

/** Units read at once while warming up: enough to finish soon, few enough not to crowd out
 *  systemd's real work (it answers D-Bus on one thread). */
const WARM_UP_CONCURRENCY = 4;

/** A change to a declared stream, for watchers. Status without tasks and memory (not signalled). */
export interface StreamChange {
  readonly kind: StreamChangeKind;
  readonly status: StreamStatus;
}

export type StreamListener = (change: StreamChange) => void;

interface DeclaredStream {
  readonly ref: StreamRef;
  readonly masked: boolean;
}

/** A declared stream and what the view knows of its unit right now (for metrics). */
export interface KnownStream extends DeclaredStream {
  readonly unit: string;
  readonly state: ServiceState | undefined;
  /** Whether `state` was read whole (else only what ListUnits and signals told: no NRestarts yet). */
  readonly complete: boolean;
}

/**
 * The declared streams and their status, in memory, kept current by a UnitTracker on systemd's
 * signals. ListStreams and GetStatus are served from here; watchers get one StreamChange per change.
 * Declarations (regular file or symlink to the team's template) are judged once per change of the
 * unit files, not per request.
 */
export class StreamView {
  private readonly tracker: UnitTracker;
  private readonly usage = new UsageSampler();
  private session: SystemdSession | undefined;
  private declared = new Map<string, DeclaredStream>();
  /** Unit files of stream names that do not declare a stream, with why (for NOT_FOUND messages). */
  private rejected = new Map<string, string>();
  private byTeam = new Map<string, string[]>();
  private readonly judging = new CoalescedTask(() => this.judgeOnce());
  private warming = false;
  private readonly watchers = new EventEmitter();
  /**
   * The current status object of each declared stream, built once per change and shared by every
   * watcher's INITIAL and CHANGED message, so the server encodes each stream state once, not once
   * per watcher (see watchStatus.ts).
   */
  private readonly statuses = new Map<string, StreamStatus>();

  constructor(
    private readonly naming: UnitNaming,
    log: UnitTrackerLogger,
  ) {
    this.tracker = new UnitTracker(`${naming.prefix}*@*.service`, log);
    this.tracker.on('files', () => void this.judge());
    this.tracker.on('units', (units: string[]) => this.announce(units));
    this.tracker.on('snapshot', (unit: string) => this.statuses.delete(unit));
    // Every watcher listens here; fan-out is in-process, the D-Bus subscription stays one.
    this.watchers.setMaxListeners(0);
  }

  async attach(session: SystemdSession): Promise<void> {
    this.session = session;
    await this.tracker.attach(session);
    await this.judge();
  }

  detach(): void {
    this.session = undefined;
    this.tracker.detach();
  }

  /** The team's declared streams, by name, with their state as last signalled. */
  async list(team: string): Promise<StreamSummary[]> {
    await this.settled();
    return (this.byTeam.get(team) ?? []).map((name) => {
      const unit = this.naming.unitOf({ team, name });
      return summarize({ team, name }, unit, this.tracker.known(unit), this.declared.get(unit)?.masked ?? false);
    });
  }

  /** Whether the view knows the stream as declared (and masked): throws NOT_FOUND otherwise. */
  async declaration(ref: StreamRef): Promise<{ unit: string; masked: boolean }> {
    await this.settled();
    const unit = this.naming.unitOf(ref);
    const stream = this.declared.get(unit);
    if (!stream) throw this.notDeclared(ref, unit);
    return { unit, masked: stream.masked };
  }

  /** The stream's full status: state from memory, tasks and memory sampled (USAGE_FRESHNESS_MS). */
  async status(ref: StreamRef): Promise<StreamStatus> {
    await this.settled();
    const unit = this.naming.unitOf(ref);
    const stream = this.declared.get(unit);
    const session = this.session;
    const state = stream && session ? await this.tracker.state(unit) : undefined;
    if (!stream || !session || !state) throw this.notDeclared(ref, unit);
    return { ...toStatus(ref, unit, state, stream.masked), ...(await this.usage.sample(session.manager, unit, state)) };
  }

  /** What the view knows of a unit right now, without asking systemd. */
  knownState(unit: string): ServiceState | undefined {
    this.usage.forget(unit);
    return this.tracker.known(unit);
  }

  /** A declared unit's state as the view holds it (one GetAll if it was never read). */
  async unitState(unit: string): Promise<ServiceState> {
    this.usage.forget(unit);
    const state = await this.tracker.state(unit);
    if (!state) throw new StreamNotDeclaredError(`${unit} is no longer declared`);
    return state;
  }

  /**
   * Every declared stream with its unit's state. Units not read whole since systemd loaded them
   * afresh (UnitNew: e.g. started after being unloaded) are read first, a few at a time, so NRestarts
   * and the timestamps are systemd's current values; the rest comes from memory.
   */
  async knownStreams(): Promise<KnownStream[]> {
    await this.settled();
    const incomplete = [...this.declared.keys()].filter((unit) => !this.tracker.isComplete(unit));
    const next = async (): Promise<void> => {
      for (let unit = incomplete.shift(); unit !== undefined && this.session; unit = incomplete.shift()) {
        await this.tracker.state(unit).catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: WARM_UP_CONCURRENCY }, next));
    return [...this.declared].map(([unit, stream]) => ({
      ...stream,
      unit,
      state: this.tracker.known(unit),
      complete: this.tracker.isComplete(unit),
    }));
  }

  /** Tasks and memory of a unit in `state` (UsageSampler: reads shared within USAGE_FRESHNESS_MS). */
  async sampleUsage(unit: string, state: ServiceState): Promise<Usage> {
    const session = this.session;
    return session ? this.usage.sample(session.manager, unit, state) : { usageSource: 'none' };
  }

  /**
   * Calls `listener` with each change of the team's streams (or of one stream) from now on.
   * `initial` is the current status of each matching stream, taken in the same turn as the
   * listener is added, so no change falls between the two. Returns the way to stop listening.
   */
  async watch(team: string, name: string | undefined, listener: StreamListener): Promise<{ initial: StreamStatus[]; stop: () => void }> {
    await this.settled();
    if (name !== undefined && !this.declared.has(this.naming.unitOf({ team, name }))) {
      throw this.notDeclared({ team, name }, this.naming.unitOf({ team, name }));
    }
    const names = name === undefined ? (this.byTeam.get(team) ?? []) : [name];
    // Complete every snapshot first (GetAll for units not read yet), then take them all at once.
    await Promise.all(names.map((n) => this.tracker.state(this.naming.unitOf({ team, name: n }))));
    const initial = names.flatMap((n) => {
      const status = this.currentStatus(this.naming.unitOf({ team, name: n }));
      return status ? [status] : [];
    });
    const filtered: StreamListener = (change) => {
      if (name === undefined || change.status.name === name) listener(change);
    };
    this.watchers.on(team, filtered);
    return { initial, stop: () => this.watchers.off(team, filtered) };
  }

  /** How many watchers are listening (for tests and diagnostics). */
  get watcherCount(): number {
    return this.watchers.eventNames().reduce((sum, team) => sum + this.watchers.listenerCount(team), 0);
  }

  private notDeclared(ref: StreamRef, unit: string): StreamNotDeclaredError {
    const why = this.rejected.get(unit) ?? `there is no unit file ${unit} in systemd's unit search path`;
    return new StreamNotDeclaredError(`stream '${ref.name}' of team '${ref.team}' is not declared: ${why}`);
  }

  private async settled(): Promise<void> {
    await this.tracker.settled();
    await this.judging.settled();
  }

  private judge(): Promise<void> {
    return this.judging.request();
  }


  private async judgeOnce(): Promise<void> {
    const declared = new Map<string, DeclaredStream>();
    const rejected = new Map<string, string>();
    for (const [unit, file] of this.tracker.files()) {
      const ref = this.naming.streamOf(unit);
      if (!ref) continue;
      const declaration = await judgeDeclaration(file, this.naming.templateOf(ref.team));
      if (declaration.declared) declared.set(unit, { ref, masked: declaration.masked });
      else rejected.set(unit, declaration.why);
    }
    this.rejected = rejected;
    const previous = this.declared;
    this.declared = declared;
    this.statuses.clear();
    const byTeam = new Map<string, string[]>();
    for (const { ref } of declared.values()) byTeam.set(ref.team, [...(byTeam.get(ref.team) ?? []), ref.name]);
    for (const names of byTeam.values()) names.sort();
    this.byTeam = byTeam;
    for (const [unit, stream] of previous) {
      if (!declared.has(unit)) this.emitChange('removed', unit, stream);
    }
    for (const [unit, stream] of declared) {
      if (!previous.has(unit)) this.emitChange('changed', unit, stream);
    }
    void this.warmUp();
  }

  /**
   * Reads every declared stream's unit not yet read whole, a few at a time in the background, so
   * the first status request for it is served from memory too. Only declared streams: systemd is
   * never asked about anything else.
   */
  private async warmUp(): Promise<void> {
    if (this.warming) return;
    this.warming = true;
    try {
      const pending = [...this.declared.keys()].filter((unit) => !this.tracker.isComplete(unit));
      const next = async (): Promise<void> => {
        for (let unit = pending.shift(); unit !== undefined && this.session; unit = pending.shift()) {
          if (this.declared.has(unit)) await this.tracker.state(unit).catch(() => undefined);
        }
      };
      await Promise.all(Array.from({ length: WARM_UP_CONCURRENCY }, next));
    } finally {
      this.warming = false;
    }
  }

  private currentStatus(unit: string): StreamStatus | undefined {
    const cached = this.statuses.get(unit);
    if (cached) return cached;
    const stream = this.declared.get(unit);
    const state = this.tracker.known(unit);
    if (!stream || !state) return undefined;
    const status = toStatus(stream.ref, unit, state, stream.masked);
    this.statuses.set(unit, status);
    return status;
  }

  private announce(units: string[]): void {
    for (const unit of units) this.statuses.delete(unit);
    for (const unit of units) {
      const stream = this.declared.get(unit);
      if (stream) this.emitChange('changed', unit, stream);
    }
  }

  private emitChange(kind: StreamChangeKind, unit: string, stream: DeclaredStream): void {
    if (this.watchers.listenerCount(stream.ref.team) === 0) return;
    // A removed stream's unit is no longer tracked: report it as systemd would an unknown unit.
    const status = this.currentStatus(unit) ?? toStatus(stream.ref, unit, this.tracker.known(unit) ?? readServiceState({}), stream.masked);
    this.watchers.emit(stream.ref.team, { kind, status });
  }
}


function summarize(ref: StreamRef, unit: string, state: ServiceState | undefined, masked: boolean): StreamSummary {
  return {
    team: ref.team,
    name: ref.name,
    unit,
    loadState: masked ? 'masked' : (state?.LoadState ?? ''),
    activeState: state?.ActiveState || 'inactive',
    subState: state?.SubState || 'dead',
  };
}

/** A stream's status from systemd's properties, without tasks and memory. */
export function toStatus(ref: StreamRef, unit: string, state: ServiceState, masked = false): StreamStatus {
  const running = ['active', 'reloading', 'deactivating'].includes(state.ActiveState);
  return {
    ...summarize(ref, unit, state, masked),
    started: running ? state.ActiveEnterTimestamp : undefined,
    mainPid: state.MainPID,
    usageSource: 'none',
    restartCount: state.NRestarts,
    result: state.Result,
    exitStatus: state.exitStatus,
    exitSignal: state.exitSignal,
  };
}
