import { readFile } from 'node:fs/promises';

export interface ProcessUsage {
  /** Threads across the processes (what the pids cgroup controller counts as tasks). */
  readonly tasks: number;
  /** Proportional set size summed over the processes, in bytes. */
  readonly memoryBytes: number;
}

export interface ProcessesUsage extends ProcessUsage {
  /** How many of the processes were read (those that exited meanwhile count as read: they are gone). */
  readonly read: number;
  /** Whether every process was read; otherwise the figures cover only `read` of them. */
  readonly complete: boolean;
}

/** How much one reading of a set of processes may cost. */
export interface ReadLimits {
  /** Processes read at most; those beyond are left out. */
  readonly maxProcesses: number;
  /** Milliseconds after which no further process is waited for. */
  readonly budgetMs: number;
  /** Files read at once (each read holds one of libuv's threads, 4 by default, while it lasts). */
  readonly concurrency: number;
}

const OUT_OF_TIME = Symbol('out of time');

/**
 * Resource use of a set of processes read from /proc (proc(5)), for units whose cgroup accounting
 * is off. Memory is PSS from `smaps_rollup` so that pages shared between the unit's processes are
 * not counted twice, falling back to VmRSS where smaps_rollup is unreadable. Processes that exit
 * while being read are skipped.
 *
 * Reading `smaps_rollup` takes the process's mmap lock and walks its page tables: milliseconds for a
 * process that shares a large heap with its siblings, and as long as a writer holds the lock. So
 * the reads are asynchronous (never on the event loop), a few at a time (never all of libuv's
 * threads), and bounded in count and time: what is left out is reported (`complete: false`), never
 * guessed.
 */
export async function readProcessesUsage(pids: readonly number[], limits: ReadLimits): Promise<ProcessesUsage> {
  const pending = pids.slice(0, limits.maxProcesses);
  let tasks = 0;
  let memoryBytes = 0;
  let read = 0;
  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<typeof OUT_OF_TIME>((resolve) => (timer = setTimeout(resolve, limits.budgetMs, OUT_OF_TIME)));
  let timedOut = false;
  const readNext = async (): Promise<void> => {
    for (let pid = pending.shift(); pid !== undefined && !timedOut; pid = pending.shift()) {
      // A read that outlasts the budget is left to finish on its own; its result is not counted.
      const usage = await Promise.race([readOne(pid), outOfTime]);
      if (usage === OUT_OF_TIME) {
        timedOut = true;
        return;
      }
      read++;
      tasks += usage?.tasks ?? 0;
      memoryBytes += usage?.memoryBytes ?? 0;
    }
  };
  try {
    await Promise.all(Array.from({ length: limits.concurrency }, readNext));
  } finally {
    clearTimeout(timer);
  }
  return { tasks, memoryBytes, read, complete: read === pids.length };
}

async function readOne(pid: number): Promise<ProcessUsage | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const threads = kibField(status, 'Threads') ?? 1;
    const pssKib = kibField(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => ''), 'Pss');
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
