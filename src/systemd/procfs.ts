import { readFile } from 'node:fs/promises';

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
 */
export async function readProcessUsage(pids: readonly number[]): Promise<ProcessUsage> {
  const perProcess = await Promise.all(pids.map(readOne));
  let tasks = 0;
  let memoryBytes = 0;
  for (const usage of perProcess) {
    if (!usage) continue;
    tasks += usage.tasks;
    memoryBytes += usage.memoryBytes;
  }
  return { tasks, memoryBytes };
}

async function readOne(pid: number): Promise<ProcessUsage | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const threads = kibField(status, 'Threads') ?? 1;
    const pssKib = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').then(
      (rollup) => kibField(rollup, 'Pss'),
      () => undefined,
    );
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
