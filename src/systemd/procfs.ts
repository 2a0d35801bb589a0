import { readFileSync } from 'node:fs';

export interface ProcessUsage {
  /** Threads across the processes (what the pids cgroup controller counts as tasks). */
  readonly tasks: number;
  /** Proportional set size summed over the processes, in bytes. */
  readonly memoryBytes: number;
}

/**
 * Resource use of a set of processes read from /proc (proc(5)), for units whose cgroup accounting
 * is off. Memory is PSS from `smaps_rollup` so that pages shared between the unit's processes are
 * not counted twice, falling back to VmRSS where smaps_rollup is unreadable. Processes that exit
 * while being read are skipped.
 *
 * The reads are synchronous on purpose: procfs files are generated in memory by the kernel and
 * never wait on a disk, and fs.promises would cost four thread-pool round trips per file.
 */
export function readProcessUsage(pids: readonly number[]): ProcessUsage {
  let tasks = 0;
  let memoryBytes = 0;
  for (const pid of pids) {
    const usage = readOne(pid);
    if (!usage) continue;
    tasks += usage.tasks;
    memoryBytes += usage.memoryBytes;
  }
  return { tasks, memoryBytes };
}

function readOne(pid: number): ProcessUsage | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const threads = kibField(status, 'Threads') ?? 1;
    let pssKib: number | undefined;
    try {
      pssKib = kibField(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
    } catch {
      pssKib = undefined;
    }
    const kib = pssKib ?? kibField(status, 'VmRSS') ?? 0;
    return { tasks: threads, memoryBytes: kib * 1024 };
  } catch {
    return undefined; // the process is gone
  }
}

/** The number of a `Name:   1234 kB` (or `Name: 1234`) line. */
function kibField(text: string, field: string): number | undefined {
  const match = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}
