import { pidsInTree, trackingCgroupDir } from './cgroups.js';
import { DBusErrorNames, SystemdCallError } from './errors.js';
import { type ReadLimits, readProcessesUsage } from './procfs.js';
import { SERVICE_INTERFACE, type SystemdManager, type UnitProperties } from './manager.js';
import { hasProcesses, knownCounter, readServiceState, type ServiceState } from './serviceState.js';

/**
 * How the background walk over the running units is paced. systemd does not signal TasksCurrent or
 * MemoryCurrent (nor do processes announce their memory), so figures are read by a walk rather than
 * per request: a status read serves the last figures and says how old they are.
 */
export interface SamplingOptions {
  /** A walk begins at most this often, ms. */
  readonly intervalMs: number;
  /**
   * The largest share of a core the walks may take (0 < share ≤ 1): after a walk that took C ms of
   * CPU the next one begins no sooner than C·(1 − share)/share later, so with many units the walks
   * space out instead of taking more CPU. C bounds the walk's own CPU from above: the whole server's
   * CPU while the walk ran (its reads' kernel time in libuv's threads included), or the walk's wall
   * time if that is less — it does one thing at a time. Calls served meanwhile count against the
   * walk, which makes it yield when the server is busy.
   */
  readonly maxShare: number;
}

/**
 * Every 2 s, at most 4 % of a core (see SamplingOptions and docs/semantics.md): with the server's
 * other work at rest (liveness pings, GC: under 1 %), within 5 % of a core at any number of streams.
 */
export const DEFAULT_SAMPLING: SamplingOptions = { intervalMs: 2_000, maxShare: 0.04 };

/**
 * What one sample may cost when accounting is off and the unit's processes are read from /proc:
 * at most 256 processes and 64 cgroups, 250 ms, and 1 file at a time. A unit with more (or
 * slower) processes gets figures marked partial: lower bounds over the processes read. Without
 * the bound, one stream with thousands of processes made every caller of every team wait for
 * seconds (docs/semantics.md, "Reads"). Across all samples, reads of /proc in flight are capped
 * until the kernel answers them (ProcfsReader), so reads that never end cannot take libuv's threads.
 */
export const PROCFS_SAMPLE: ReadLimits & { readonly maxCgroups: number } = {
  maxProcesses: 256,
  maxCgroups: 64,
  budgetMs: 250,
  concurrency: 1,
};

/** A unit's tasks and memory, and where they come from (partial: see PROCFS_SAMPLE). */
export interface Usage {
  readonly tasks?: number;
  readonly memoryBytes?: number;
  /** systemd's accounting, the unit's processes in /proc, or no figures. */
  readonly usageSource: 'systemd' | 'procfs' | 'none';
  readonly usagePartial?: boolean;
  /** When the figures were read (performance.now()); absent when there are none. */
  readonly sampledAt?: number;
}

/** What the sampler walks: the units it may sample (no others, ever) and what it knows of them. */
export interface SampledUnits {
  /** The units to sample now. */
  running(): Iterable<string>;
  /** A unit's state as known, without asking systemd; undefined if it is not one to sample. */
  known(unit: string): ServiceState | undefined;
  /** The cgroup of the unit's current activation (may ask systemd, once per activation). */
  controlGroup(unit: string): Promise<string | undefined>;
  /** The manager of the current session with systemd; undefined while there is none. */
  manager(): SystemdManager | undefined;
}

/** How the sampler has been doing (for metrics, tests and the bench). */
export interface SamplerStats {
  /** Walks completed. */
  readonly walks: number;
  /** Wall time of all walks, ms. */
  readonly walkMs: number;
  /** The server's CPU time while the walks ran, ms: its rate bounds the share of a core they take. */
  readonly walkCpuMs: number;
  /** Wall time of the last walk, and the units it read. */
  readonly lastWalkMs: number;
  readonly lastWalkUnits: number;
  /** Units read in all, by the walk or for a caller. */
  readonly reads: number;
}

interface Stored {
  readonly usage: Usage;
  /** The main process the figures were read for: a new one makes them another activation's. */
  readonly mainPid: number | undefined;
}

const NO_USAGE: Usage = { usageSource: 'none' };

