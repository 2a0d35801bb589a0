import { pidsInTree, trackingCgroupDir } from './cgroups.js';
import { DBusErrorNames, SystemdCallError } from './errors.js';
import { type ReadLimits, readProcessesUsage } from './procfs.js';
import { SERVICE_INTERFACE, type SystemdManager } from './manager.js';
import { hasProcesses, knownCounter, type ServiceState } from './serviceState.js';

/**
 * How old a sample of tasks and memory may be when served. systemd does not signal TasksCurrent
 * or MemoryCurrent (nor /proc changes), so these are read on demand; within this bound, concurrent
 * and repeated status requests for a unit share one read instead of each costing D-Bus calls.
 */
export const USAGE_FRESHNESS_MS = 1_000;

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

/** A stream's tasks and memory, and where they come from (partial: see PROCFS_SAMPLE). */
export interface Usage {
  readonly tasks?: number;
  readonly memoryBytes?: number;
  /** systemd's accounting, the unit's processes in /proc, or no figures. */
  readonly usageSource: 'systemd' | 'procfs' | 'none';
  readonly usagePartial?: boolean;
}

interface Sample {
  readonly at: number;
  /** The main process the sample was taken for: a new process makes it stale at once. */
  readonly mainPid: number | undefined;
  readonly usage: Promise<Usage>;
}

const NO_USAGE: Usage = { usageSource: 'none' };

/**
 * Tasks and memory of units: systemd's cgroup accounting (TasksCurrent, MemoryCurrent) when it
 * has them, otherwise (accounting off: UINT64_MAX) the unit's processes summed from /proc.
 */
export class UsageSampler {
  private readonly samples = new Map<string, Sample>();
  /** Units systemd reported UINT64_MAX for: accounting is off, so go straight to /proc. */
  private readonly accountingOff = new Set<string>();

  constructor(private readonly freshnessMs = USAGE_FRESHNESS_MS) {}

  sample(manager: SystemdManager, unit: string, state: ServiceState): Promise<Usage> {
    if (!hasProcesses(state.ActiveState)) {
      this.samples.delete(unit);
      return Promise.resolve(NO_USAGE);
    }
    const now = Date.now();
    const cached = this.samples.get(unit);
    if (cached && now - cached.at < this.freshnessMs && cached.mainPid === state.MainPID) return cached.usage;
    const usage = this.read(manager, unit, state);
    this.samples.set(unit, { at: now, mainPid: state.MainPID, usage });
    usage.catch(() => this.samples.delete(unit));
    return usage;
  }

  /** Drops what is known of a unit (after an action: its processes and settings may be new). */
  forget(unit: string): void {
    this.samples.delete(unit);
    this.accountingOff.delete(unit);
  }

  private async read(manager: SystemdManager, unit: string, state: ServiceState): Promise<Usage> {
    if (!this.accountingOff.has(unit)) {
      const [tasks, memory] = await Promise.all([
        manager.getUnitProperty(unit, SERVICE_INTERFACE, 'TasksCurrent'),
        manager.getUnitProperty(unit, SERVICE_INTERFACE, 'MemoryCurrent'),
      ]).then((values) => values.map(knownCounter));
      if (tasks !== undefined && memory !== undefined) return { tasks, memoryBytes: memory, usageSource: 'systemd' };
      this.accountingOff.add(unit);
    }
    const { pids, complete: listed } = await unitPids(manager, unit, state);
    if (pids.length === 0) return NO_USAGE;
    const usage = await readProcessesUsage(pids, PROCFS_SAMPLE);
    // Nothing read in time: the figures are unknown, not zero.
    if (usage.read === 0) return { usageSource: 'procfs', usagePartial: true };
    return { tasks: usage.tasks, memoryBytes: usage.memoryBytes, usageSource: 'procfs', usagePartial: !listed || !usage.complete };
  }
}

/**
 * The unit's processes: read from its cgroup's cgroup.procs, which costs systemd nothing, or, where
 * that is not readable from here, asked of systemd (GetUnitProcesses).
 *
 * `state` may be a moment older than systemd's: a unit stopped meanwhile can be gone from systemd
 * altogether, which GetUnitProcesses answers with NoSuchUnit ("Unit … not loaded.", systemd's
 * bus_get_unit_by_name: unlike GetAll it never loads a unit). systemd unloads only units that have
 * no processes (unit_may_gc: "Units with active processes should never be collected"), so that
 * answer means none, not that the unit does not exist: the stream is still declared, and its status
 * is not a NOT_FOUND.
 */
async function unitPids(manager: SystemdManager, unit: string, state: ServiceState): Promise<{ pids: number[]; complete: boolean }> {
  if (state.ControlGroup) {
    const tree = await pidsInTree(trackingCgroupDir(state.ControlGroup), PROCFS_SAMPLE.maxCgroups);
    if (tree.pids.length > 0) return tree;
  }
  try {
    return { pids: (await manager.GetUnitProcesses(unit)).map((process) => process.pid), complete: true };
  } catch (error) {
    if (error instanceof SystemdCallError && error.dbusErrorName === DBusErrorNames.noSuchUnit) return { pids: [], complete: true };
    throw error;
  }
}
