import { EventEmitter } from 'node:events';
import { type FSWatcher, watch } from 'node:fs';
import { basename } from 'node:path';
import { CoalescedTask } from '../core/coalescedTask.js';
import type { Signal } from './busConnection.js';
import { MANAGER_INTERFACE, SERVICE_INTERFACE, type UnitFile, type UnitInfo, type UnitProperties, unwrapVariants } from './manager.js';
import { hasProcesses, readServiceState, type ServiceState } from './serviceState.js';
import type { SystemdLink } from './systemdLink.js';
import type { SystemdSession } from './systemdSession.js';
import { unitNameOfObjectPath } from './unitObjectPath.js';

/**
 * The properties kept per unit: those status is built from (readServiceState). TasksCurrent and
 * MemoryCurrent are not announced, so they are sampled on demand (UsageSampler) instead.
 */
const TRACKED = [
  'LoadState',
  'ActiveState',
  'SubState',
  'Result',
  'ActiveEnterTimestamp',
  'MainPID',
  'NRestarts',
  'ExecMainCode',
  'ExecMainStatus',
  'ControlGroup',
  'StateChangeTimestamp',
] as const;
const TRACKED_SET: ReadonlySet<string> = new Set(TRACKED);

/**
 * What a unit that systemd has not loaded is: nothing runs, nothing is remembered (systemd itself
 * starts a unit it loads afresh from these), and its LoadState is no state at all. Known without
 * asking — and asking would be wrong: reading an unloaded unit makes systemd load it (and later
 * garbage-collect it again), so the answer would describe a unit we had loaded ourselves.
 */
const UNLOADED: UnitProperties = {
  LoadState: '',
  ActiveState: 'inactive',
  SubState: 'dead',
  Result: '',
  ActiveEnterTimestamp: 0n,
  MainPID: 0,
  NRestarts: 0,
  ExecMainCode: 0,
  ExecMainStatus: 0,
  ControlGroup: '',
};

/** A value not known on this activation of the unit (see `ControlGroup` in `apply`). */
const UNKNOWN = Symbol('unknown');

/** After a resynchronisation fails while the session lasts, try again this much later. */
const RESYNC_RETRY_MS = 1_000;

interface Entry {
  /** The unit's file in the search path, if it has one. */
  file: UnitFile | undefined;
  /** Whether systemd has the unit loaded, as it last said (ListUnitsByPatterns, UnitNew, UnitRemoved). */
  loaded: boolean;
  loadedSequence: number;
  readonly values: Map<string, unknown>;
  /** For each value, the sequence (on the current session) of the message it came from. */
  readonly sequences: Map<string, number>;
  /** Every tracked value is known on the current session (always so for an unloaded unit). */
  complete: boolean;
  refreshing?: Promise<void>;
  /** Reading the LoadState of a unit systemd just loaded (UnitNew does not carry it). */
  summarizing?: Promise<void>;
}

/** Which units a tracker follows. */
export interface TrackedUnits {
  /** Glob for ListUnitFilesByPatterns/ListUnitsByPatterns, e.g. `lit-stream-*@*.service`. */
  readonly pattern: string;
  /** Whether a file of this name in a unit directory can change which units matter, or their files. */
  fileMatters(fileName: string): boolean;
}

export interface UnitTrackerLogger {
  warn(obj: object, msg: string): void;
}

/**
 * A live copy of the state of the units whose files match a glob (e.g. `lit-stream-*`), kept
 * current by systemd's own signals rather than by asking per request:
 *
 * - `PropertiesChanged` of unit objects (one path_namespace match for all units) carries the new
 *   values of ActiveState/SubState/MainPID/Result/... as they change;
 * - `UnitNew` and `UnitRemoved` say when systemd loads and unloads (garbage-collects) a unit —
 *   except inside a daemon-reload, where systemd re-creates every unit it keeps;
 * - `Reloading`, `UnitFilesChanged` and inotify on the unit search path (systemd's `UnitPath`)
 *   trigger a resynchronisation of which unit files exist and which units are loaded; so does
 *   every new session.
 *
 * A unit is tracked while it has a file, and after its file is removed for as long as systemd
 * keeps it loaded (a running unit stays loaded).
 *
 * It keeps no session of its own: it asks the SystemdLink for the current one and is told when it
 * is replaced. Every value carries the sequence number of the D-Bus message it came from, so a
 * GetAll answer and a PropertiesChanged signal are merged in the order systemd sent them, whatever
 * order their handlers run in; those numbers are only comparable on one connection, so they are
 * dropped with the session, and everything is read again on the next one.
 *
 * Events: `units` (unit names whose tracked values changed, batched per event-loop turn), `files`
 * (the set of tracked units or their files changed), `snapshot` (a unit's values were read whole:
 * the unit name and systemd's answer)
 * and `resynced` (the first resynchronisation of a session is done).
 */