/**
 * Tasks and memory of units, read in the background and served from memory: systemd's cgroup
 * accounting (TasksCurrent, MemoryCurrent) where it has it, otherwise (accounting off: UINT64_MAX)
 * the unit's processes summed from /proc. Whether accounting is on comes with a unit's properties
 * read whole (learn()), so learning it costs nothing extra; a unit never read whole while running
 * is asked once.
 *
 * One walk at a time goes over the running units, one unit at a time, paced by SamplingOptions.
 * A caller gets the last figures of the unit's current activation; only the first read of an
 * activation the walk has not reached yet, or a caller who asks for fresh figures, reads now.
 * Reads of one unit are shared: a caller joins a read in flight.
 */
export class UsageSampler {
  private readonly samples = new Map<string, Stored>();
  private readonly reading = new Map<string, Promise<Usage>>();
  /** Units known to have systemd's accounting on (true) or off (false). */
  private readonly accounting = new Map<string, boolean>();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  private counts = { walks: 0, walkMs: 0, walkCpuMs: 0, lastWalkMs: 0, lastWalkUnits: 0, reads: 0 };

  constructor(
    private readonly units: SampledUnits,
    private readonly options: SamplingOptions = DEFAULT_SAMPLING,
    /** CPU time this process has used, ms (a stand-in in specs). */
    private readonly cpuMs: () => number = processCpuMs,
  ) {
    if (!(options.intervalMs > 0) || !(options.maxShare > 0 && options.maxShare <= 1)) {
      throw new RangeError(`sampling every ${options.intervalMs} ms at most ${options.maxShare} of the time is not a pace`);
    }
  }

  /** Begins walking (the first walk at once); idempotent. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.schedule(0);
  }

  /** Stops walking for good: no timer is left, and a walk in progress reads no further unit. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Whether the next walk is scheduled: from start() until close(), but for the walks themselves. */
  get scheduled(): boolean {
    return this.timer !== undefined;
  }

  get stats(): SamplerStats {
    return { ...this.counts };
  }

  /**
   * The figures to serve for a unit in `state`: none when it runs nothing; else the last figures of
   * its current activation, read now only if there are none yet or `fresh` asks for it.
   */
  usage(unit: string, state: ServiceState, { fresh = false }: { fresh?: boolean } = {}): Promise<Usage> {
    if (!hasProcesses(state.ActiveState)) return Promise.resolve(NO_USAGE);
    const last = fresh ? undefined : this.latest(unit, state);
    return last ? Promise.resolve(last) : this.read(unit, state);
  }

  /** The last figures of the unit's current activation, without reading anything. */
  latest(unit: string, state: ServiceState): Usage | undefined {
    const stored = this.samples.get(unit);
    return stored && stored.mainPid === state.MainPID && hasProcesses(state.ActiveState) ? stored.usage : undefined;
  }

  /**
   * A unit's properties read whole (GetAll): while it runs, they say whether systemd's accounting is
   * on — and when it is, they carry figures, as of now.
   */
  learn(unit: string, properties: UnitProperties): void {
    const state = readServiceState(properties);
    if (!hasProcesses(state.ActiveState)) return;
    const on = state.TasksCurrent !== undefined && state.MemoryCurrent !== undefined;
    this.accounting.set(unit, on);
    if (on && !this.reading.has(unit)) {
      const usage: Usage = { tasks: state.TasksCurrent, memoryBytes: state.MemoryCurrent, usageSource: 'systemd', sampledAt: performance.now() };
      this.samples.set(unit, { usage, mainPid: state.MainPID });
    }
  }

  /** Drops what is known of a unit (before an action: its processes and settings may be new). */
  forget(unit: string): void {
    this.samples.delete(unit);
    this.reading.delete(unit);
    this.accounting.delete(unit);
  }

  private read(unit: string, state: ServiceState): Promise<Usage> {
    const inFlight = this.reading.get(unit);
    if (inFlight) return inFlight;
    const reading = this.readNow(unit, state);
    this.reading.set(unit, reading);
    void reading.then(
      (usage) => {
        // Not after forget(): the figures would be a past activation's.
        if (this.reading.get(unit) !== reading) return;
        this.reading.delete(unit);
        this.samples.set(unit, { usage, mainPid: state.MainPID });
      },
      () => {
        if (this.reading.get(unit) === reading) this.reading.delete(unit);
      },
    );
    return reading;
  }

