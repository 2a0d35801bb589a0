import { EventEmitter } from 'node:events';
import type { StreamChangeKind, StreamListener, StreamWatch } from '../core/backend.js';
import { CoalescedTask } from '../core/coalescedTask.js';
import { StreamNotDeclaredError } from '../core/errors.js';
import { mapLimit } from '../core/mapLimit.js';
import type { StreamStatus, StreamSummary } from '../core/status.js';
import type { StreamRef } from '../core/streamRef.js';
import type { UnitNaming } from '../core/unitNaming.js';
import type { UnitProperties } from '../systemd/manager.js';
import { hasStarted, readServiceState, type ServiceState } from '../systemd/serviceState.js';
import type { SystemdLink } from '../systemd/systemdLink.js';
import { UnitTracker, type UnitTrackerLogger } from '../systemd/unitTracker.js';
import { DEFAULT_SAMPLING, type SamplerStats, type SamplingOptions, type Usage, UsageSampler } from '../systemd/usageSampler.js';
import { judgeDeclaration } from './declarations.js';

/** Units read at once while warming up: enough to finish soon, few enough not to crowd out
 *  systemd's real work (it answers D-Bus on one thread). */
const WARM_UP_CONCURRENCY = 4;

/** What a stream's unit file says, as systemd lists it. */
export interface UnitFileFacts {
  readonly masked: boolean;
  /** systemd's UnitFileState of the file (ListUnitFilesByPatterns): `enabled`, `disabled`, …; none without a file. */
  readonly unitFileState?: string;
}

interface DeclaredStream extends UnitFileFacts {
  readonly ref: StreamRef;
  /** Its unit file is gone (or no longer declares it) while its unit runs: shown, stoppable, until it stops. */
  readonly undeclared: boolean;
}

/** What a status read may ask for beyond what the view holds. */
export interface StatusReadOptions {
  /** Read the stream's tasks and memory now rather than serve the background sampler's. */
  readonly freshUsage?: boolean;
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
 * unit files, not per request. A stream whose unit file is removed while its unit runs stays
 * (undeclared) until the unit stops: a running process must stay visible and stoppable.
 *
 * Reads answer from what is known. They wait only for resynchronisations asked for by a change of
 * unit files or by a new session with systemd (at most two runs), never for those that reloads
 * keep asking for: through a daemon-reload storm they serve the last known state.
 */
export class StreamView {
  private readonly tracker: UnitTracker;
  /** Tasks and memory of the running declared streams, read in the background (see status()). */
  private readonly usage: UsageSampler;
  private declared = new Map<string, DeclaredStream>();
  /** Unit files of stream names that do not declare a stream, with why (for NOT_FOUND messages). */
  private rejected = new Map<string, string>();
  /** Each team's declared streams, by name, with their units (in the same order). */
  private byTeam = new Map<string, { readonly names: readonly string[]; readonly units: readonly string[] }>();
  private readonly judging = new CoalescedTask(() => this.judgeOnce());
  /** The judgement readers wait for: the one asked for by the last change of files. */
  private judged: Promise<void> = Promise.resolve();
  /** Reads of the shown units not read whole on this session, in the background (see warmUp). */
  private readonly warming = new CoalescedTask(() => this.warmUpOnce());
  private readonly watchers = new EventEmitter();
  /** Internal followers of one unit each (a Start's settle window), keyed by unit: not watchers. */
  private readonly followers = new EventEmitter().setMaxListeners(0);
  /**
   * The current status object of each declared stream, built once per change and shared by every
   * watcher's INITIAL and CHANGED message, so the server encodes each stream state once, not once
   * per watcher (see watchStatus.ts).
   */
  private readonly statuses = new Map<string, StreamStatus>();
  /**
   * What every current watcher of a unit's team was last told of it: one status, or `mixed` when
   * they were told different things (a watcher that joined with a newer snapshot, or one told
   * nothing of it yet). A change that says what all of them were told is none, and is not sent.
   * One entry per unit for all watchers: a map of every stream per watcher would cost a thousand
   * watchers of a thousand streams a million entries.
   */
  private readonly told = new Map<string, StreamStatus | 'mixed'>();
  /**
   * Each team's current statuses, as one array shared by the watchers that open while none of them
   * changes: a thousand watchers of a thousand streams would otherwise each look up a thousand.
   */
  private readonly snapshots = new Map<string, readonly StreamStatus[]>();
  /** Per team, the snapshot whose statuses `told` already reflects (see watch()). */
  private readonly toldSnapshots = new Map<string, readonly StreamStatus[]>();