export class UnitTracker extends EventEmitter {
  private readonly entries = new Map<string, Entry>();
  /** Units of files the resynchronisation in progress found first, followed until it adds them (see sync). */
  private arriving = new Map<string, Entry>();
  private readonly syncing = new CoalescedTask(
    () => this.syncOnce(),
    () => this.link.isUp,
  );
  /** The resynchronisation readers wait for: the last one asked for by a change of files or of session. */
  private forReaders: Promise<void> = Promise.resolve();
  /** The session whose first resynchronisation has not completed yet. */
  private freshSession: SystemdSession | undefined;
  /** Between Reloading(true) and Reloading(false) on the current session. */
  private reloading = false;
  private readonly dirty = new Set<string>();
  /** Changed units held back from `units` until their load state is known (see `summarize`). */
  private readonly held = new Set<string>();
  /** Summaries being read now (see summarize): with none, every load state is known. */
  private summaries = 0;
  private flushScheduled = false;
  private fileWatchers: FSWatcher[] = [];
  /** Until the current session's watches on the unit directories are in place (see sync). */
  private watching: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly onUp = (session: SystemdSession) => this.sessionStarted(session);
  private readonly onDown = () => this.closeFileWatchers();
  private readonly onSignal = (signal: Signal) => this.handleSignal(signal);

  constructor(
    private readonly units: TrackedUnits,
    private readonly link: SystemdLink,
    private readonly log: UnitTrackerLogger,
  ) {
    super();
    link.on('up', this.onUp);
    link.on('down', this.onDown);
    link.on('signal', this.onSignal);
    if (link.isUp) this.sessionStarted(link.session());
  }

  close(): void {
    this.link.off('up', this.onUp);
    this.link.off('down', this.onDown);
    this.link.off('signal', this.onSignal);
    clearTimeout(this.retryTimer);
    this.closeFileWatchers();
  }

  /**
   * Resolves once the resynchronisations asked for so far by file changes and by a new session
   * are done: at most two runs, however many reloads keep asking for more meanwhile.
   */
  caughtUp(): Promise<void> {
    return this.forReaders;
  }

  /** Resolves once no resynchronisation is pending at all (for shutdown and tests). */
  async settled(): Promise<void> {
    await this.syncing.settled();
  }

  /** The tracked units' files by unit name (units tracked without a file are left out). */
  files(): Map<string, UnitFile> {
    const files = new Map<string, UnitFile>();
    for (const [unit, entry] of this.entries) if (entry.file) files.set(unit, entry.file);
    return files;
  }

  /** What is known now, without asking systemd; undefined for units not tracked. */
  known(unit: string): ServiceState | undefined {
    const entry = this.entries.get(unit);
    return entry ? readServiceState(Object.fromEntries(entry.values)) : undefined;
  }

  /** Whether systemd has the unit loaded, as it last said (asking it of an unloaded unit would load it). */
  isLoaded(unit: string): boolean {
    return this.entries.get(unit)?.loaded ?? false;
  }

  /** Whether the unit has (or is getting) processes, as far as is known. */
  isRunning(unit: string): boolean {
    const entry = this.entries.get(unit);
    return entry !== undefined && running(entry);
  }

  /**
   * The unit's full state: from memory, or from one GetAll shared by concurrent callers when systemd
   * has it loaded and it was not read whole on this session. Never loads a unit. Its ControlGroup
   * may be unknown (undefined) for an activation begun since: see controlGroup().
   */
  async state(unit: string): Promise<ServiceState | undefined> {
    const entry = this.entries.get(unit);
    if (!entry) return undefined;
    // (Not loaded and not complete only before a new session's first resynchronisation: what is
    // known stands until it says more.)
    if (!entry.complete && entry.loaded) await this.refresh(unit, entry);
    return readServiceState(Object.fromEntries(entry.values));
  }

  /** Whether state(unit) would ask systemd first; when not, known(unit) is the same answer. */
  needsRead(unit: string): boolean {
    const entry = this.entries.get(unit);
    return entry !== undefined && !entry.complete && entry.loaded;
  }

