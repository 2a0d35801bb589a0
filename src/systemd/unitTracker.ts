import { EventEmitter } from 'node:events';
import { type FSWatcher, watch } from 'node:fs';
import { basename } from 'node:path';
import { CoalescedTask } from '../core/coalescedTask.js';
import type { Signal } from './busConnection.js';
import { MANAGER_INTERFACE, UNIT_PROPERTIES_MATCH, type UnitFile, type UnitProperties, unwrapVariants } from './manager.js';
import { readServiceState, type ServiceState } from './serviceState.js';
import type { SystemdSession } from './systemdSession.js';
import { unitNameOfObjectPath } from './unitObjectPath.js';

/**
 * The properties kept per unit: those status is built from (readServiceState) that systemd
 * announces with PropertiesChanged. TasksCurrent and MemoryCurrent are not announced, so they are
 * sampled on demand (UsageSampler) instead.
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


/** What a unit that systemd has not loaded looks like: nothing runs, nothing is known. */
const NOT_LOADED = { LoadState: '', ActiveState: 'inactive', SubState: 'dead' };

interface Entry {
  file: UnitFile | undefined;
  readonly values: Map<string, unknown>;
  /** For each value, the BusConnection sequence of the message it came from. */
  readonly sequences: Map<string, number>;
  /** A full GetAll has been applied since the last invalidation. */
  complete: boolean;
  refreshing?: Promise<void>;
}

export interface UnitTrackerLogger {
  warn(obj: object, msg: string): void;
}

/**
 * A live copy of the state of the units whose files match a glob (e.g. `lit-stream-*`), kept
 * current by systemd's own signals rather than by asking per request:
 *
 * - `PropertiesChanged` of unit objects (one path_namespace match for all units) carries the new
 *   values of LoadState/ActiveState/SubState/MainPID/Result/... as they change;
 * - `UnitNew` marks a unit loaded afresh, so its values are read again when next asked;
 * - `Reloading` and `UnitFilesChanged`, and inotify on the unit search path (systemd's `UnitPath`),
 *   trigger a resynchronisation of which unit files exist; so does every (re)attach.
 *
 * Every value carries the sequence number of the D-Bus message it came from, so a GetAll answer
 * and a PropertiesChanged signal are merged in the order systemd sent them, whatever order their
 * handlers run in. Readers `settled()` first, so they never see a half-done resynchronisation.
 *
 * Events: `units` (unit names whose tracked values changed, batched per event-loop turn), `files`
 * (the set of unit files changed) and `snapshot` (a unit's values were read whole, at once).
 */
export class UnitTracker extends EventEmitter {
  private readonly entries = new Map<string, Entry>();
  private session: SystemdSession | undefined;
  private readonly syncing = new CoalescedTask(
    () => {
      const session = this.session;
      return this.sync().catch((error: Error) => {
        // Detached meanwhile (shutdown, reconnect): the failure is expected and the next attach resyncs.
        if (this.session === session) {
          this.log.warn({ err: error.message }, 'could not resynchronise unit state; retrying on the next signal');
        }
      });
    },
    () => this.session !== undefined,
  );
  private readonly dirty = new Set<string>();
  private flushScheduled = false;
  private fileWatchers: FSWatcher[] = [];
  private freshSession = false;
  private readonly onSignal = (signal: Signal) => this.handleSignal(signal);

  constructor(
    /** Glob for ListUnitFilesByPatterns/ListUnitsByPatterns, e.g. `lit-stream-*@*.service`. */
    readonly pattern: string,
    private readonly log: UnitTrackerLogger,
  ) {
    super();
  }

  /** Starts tracking through a (new) session: subscribes, watches unit directories, resyncs. */
  async attach(session: SystemdSession): Promise<void> {
    this.detach();
    this.session = session;
    this.freshSession = true;
    session.connection.on('signal', this.onSignal);
    const sync = this.requestSync();
    await session.connection.addMatch(UNIT_PROPERTIES_MATCH);
    await this.watchUnitDirectories(session);
    await sync;
  }

  detach(): void {
    this.session?.connection.off('signal', this.onSignal);
    this.session = undefined;
    for (const watcher of this.fileWatchers) watcher.close();
    this.fileWatchers = [];
  }

  /** Resolves once no resynchronisation is pending. */
  async settled(): Promise<void> {
    await this.syncing.settled();
  }

  /** The tracked unit files by unit name. */
  files(): Map<string, UnitFile> {
    const files = new Map<string, UnitFile>();
    for (const [unit, entry] of this.entries) if (entry.file) files.set(unit, entry.file);
    return files;
  }

  /** What is known now, without asking systemd; undefined for units without a file. */
  known(unit: string): ServiceState | undefined {
    const entry = this.entries.get(unit);
    return entry?.file ? readServiceState(Object.fromEntries(entry.values)) : undefined;
  }

  /** The unit's full state: from memory, or from one GetAll shared by concurrent callers. */
  async state(unit: string): Promise<ServiceState | undefined> {
    const entry = this.entries.get(unit);
    if (!entry?.file) return undefined;
    if (!entry.complete) await this.refresh(unit, entry);
    return readServiceState(Object.fromEntries(entry.values));
  }

  /** Merges a GetAll answer; values older than what a signal already told us are ignored. */
  private applySnapshot(unit: string, properties: UnitProperties, sequence: number): void {
    const entry = this.entries.get(unit);
    if (!entry) return;
    this.apply(unit, entry, properties, sequence);
    entry.complete = true;
    this.emit('snapshot', unit);
  }