  constructor(
    private readonly naming: UnitNaming,
    private readonly link: SystemdLink,
    log: UnitTrackerLogger,
    sampling: SamplingOptions = DEFAULT_SAMPLING,
  ) {
    this.tracker = new UnitTracker({ pattern: naming.everyStreamPattern(), fileMatters: (name) => naming.declaresStreams(name) }, link, log);
    // Only declared streams are ever sampled: the sampler walks what running() lists, and known()
    // answers nothing for any other unit.
    this.usage = new UsageSampler(
      {
        running: () => [...this.declared.keys()].filter((unit) => this.tracker.isRunning(unit)),
        known: (unit) => (this.declared.has(unit) ? this.tracker.known(unit) : undefined),
        controlGroup: (unit) => this.tracker.controlGroup(unit),
        manager: () => (this.link.isUp ? this.link.session().manager : undefined),
      },
      sampling,
    );
    this.tracker.on('files', () => this.judge());
    this.tracker.on('units', (units: string[]) => this.announce(units));
    this.tracker.on('snapshot', (unit: string, properties: UnitProperties) => {
      this.forgetStatus(unit);
      if (this.declared.has(unit)) this.usage.learn(unit, properties);
    });
    this.tracker.on('resynced', () => void this.warmUp());
    // Every watcher listens here; fan-out is in-process, the D-Bus subscription stays one.
    this.watchers.setMaxListeners(0);
  }

  /** Stops following systemd and sampling (shutdown). */
  close(): void {
    this.usage.close();
    this.tracker.close();
  }

  /** The team's declared streams, by name, with their state as last signalled. */
  async list(team: string): Promise<StreamSummary[]> {
    await this.ready();
    const { names, units } = this.byTeam.get(team) ?? NO_STREAMS;
    await this.tracker.loadStatesKnown(units);
    return names.map((name, i) => {
      const unit = units[i]!;
      return summarize({ team, name }, unit, this.tracker.known(unit), this.declared.get(unit) ?? NO_FILE);
    });
  }

  /**
   * Whether the view shows the stream — declared (and masked or not), or undeclared but still
   * running: throws NOT_FOUND otherwise.
   */
  async declaration(ref: StreamRef): Promise<{ unit: string; masked: boolean; undeclared: boolean }> {
    await this.ready();
    const unit = this.naming.unitOf(ref);
    const stream = this.declared.get(unit);
    if (!stream) throw this.notDeclared(ref, unit);
    return { unit, masked: stream.masked, undeclared: stream.undeclared };
  }

  /** The stream as a listing shows it, once the view reflects the file changes seen so far. */
  async summary(ref: StreamRef): Promise<StreamSummary> {
    await this.ready();
    const unit = this.naming.unitOf(ref);
    const stream = this.declared.get(unit);
    if (!stream) throw this.notDeclared(ref, unit);
    await this.tracker.loadStatesKnown([unit]);
    return summarize(ref, unit, this.tracker.known(unit), stream);
  }

  /**
   * The stream's full status, from memory: its unit's state as signalled, its tasks and memory as
   * the background sampler last read them, with their age. Only a unit not read whole on this
   * session yet (one GetAll), the first read of an activation the sampler has not reached, and
   * `freshUsage` ask systemd or /proc.
   */
  async status(ref: StreamRef, { freshUsage = false }: StatusReadOptions = {}): Promise<StreamStatus> {
    await this.ready();
    const unit = this.naming.unitOf(ref);
    const stream = this.declared.get(unit);
    if (!stream) throw this.notDeclared(ref, unit);
    await this.tracker.loadStatesKnown([unit]);
    const state = await this.tracker.state(unit);
    if (!state) throw this.notDeclared(ref, unit);
    return withUsage(toStatus(ref, unit, state, stream), await this.usage.usage(unit, state, { fresh: freshUsage }));
  }

  /** What the view knows of a unit right now, without asking systemd. */
  knownState(unit: string): ServiceState | undefined {
    this.usage.forget(unit);
    return this.tracker.known(unit);
  }

  /** Whether systemd has the unit loaded, as the view last heard: reading an unloaded unit's properties would load it. */
  isLoaded(unit: string): boolean {
    return this.tracker.isLoaded(unit);
  }

  /** A shown unit's state as the view holds it (one GetAll if it was never read). */
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
    // The last known state also while systemd is unreachable (metrics say that separately).
    await this.tracker.caughtUp();
    await this.judged;
    const incomplete = [...this.declared.keys()].filter((unit) => !this.tracker.isComplete(unit));
    await mapLimit(incomplete, WARM_UP_CONCURRENCY, (unit) => this.readWhole(unit));
    return [...this.declared].map(([unit, stream]) => ({
      ...stream,
      unit,
      state: this.tracker.known(unit),
      complete: this.tracker.isComplete(unit),
    }));
  }