  /**
   * The cgroup of the unit's current activation, while it runs: from memory, or one Get when it
   * started since its cgroup was last read (systemd does not announce ControlGroup). Only the usage
   * sampler needs it, so a status read never waits for it.
   */
  async controlGroup(unit: string): Promise<string | undefined> {
    const entry = this.entries.get(unit);
    if (!entry || !running(entry)) return undefined;
    if (entry.values.get('ControlGroup') === UNKNOWN) await this.refreshControlGroup(unit, entry);
    const value = entry.values.get('ControlGroup');
    return typeof value === 'string' && value !== '' ? value : undefined;
  }

  /** Whether the unit has been read whole on this session (an unloaded unit always is). */
  isComplete(unit: string): boolean {
    return this.entries.get(unit)?.complete ?? false;
  }

  /**
   * Asks for a resynchronisation of unit files and loaded units; coalesces requests made meanwhile.
   * `reload`: asked by a daemon-reload, which changes no file by itself, so readers need not wait.
   */
  requestSync(cause: 'files' | 'reload' = 'files'): Promise<void> {
    const covering = this.syncing.request();
    if (cause === 'files') this.forReaders = covering.catch(() => undefined);
    return covering;
  }

  private sessionStarted(session: SystemdSession): void {
    // Nothing learnt on the previous session orders against this one's messages, and anything may
    // have happened unseen in between: keep the values (the last known state) but read them again.
    for (const entry of this.entries.values()) {
      entry.sequences.clear();
      entry.loadedSequence = -1;
      entry.complete = false;
      entry.refreshing = undefined;
    }
    this.reloading = false;
    this.freshSession = session;
    this.watching = this.watchUnitDirectories(session);
    void this.requestSync('files');
  }