  private async readNow(unit: string, state: ServiceState): Promise<Usage> {
    this.counts.reads++;
    const sampledAt = performance.now();
    const manager = this.units.manager();
    if (this.accounting.get(unit) !== false && manager) {
      const [tasks, memory] = await Promise.all([
        manager.getUnitProperty(unit, SERVICE_INTERFACE, 'TasksCurrent'),
        manager.getUnitProperty(unit, SERVICE_INTERFACE, 'MemoryCurrent'),
      ]).then((values) => values.map(knownCounter));
      const on = tasks !== undefined && memory !== undefined;
      this.accounting.set(unit, on);
      if (on) return { tasks, memoryBytes: memory, usageSource: 'systemd', sampledAt };
    }
    const controlGroup = state.ControlGroup ?? (await this.units.controlGroup(unit));
    const { pids, complete: listed } = await unitPids(manager, unit, controlGroup);
    if (pids.length === 0) return NO_USAGE;
    const usage = await readProcessesUsage(pids, PROCFS_SAMPLE);
    // Nothing read in time: the figures are unknown, not zero.
    if (usage.read === 0) return { usageSource: 'procfs', usagePartial: true, sampledAt };
    return { tasks: usage.tasks, memoryBytes: usage.memoryBytes, usageSource: 'procfs', usagePartial: !listed || !usage.complete, sampledAt };
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.tick(), delayMs);
    // The server's lifetime is the gRPC server's; close() clears this at shutdown.
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    const began = performance.now();
    const cpuBefore = this.cpuMs();
    let read = 0;
    try {
      read = await this.walk(began);
    } finally {
      const wall = performance.now() - began;
      // The walk's own CPU is at most the process's meanwhile, and at most its wall time (it does one
      // thing at a time, on the event loop or in one of libuv's threads): the smaller bound.
      const cpu = Math.min(this.cpuMs() - cpuBefore, wall);
      const { walks, walkMs, walkCpuMs, reads } = this.counts;
      this.counts = { walks: walks + 1, walkMs: walkMs + wall, walkCpuMs: walkCpuMs + cpu, lastWalkMs: wall, lastWalkUnits: read, reads };
      const { intervalMs, maxShare } = this.options;
      if (!this.closed) this.schedule(Math.max(intervalMs - wall, (cpu * (1 - maxShare)) / maxShare));
    }
  }

  /** One walk over the running units; answers how many it read. */
  private async walk(began: number): Promise<number> {
    const units = [...this.units.running()];
    let read = 0;
    for (const unit of units) {
      if (this.closed) return read;
      const state = this.units.known(unit);
      if (!state || !hasProcesses(state.ActiveState)) continue;
      // Read for a caller since half an interval ago: recent enough for this walk.
      const last = this.latest(unit, state);
      if (last?.sampledAt !== undefined && began - last.sampledAt < this.options.intervalMs / 2) continue;
      read++;
      // A unit that cannot be read now (it stopped meanwhile, the bus dropped) keeps no figures.
      await this.read(unit, state).catch(() => this.samples.delete(unit));
    }
    const running = new Set(units);
    for (const unit of this.samples.keys()) if (!running.has(unit)) this.samples.delete(unit);
    for (const unit of this.accounting.keys()) if (!this.units.known(unit)) this.accounting.delete(unit);
    return read;
  }
}

/** CPU time (user and system, every thread) this process has used, ms. */
function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * The unit's processes: read from its cgroup's cgroup.procs, which costs systemd nothing, or, where
 * that is not readable from here, asked of systemd (GetUnitProcesses).
 *
 * The state the read began with may be a moment older than systemd's: a unit stopped meanwhile can
 * be gone from systemd altogether, which GetUnitProcesses answers with NoSuchUnit ("Unit … not
 * loaded.", systemd's bus_get_unit_by_name: unlike GetAll it never loads a unit). systemd unloads
 * only units that have no processes (unit_may_gc: "Units with active processes should never be
 * collected"), so that answer means none, not that the unit does not exist: the stream is still
 * declared, and its status is not a NOT_FOUND.
 */
async function unitPids(manager: SystemdManager | undefined, unit: string, controlGroup: string | undefined): Promise<{ pids: number[]; complete: boolean }> {
  if (controlGroup) {
    const tree = pidsInTree(trackingCgroupDir(controlGroup), PROCFS_SAMPLE.maxCgroups);
    if (tree.pids.length > 0 || !manager) return tree;
  }
  if (!manager) return { pids: [], complete: false };
  try {
    return { pids: (await manager.GetUnitProcesses(unit)).map((process) => process.pid), complete: true };
  } catch (error) {
    if (error instanceof SystemdCallError && error.dbusErrorName === DBusErrorNames.noSuchUnit) return { pids: [], complete: true };
    throw error;
  }
}