  /** Tasks and memory of a unit in `state` as status() serves them (for metrics). */
  usageOf(unit: string, state: ServiceState): Promise<Usage> {
    return this.usage.usage(unit, state);
  }

  /** How the background sampler has been doing, and whether it is scheduled (for metrics and tests). */
  get sampling(): SamplerStats & { readonly scheduled: boolean } {
    return { ...this.usage.stats, scheduled: this.usage.scheduled };
  }

  /**
   * Calls `listener` with each change of the team's streams (or of one stream) from now on.
   * `initial` is the current status of each matching stream, taken in the same turn as the
   * listener is added, so no change falls between the two. Returns the way to stop listening.
   */
  async watch(team: string, name: string | undefined, listener: StreamListener): Promise<StreamWatch> {
    await this.ready();
    if (name !== undefined && !this.declared.has(this.naming.unitOf({ team, name }))) {
      throw this.notDeclared({ team, name }, this.naming.unitOf({ team, name }));
    }
    const units = name === undefined ? (this.byTeam.get(team) ?? NO_STREAMS).units : [this.naming.unitOf({ team, name })];
    // Complete every snapshot first (GetAll for units not read yet), then take them all at once.
    // Only units that need a read are awaited: a thousand watchers of a thousand streams would
    // otherwise build a million states just to learn they were all known.
    await this.tracker.loadStatesKnown(units);
    const unread = units.filter((unit) => this.tracker.needsRead(unit));
    if (unread.length > 0) await Promise.all(unread.map((unit) => this.tracker.state(unit)));
    const initial = name === undefined ? this.teamSnapshot(team, units) : this.snapshotOf(units);
    // A change that leaves the status as it was (a tracked value that is not part of it, such as
    // the cgroup, or values read again) is none: emitChange() drops it when every watcher was told
    // the same status, so note what this one is told — unless `told` already reflects this very
    // snapshot (the watchers before this one got it, and nothing changed since).
    const alone = this.watchers.listenerCount(team) === 0;
    if (alone || name !== undefined || this.toldSnapshots.get(team) !== initial) {
      for (const status of initial) {
        const was = this.told.get(status.unit);
        if (alone) this.told.set(status.unit, status);
        else if (was !== status && (was === undefined || was === 'mixed' || !sameStatus(was, status))) this.told.set(status.unit, 'mixed');
      }
      if (name === undefined) this.toldSnapshots.set(team, initial);
      else this.toldSnapshots.delete(team);
    }
    const filtered: StreamListener = (change) => {
      if (name === undefined || change.status.name === name) listener(change);
    };
    this.watchers.on(team, filtered);
    return { initial, stop: () => this.watchers.off(team, filtered) };
  }

  /** How many watchers are listening: WatchStatus calls open (lit_stream_open_watches). */
  get watcherCount(): number {
    return this.watchers.eventNames().reduce((sum, team) => sum + this.watchers.listenerCount(team), 0);
  }

  /**
   * Calls `listener` with each status the stream's unit goes through from now on, for the
   * server's own waits (a Start's settle window): a hook of its own, not a watcher, so nothing
   * counts it as a WatchStatus call (watcherCount, lit_stream_open_watches) or dedupes it against
   * what watchers were told. `current` is the stream's status, taken in the same turn as the
   * listener is added (the unit read whole first if it never was), so no change falls between.
   */
  async follow(ref: StreamRef, listener: (status: StreamStatus) => void): Promise<{ current: StreamStatus | undefined; stop(): void }> {
    await this.ready();
    const unit = this.naming.unitOf(ref);
    if (!this.declared.has(unit)) throw this.notDeclared(ref, unit);
    await this.tracker.loadStatesKnown([unit]);
    if (this.tracker.needsRead(unit)) await this.tracker.state(unit);
    const current = this.currentStatus(unit);
    this.followers.on(unit, listener);
    return { current, stop: () => this.followers.off(unit, listener) };
  }

  /** How many internal followers (settle windows) are listening (for tests and diagnostics). */
  get followerCount(): number {
    return this.followers.eventNames().reduce((sum, unit) => sum + this.followers.listenerCount(unit), 0);
  }

  /**
   * UNAVAILABLE while there is no session with systemd; otherwise waits until the view reflects
   * the file changes and the session change seen so far (bounded: see UnitTracker.caughtUp).
   */
  private async ready(): Promise<void> {
    this.link.session();
    await this.tracker.caughtUp();
    await this.judged;
    // The session may have ended meanwhile: say so rather than answer from a view now unsure.
    this.link.session();
  }