  private async syncOnce(): Promise<void> {
    let session: SystemdSession;
    try {
      session = this.link.session();
    } catch {
      return; // the next session resyncs
    }
    try {
      await this.sync(session);
    } catch (error) {
      if (!this.link.isCurrent(session)) return; // expected: the session ended meanwhile
      this.log.warn({ err: (error as Error).message }, 'could not resynchronise unit state; retrying');
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.requestSync(), RESYNC_RETRY_MS);
      this.retryTimer.unref();
    }
  }

  private async sync(session: SystemdSession): Promise<void> {
    // The watches first, then the listing they keep current (as the session adds its match rules
    // before it asks): a unit file that appears in between is not missed until something else
    // asks for a resynchronisation.
    await this.watching;
    const { manager } = session;
    const files = await manager.ListUnitFilesByPatterns([], [this.units.pattern]);
    if (!this.link.isCurrent(session)) return;
    const found = new Map(files.map((file) => [basename(file.path), file]));
    // The units of files seen for the first time are followed (their signals applied) before
    // systemd is asked which units are loaded, never after: a signal it sent before that answer
    // describes an older state than the answer, and one sent after it is applied in order. Asked
    // together, a unit loaded and started between the two answers had its UnitNew and
    // PropertiesChanged dropped (not tracked yet), and was then shown as the older answer said.
    const arriving = new Map<string, Entry>();
    for (const [unit, file] of found) if (!this.entries.has(unit)) arriving.set(unit, newEntry(file));
    this.arriving = arriving;
    let loaded: { units: UnitInfo[]; sequence: number };
    try {
      loaded = await manager.ListUnitsByPatternsInOrder([], [this.units.pattern]);
    } finally {
      this.arriving = new Map();
    }
    if (!this.link.isCurrent(session)) return;
    let filesChanged = false;
    for (const [unit, entry] of this.entries) {
      if (entry.file && !found.has(unit)) {
        entry.file = undefined;
        filesChanged = true;
      }
    }
    for (const [unit, file] of found) {
      const entry = this.entries.get(unit);
      if (!entry) {
        this.entries.set(unit, arriving.get(unit) ?? newEntry(file));
        filesChanged = true;
      } else if (entry.file?.path !== file.path || entry.file.state !== file.state) {
        entry.file = file;
        filesChanged = true;
      }
    }
    const loadedByName = new Map(loaded.units.map((unit) => [unit.name, unit]));
    for (const [unit, entry] of this.entries) {
      const live = loadedByName.get(unit);
      this.setLoaded(unit, entry, live !== undefined, loaded.sequence);
      if (live) this.apply(unit, entry, { LoadState: live.loadState, ActiveState: live.activeState, SubState: live.subState }, loaded.sequence);
      if (!entry.file && !entry.loaded) {
        this.entries.delete(unit);
        filesChanged = true;
      }
    }
    if (filesChanged) this.emit('files');
    if (this.freshSession === session) {
      this.freshSession = undefined;
      this.emit('resynced');
    }
  }

  private handleSignal(signal: Signal): void {
    if (signal.interface === 'org.freedesktop.DBus.Properties' && signal.member === 'PropertiesChanged') {
      const unit = unitNameOfObjectPath(signal.path);
      const entry = unit === undefined ? undefined : this.followed(unit);
      if (!unit || !entry) return;
      const [, changed, invalidated] = signal.body as [string, Record<string, { value: unknown }>, string[]];
      this.apply(unit, entry, unwrapVariants(changed), signal.sequence);
      if (invalidated.some((name) => TRACKED_SET.has(name)) && entry.loaded) {
        entry.complete = false;
        void this.refresh(unit, entry).catch(() => undefined);
      }
      return;
    }
    if (signal.interface !== MANAGER_INTERFACE) return;
    switch (signal.member) {
      case 'UnitNew':
      case 'UnitRemoved': {
        // Inside a daemon-reload systemd removes and re-creates every unit it keeps, runtime state
        // and all; the resynchronisation after Reloading(false) says which are loaded.
        if (this.reloading) break;
        const unit = signal.body[0] as string;
        const entry = this.followed(unit);
        if (!entry) break;
        this.setLoaded(unit, entry, signal.member === 'UnitNew', signal.sequence);
        // A unit without a file that systemd unloads stays tracked, as unloaded, until the next
        // resynchronisation: whoever is answering about it right now (a Stop) still can.
        if (signal.member === 'UnitNew') this.summarize(unit, entry);
        break;
      }
      case 'Reloading':
        // Reloading(true) starts a daemon-reload, Reloading(false) ends it. systemd answers nothing
        // in between, so resynchronise after it; readers meanwhile get what is known.
        this.reloading = signal.body[0] === true;
        if (!this.reloading) void this.requestSync('reload');
        break;
      case 'UnitFilesChanged':
        void this.requestSync('files');
        break;
    }
  }

  /** The unit's entry, tracked or being added by the resynchronisation in progress. */
  private followed(unit: string): Entry | undefined {
    return this.entries.get(unit) ?? this.arriving.get(unit);
  }

  /** Records whether systemd has the unit loaded; an unloaded unit's state is UNLOADED, whole. */
  private setLoaded(unit: string, entry: Entry, loaded: boolean, sequence: number): void {
    if (sequence < entry.loadedSequence) return;
    entry.loadedSequence = sequence;
    if (loaded === entry.loaded && (loaded || entry.complete)) return;
    entry.loaded = loaded;
    if (loaded) {
      entry.complete = false;
    } else {
      this.apply(unit, entry, UNLOADED, sequence);
      entry.complete = true;
    }
  }

  private apply(unit: string, entry: Entry, properties: UnitProperties, sequence: number): void {
    let changed = false;
    const set = (name: string, value: unknown) => {
      if (sequence < (entry.sequences.get(name) ?? -1)) return;
      entry.sequences.set(name, sequence);
      // Learning a value for the first time (a first GetAll) is not a change of the unit.
      const known = entry.values.has(name);
      if (entry.values.get(name) === value) return;
      entry.values.set(name, value);
      if (known) changed = true;
    };
    const wasRunning = running(entry);
    for (const [name, value] of Object.entries(properties)) if (TRACKED_SET.has(name)) set(name, value);
    // systemd does not announce ControlGroup; a unit gets its cgroup as it starts. A value read
    // before this activation is void: read it again when needed (controlGroup()).
    if (!wasRunning && running(entry) && !('ControlGroup' in properties)) set('ControlGroup', UNKNOWN);
    if (changed) this.markDirty(unit);
  }

  /** GetAll, merged in message order. Only for loaded units: it would load an unloaded one. */
  private refresh(unit: string, entry: Entry): Promise<void> {
    let session: SystemdSession;
    try {
      session = this.link.session();
    } catch (error) {
      return Promise.reject(error);
    }
    if (entry.refreshing) return entry.refreshing;
    const refreshing = session.manager.getUnitPropertiesInOrder(unit).then(({ properties, sequence }) => {
      if (!this.link.isCurrent(session) || this.entries.get(unit) !== entry) return;
      this.setLoaded(unit, entry, true, sequence);
      this.apply(unit, entry, properties, sequence);
      entry.complete = true;
      // With systemd's own answer: it also carries what the tracker does not keep (TasksCurrent,
      // MemoryCurrent), as of this reading.
      this.emit('snapshot', unit, properties);
    });
    entry.refreshing = refreshing;
    void refreshing.catch(() => undefined).finally(() => {
      if (entry.refreshing === refreshing) entry.refreshing = undefined;
    });
    return refreshing;
  }

  /** The cgroup of the unit's current activation (a single Get). */
  private async refreshControlGroup(unit: string, entry: Entry): Promise<void> {
    const session = this.link.session();
    const { value, sequence } = await session.manager.getUnitPropertyInOrder(unit, SERVICE_INTERFACE, 'ControlGroup');
    if (this.link.isCurrent(session) && this.entries.get(unit) === entry) this.apply(unit, entry, { ControlGroup: value }, sequence);
  }

  /**
   * A unit systemd just loaded: its LoadState, ActiveState and SubState, from ListUnitsByPatterns
   * with the exact name — which, unlike GetAll or ListUnitsByNames, never loads a unit itself, so
   * a unit loaded only for a moment is not kept alive (or loaded again) by our reading it.
   */
  private async readSummary(unit: string, entry: Entry): Promise<void> {
    const session = this.link.session();
    const { units, sequence } = await session.manager.ListUnitsByPatternsInOrder([], [escapeGlob(unit)]);
    if (!this.link.isCurrent(session) || this.entries.get(unit) !== entry) return;
    const live = units.find((candidate) => candidate.name === unit);
    this.setLoaded(unit, entry, live !== undefined, sequence);
    if (live) this.apply(unit, entry, { LoadState: live.loadState, ActiveState: live.activeState, SubState: live.subState }, sequence);
  }

  /**
   * Reads a just-loaded unit's summary. Until it is in, the unit's changes are held back from
   * `units` and readers wait for it (`loadStatesKnown`): a unit being started is loaded, and should
   * never be shown active with no load state.
   */
  private summarize(unit: string, entry: Entry): void {
    this.summaries++;
    const summarizing = this.readSummary(unit, entry)
      .catch(() => undefined)
      .finally(() => {
        this.summaries--;
        if (entry.summarizing !== summarizing) return;
        entry.summarizing = undefined;
        if (this.held.delete(unit)) this.markDirty(unit);
      });
    entry.summarizing = summarizing;
  }

  /** Resolves once the load state of each of these units is known (see `summarize`). */
  async loadStatesKnown(units: Iterable<string>): Promise<void> {
    if (this.summaries === 0) return;
    const pending: Promise<void>[] = [];
    for (const unit of units) {
      const summarizing = this.entries.get(unit)?.summarizing;
      if (summarizing) pending.push(summarizing);
    }
    await Promise.all(pending);
  }

  private markDirty(unit: string): void {
    this.dirty.add(unit);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One `units` event per event-loop turn: systemd announces one transition in several
    // PropertiesChanged (Unit, then Service interface) read from the socket together.
    setImmediate(() => {
      this.flushScheduled = false;
      const units: string[] = [];
      for (const unit of this.dirty) {
        if (this.entries.get(unit)?.summarizing) this.held.add(unit);
        else units.push(unit);
      }
      this.dirty.clear();
      if (units.length > 0) this.emit('units', units);
    });
  }

  /**
   * inotify on every directory of systemd's unit search path that exists, so a unit file that
   * appears or vanishes is noticed without waiting for a daemon-reload. Only names that can be
   * the file of a tracked unit count: other files there (other units, an editor's temporary
   * copies) cost no resynchronisation. inotify(7) names the file each event is about; Node passes
   * it on, or null where the platform does not say, which counts.
   */
  private async watchUnitDirectories(session: SystemdSession): Promise<void> {
    const paths = (await session.manager.getManagerProperty('UnitPath').catch(() => [])) as string[];
    if (!this.link.isCurrent(session)) return;
    this.closeFileWatchers();
    for (const dir of paths) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, fileName) => {
          if (fileName === null || this.units.fileMatters(fileName)) void this.requestSync('files');
        });
        watcher.on('error', () => watcher.close());
        this.fileWatchers.push(watcher);
      } catch {
        // Not there (yet), or not visible from here: the reload signals still cover it.
      }
    }
  }

  private closeFileWatchers(): void {
    for (const watcher of this.fileWatchers) watcher.close();
    this.fileWatchers = [];
  }
}

/** Whether the unit has (or is getting) processes, as far as is known. */
function running(entry: Entry): boolean {
  const activeState = entry.values.get('ActiveState');
  return hasProcesses(typeof activeState === 'string' ? activeState : undefined);
}

/** A unit with a file, not known yet to be loaded or not. */
function newEntry(file: UnitFile): Entry {
  return { file, loaded: false, loadedSequence: -1, values: new Map(), sequences: new Map(), complete: false };
}

/** A unit name as an fnmatch(3) pattern that matches just that name. */
function escapeGlob(name: string): string {
  return name.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