  /** Asks for a resynchronisation of unit files and states; coalesces requests made meanwhile. */
  requestSync(): Promise<void> {
    return this.syncing.request();
  }


  private async sync(): Promise<void> {
    const session = this.session;
    if (!session) return;
    const { manager } = session;
    const [files, loaded] = await Promise.all([
      manager.ListUnitFilesByPatterns([], [this.pattern]),
      manager.ListUnitsByPatternsInOrder([], [this.pattern]),
    ]);
    const found = new Map(files.map((file) => [basename(file.path), file]));
    let filesChanged = false;
    for (const [unit, entry] of this.entries) {
      if (!found.has(unit)) {
        this.entries.delete(unit);
        filesChanged = true;
        this.markDirty(unit);
      } else if (this.freshSession) {
        // After a reconnect, anything systemd did meanwhile was not signalled to us. (A reload
        // keeps units' runtime state, and its changes are signalled, so that needs no re-read.)
        entry.complete = false;
      }
    }
    for (const [unit, file] of found) {
      const entry = this.entries.get(unit);
      if (!entry) {
        this.entries.set(unit, { file, values: new Map(), sequences: new Map(), complete: false });
        filesChanged = true;
      } else if (entry.file?.path !== file.path || entry.file.state !== file.state) {
        entry.file = file;
        filesChanged = true;
      }
    }
    const loadedByName = new Map(loaded.units.map((unit) => [unit.name, unit]));
    for (const [unit, entry] of this.entries) {
      const live = loadedByName.get(unit);
      const summary = live
        ? { LoadState: live.loadState, ActiveState: live.activeState, SubState: live.subState }
        : NOT_LOADED;
      this.apply(unit, entry, summary, loaded.sequence);
    }
    this.freshSession = false;
    if (filesChanged) this.emit('files');
  }

  /** Whether the unit has been read whole since it was last invalidated. */
  isComplete(unit: string): boolean {
    return this.entries.get(unit)?.complete ?? false;
  }

  private handleSignal(signal: Signal): void {
    if (signal.interface === 'org.freedesktop.DBus.Properties' && signal.member === 'PropertiesChanged') {
      const unit = unitNameOfObjectPath(signal.path);
      const entry = unit === undefined ? undefined : this.entries.get(unit);
      if (!unit || !entry) return;
      const [, changed, invalidated] = signal.body as [string, Record<string, { value: unknown }>, string[]];
      this.apply(unit, entry, unwrapVariants(changed), signal.sequence);
      if (invalidated.some((name) => TRACKED_SET.has(name))) {
        entry.complete = false;
        void this.refresh(unit, entry).catch(() => undefined);
      }
      return;
    }
    if (signal.interface !== MANAGER_INTERFACE) return;
    switch (signal.member) {
      // UnitRemoved needs nothing: systemd only unloads (garbage-collects) inactive units, and
      // their last values stay what systemd last said of them.
      case 'UnitNew': {
        // Loaded afresh: systemd's values were reset, read them when next asked.
        const entry = this.entries.get(signal.body[0] as string);
        if (entry) entry.complete = false;
        break;
      }
      case 'Reloading':
        // Reloading(true) starts a daemon-reload, Reloading(false) ends it: readers wait for the
        // resync that follows from the start, so they never see the half-reloaded state.
        void this.requestSync();
        break;
      case 'UnitFilesChanged':
        void this.requestSync();
        break;
    }
  }

  private apply(unit: string, entry: Entry, properties: UnitProperties, sequence: number): void {
    let changed = false;
    for (const [name, value] of Object.entries(properties)) {
      if (!TRACKED_SET.has(name) || sequence < (entry.sequences.get(name) ?? 0)) continue;
      // Learning a value for the first time (a first GetAll) is not a change of the unit.
      const known = entry.sequences.has(name);
      entry.sequences.set(name, sequence);
      if (entry.values.get(name) === value) continue;
      entry.values.set(name, value);
      if (known) changed = true;
    }
    if (changed) this.markDirty(unit);
  }

  private refresh(unit: string, entry: Entry): Promise<void> {
    const session = this.session;
    if (!session) return Promise.reject(new Error('not attached to systemd'));
    entry.refreshing ??= session.manager
      .getUnitPropertiesInOrder(unit)
      .then(({ properties, sequence }) => this.applySnapshot(unit, properties, sequence))
      .finally(() => {
        entry.refreshing = undefined;
      });
    return entry.refreshing;
  }

  private markDirty(unit: string): void {
    this.dirty.add(unit);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One `units` event per event-loop turn: systemd announces one transition in several
    // PropertiesChanged (Unit, then Service interface) read from the socket together.
    setImmediate(() => {
      this.flushScheduled = false;
      const units = [...this.dirty];
      this.dirty.clear();
      this.emit('units', units);
    });
  }

  /**
   * inotify on every directory of systemd's unit search path that exists, so a unit file that
   * appears or vanishes is noticed without waiting for a daemon-reload.
   */
  private async watchUnitDirectories(session: SystemdSession): Promise<void> {
    const paths = (await session.manager.getManagerProperty('UnitPath').catch(() => [])) as string[];
    for (const dir of paths) {
      try {
        const watcher = watch(dir, { persistent: false }, () => void this.requestSync());
        watcher.on('error', () => watcher.close());
        this.fileWatchers.push(watcher);
      } catch {
        // Not there (yet), or not visible from here: the reload signals still cover it.
      }
    }
  }
}