  private notDeclared(ref: StreamRef, unit: string): StreamNotDeclaredError {
    const why = this.rejected.get(unit) ?? `there is no unit file ${unit} in systemd's unit search path`;
    return new StreamNotDeclaredError(`stream '${ref.name}' of team '${ref.team}' is not declared: ${why}`);
  }

  private judge(): void {
    this.judged = this.judging.request().catch(() => undefined);
  }

  private async judgeOnce(): Promise<void> {
    const declared = new Map<string, DeclaredStream>();
    const rejected = new Map<string, string>();
    for (const [unit, file] of this.tracker.files()) {
      const ref = this.naming.streamOf(unit);
      if (!ref) continue;
      const declaration = await judgeDeclaration(file, this.naming.templateOf(ref.team));
      if (declaration.declared) declared.set(unit, { ref, masked: declaration.masked, unitFileState: file.state, undeclared: false });
      else rejected.set(unit, declaration.why);
    }
    // A stream shown before stays while its unit runs, declared or not (see the class comment).
    for (const [unit, stream] of this.declared) {
      if (!declared.has(unit) && this.tracker.isRunning(unit)) declared.set(unit, { ref: stream.ref, masked: false, undeclared: true });
    }
    this.rejected = rejected;
    const previous = this.declared;
    this.setDeclared(declared);
    for (const [unit, stream] of previous) {
      const now = declared.get(unit);
      if (!now) this.emitChange('removed', unit, stream);
      // Enabled, disabled, masked…: systemd says so with UnitFilesChanged, and the files are listed
      // again. A file that went or came back while the unit runs is no change of its own to report
      // (what watchers are next told carries it).
      else if (!now.undeclared && !stream.undeclared && (now.unitFileState !== stream.unitFileState || now.masked !== stream.masked)) {
        this.emitChange('changed', unit, now);
      }
    }
    for (const [unit, stream] of declared) {
      if (previous.has(unit) || this.watchers.listenerCount(stream.ref.team) === 0) continue;
      // A stream that appears is announced with its whole state, not just what a listing says.
      void this.tracker
        .state(unit)
        .catch(() => undefined)
        .then(() => {
          if (this.declared.get(unit) === stream) this.emitChange('changed', unit, stream);
        });
    }
    // The sampler starts once the warm-up after the first judgement (the first with streams to read)
    // is done: a walk alongside it would be charged the warm-up's CPU and then wait some twenty
    // times that (SamplingOptions.maxShare). Until its first walk, a status reads its stream's
    // figures itself, once.
    void this.warmUp().then(() => this.usage.start());
  }

  private setDeclared(declared: Map<string, DeclaredStream>): void {
    this.declared = declared;
    this.statuses.clear();
    this.snapshots.clear();
    this.toldSnapshots.clear();
    const names = new Map<string, string[]>();
    for (const { ref } of declared.values()) {
      const team = names.get(ref.team);
      if (team) team.push(ref.name);
      else names.set(ref.team, [ref.name]);
    }
    const byTeam = new Map<string, { names: string[]; units: string[] }>();
    for (const [team, list] of names) {
      list.sort();
      byTeam.set(team, { names: list, units: list.map((name) => this.naming.unitOf({ team, name })) });
    }
    this.byTeam = byTeam;
  }

  /** The team's current statuses (its units are `units`), shared until one of them changes. */
  private teamSnapshot(team: string, units: readonly string[]): readonly StreamStatus[] {
    const cached = this.snapshots.get(team);
    if (cached) return cached;
    const snapshot = this.snapshotOf(units);
    this.snapshots.set(team, snapshot);
    return snapshot;
  }

  private snapshotOf(units: readonly string[]): StreamStatus[] {
    return units.flatMap((unit) => {
      const status = this.currentStatus(unit);
      return status ? [status] : [];
    });
  }

  /** A unit's status is no longer current: built again when next needed. */
  private forgetStatus(unit: string): void {
    this.statuses.delete(unit);
    const team = this.declared.get(unit)?.ref.team;
    if (team !== undefined) this.snapshots.delete(team);
  }

  /**
   * Reads every shown stream's unit that systemd has loaded but that was not read whole on this
   * session, a few at a time in the background, so the first status request for it is served from
   * memory too: after each new session and change of files. (A unit systemd loads afresh later — a
   * stream started after systemd had unloaded it — is read whole by its first status, once: read
   * here, the GetAll would run alongside every Start of such a stream.) Only shown streams: systemd is
   * never asked about anything else.
   */
  private warmUp(): Promise<void> {
    return this.warming.request().catch(() => undefined);
  }

  private async warmUpOnce(): Promise<void> {
    const pending = [...this.declared.keys()].filter((unit) => this.tracker.needsRead(unit));
    await mapLimit(pending, WARM_UP_CONCURRENCY, (unit) => this.readWhole(unit));
  }

  /**
   * One unit's full state into the tracker, for a warm-up: not while systemd is unreachable (each
   * read would only wait out the bus), not once the stream is no longer declared, and a failure is
   * the unit's alone (it stays incomplete; the next read of it tries again).
   */
  private async readWhole(unit: string): Promise<void> {
    if (this.link.isUp && this.declared.has(unit)) await this.tracker.state(unit).catch(() => undefined);
  }

  private currentStatus(unit: string): StreamStatus | undefined {
    const cached = this.statuses.get(unit);
    if (cached) return cached;
    const stream = this.declared.get(unit);
    const state = this.tracker.known(unit);
    if (!stream || !state) return undefined;
    const status = toStatus(stream.ref, unit, state, stream);
    this.statuses.set(unit, status);
    return status;
  }

  private announce(units: string[]): void {
    for (const unit of units) {
      const stream = this.declared.get(unit);
      if (!stream) continue;
      if (stream.undeclared && !this.tracker.isRunning(unit)) {
        // Stopped, and no longer declared: gone.
        const declared = new Map(this.declared);
        declared.delete(unit);
        this.setDeclared(declared);
        this.emitChange('removed', unit, stream);
        continue;
      }
      this.forgetStatus(unit);
      this.emitChange('changed', unit, stream);
    }
  }

  private emitChange(kind: StreamChangeKind, unit: string, stream: DeclaredStream): void {
    if (this.followers.listenerCount(unit) > 0) this.followers.emit(unit, this.statusToTell(unit, stream));
    if (this.watchers.listenerCount(stream.ref.team) === 0) {
      this.told.delete(unit);
      return;
    }
    const status = this.statusToTell(unit, stream);
    if (kind === 'removed') {
      this.told.delete(unit);
    } else {
      const was = this.told.get(unit);
      if (was !== undefined && was !== 'mixed' && sameStatus(was, status)) return;
      this.told.set(unit, status);
    }
    this.watchers.emit(stream.ref.team, { kind, status });
  }

  /** A changed stream's status; a removed stream's unit may no longer be tracked: then as systemd reports an unknown unit. */
  private statusToTell(unit: string, stream: DeclaredStream): StreamStatus {
    return this.currentStatus(unit) ?? toStatus(stream.ref, unit, this.tracker.known(unit) ?? readServiceState({}), stream);
  }
}

const NO_STREAMS = { names: [] as readonly string[], units: [] as readonly string[] };

/** Two statuses that say the same (both without tasks and memory, which are not signalled). */
function sameStatus(a: StreamStatus, b: StreamStatus): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof StreamStatus>;
  for (const key of keys) {
    const x = a[key];
    const y = b[key];
    if (x instanceof Date && y instanceof Date ? x.getTime() !== y.getTime() : x !== y) return false;
  }
  return true;
}

const NO_FILE: UnitFileFacts = { masked: false };

function summarize(ref: StreamRef, unit: string, state: ServiceState | undefined, file: UnitFileFacts): StreamSummary {
  return {
    team: ref.team,
    name: ref.name,
    unit,
    loadState: file.masked ? 'masked' : (state?.LoadState ?? ''),
    activeState: state?.ActiveState || 'inactive',
    subState: state?.SubState || 'dead',
    unitFileState: file.unitFileState,
  };
}

/** A status with the sampler's figures, and how old they are now. */
export function withUsage(status: StreamStatus, { sampledAt, ...usage }: Usage, now = performance.now()): StreamStatus {
  return { ...status, ...usage, usageAgeMs: sampledAt === undefined || usage.usageSource === 'none' ? undefined : Math.max(0, now - sampledAt) };
}

/** A stream's status from systemd's properties, without tasks and memory. */
export function toStatus(ref: StreamRef, unit: string, state: ServiceState, file: UnitFileFacts = NO_FILE): StreamStatus {
  return {
    ...summarize(ref, unit, state, file),
    started: hasStarted(state.ActiveState) ? state.ActiveEnterTimestamp : undefined,
    mainPid: state.MainPID,
    usageSource: 'none',
    restartCount: state.NRestarts,
    result: state.Result,
    exitStatus: state.exitStatus,
    exitSignal: state.exitSignal,
  };
}
