import { readSmallFile } from './smallFile.js';

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
  /** Processes read at once by one reading (each read of a file holds one of libuv's threads). */
  readonly concurrency: number;
}

/** A read of one process's files, in flight until the kernel has answered it. */
interface InFlight {
  readonly usage: Promise<ProcessUsage | undefined>;
  readonly startedAt: number;
  /** The budget of the reading that started it: past it, the read counts as stuck. */
  readonly budgetMs: number;
}

const OUT_OF_TIME = Symbol('out of time');

/**
 * Resource use of sets of processes read from /proc (proc(5)), for units whose cgroup accounting is
 * off. Memory is PSS from `smaps_rollup` so that pages shared between the unit's processes are not
 * counted twice, falling back to VmRSS where smaps_rollup is unreadable. Processes that exit while
 * being read are skipped.
 *
 * Reading `smaps_rollup` takes the process's mmap lock and walks its page tables: milliseconds for
 * a process that shares a large heap with its siblings, as long as a writer holds the lock, and
 * forever for a process stuck in a page fault on a hung NFS or FUSE mount. So the reads are
 * asynchronous (never on the event loop) and each reading is bounded in count and time: what is
 * left out is reported (`complete: false`), never guessed. But a read the reading stopped waiting
 * for still holds one of libuv's threads (4 by default, UV_THREADPOOL_SIZE) until the kernel
 * answers, and every fs call of the server — the view's lstat/readlink among them — queues behind
 * those threads. So, for the whole process, the reads count as outstanding until they really end:
 *
 * - at most `maxReads` at once (by default half the pool), so /proc can never take every thread;
 * - never two of one pid: a reading joins the read already running, or, when that has outlasted
 *   its budget (stuck), leaves the process out;
 * - a reading that finds every slot taken waits for one within its budget, except when they are
 *   all held by stuck reads: then it answers at once with what it has.
 */
export class ProcfsReader {
  private readonly inFlight = new Map<number, InFlight>();
  /** Readings waiting for a slot to come free. */
  private readonly waiting = new Set<() => void>();

  constructor(
    readonly maxReads = defaultMaxReads(),
    /** Where proc(5) is mounted (a directory of stand-ins in specs). */
    private readonly root = '/proc',
  ) {}

  /** Reads in flight now, including those nobody waits for any more. */
  get outstanding(): number {
    return this.inFlight.size;
  }

  async usage(pids: readonly number[], limits: ReadLimits): Promise<ProcessesUsage> {
    const pending = pids.slice(0, limits.maxProcesses);
    let tasks = 0;
    let memoryBytes = 0;
    let read = 0;
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<typeof OUT_OF_TIME>((resolve) => (timer = setTimeout(resolve, limits.budgetMs, OUT_OF_TIME)));
    let done = false;
    const readNext = async (): Promise<void> => {
      for (let pid = pending.shift(); pid !== undefined && !done; pid = pending.shift()) {
        const running = await this.readOf(pid, limits.budgetMs, outOfTime);
        if (running === undefined) {
          done = true; // out of time, or every slot held by a stuck read
          return;
        }
        if (running === 'stuck') continue; // left out: its read is still running from earlier
        // A read that outlasts the budget is left to finish on its own; its result is not counted.
        const usage = await Promise.race([running.usage, outOfTime]);
        if (usage === OUT_OF_TIME) {
          done = true;
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
      done = true;
      clearTimeout(timer);
    }
    return { tasks, memoryBytes, read, complete: read === pids.length };
  }

  /**
   * The read of `pid` to wait for: the one running if it is still within its budget, else a new one
   * once a slot is free. `stuck` when the pid's read has outlasted its budget; undefined when no slot
   * came free in time or every slot is held by a stuck read.
   */
  private async readOf(pid: number, budgetMs: number, outOfTime: Promise<typeof OUT_OF_TIME>): Promise<InFlight | 'stuck' | undefined> {
    for (;;) {
      const running = this.inFlight.get(pid);
      if (running) return isStuck(running, performance.now()) ? 'stuck' : running;
      if (this.inFlight.size < this.maxReads) return this.start(pid, budgetMs);
      const now = performance.now();
      const notYetStuck = [...this.inFlight.values()].filter((read) => !isStuck(read, now));
      if (notYetStuck.length === 0) return undefined;
      // Look again when a read ends or when the next running read outlasts its budget: a read
      // whose budget ends as this one starts waiting is stuck a moment later, and waiting for it
      // would cost this reading its whole budget.
      const nextStuckAt = Math.min(...notYetStuck.map(stuckAt));
      if (!(await this.slotFreed(outOfTime, nextStuckAt - now + 1))) return undefined;
    }
  }

  /** Waits until a read ends or `lookAgainMs` pass (true), or the reading is out of time (false). */
  private async slotFreed(outOfTime: Promise<typeof OUT_OF_TIME>, lookAgainMs: number): Promise<boolean> {
    let wake!: () => void;
    const freed = new Promise<true>((resolve) => (wake = () => resolve(true)));
    const timer = setTimeout(wake, lookAgainMs);
    this.waiting.add(wake);
    try {
      return (await Promise.race([freed, outOfTime])) === true;
    } finally {
      clearTimeout(timer);
      this.waiting.delete(wake);
    }
  }

  private start(pid: number, budgetMs: number): InFlight {
    const usage = readOne(`${this.root}/${pid}`);
    const read = { usage, startedAt: performance.now(), budgetMs };
    this.inFlight.set(pid, read);
    // readOne() never rejects (a process gone is undefined), so neither does this.
    void usage.finally(() => {
      if (this.inFlight.get(pid) === read) this.inFlight.delete(pid);
      // Every waiting reading looks again (a few at most): none is woken for a slot it then
      // cannot take because it just ran out of time.
      for (const wake of this.waiting) wake();
    });
    return read;
  }
}

/** When a read has outlasted the budget of the reading that started it (performance.now() time). */
function stuckAt(read: InFlight): number {
  return read.startedAt + read.budgetMs;
}

function isStuck(read: InFlight, now: number): boolean {
  return now > stuckAt(read);
}

/** Half of libuv's threadpool (UV_THREADPOOL_SIZE, 4 by default), at least one. */
function defaultMaxReads(): number {
  const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.floor(poolSize / 2));
}

/** One process's threads and memory; undefined when it is gone. Never rejects. */
async function readOne(dir: string): Promise<ProcessUsage | undefined> {
  try {
    const status = await readSmallFile(`${dir}/status`);
    const threads = kibField(status, 'Threads') ?? 1;
    const pssKib = kibField(await readSmallFile(`${dir}/smaps_rollup`).catch(() => ''), 'Pss');
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

/** This process's reads of /proc: one set for the whole process, as libuv's threadpool is. */
const PROCESS_READS = new ProcfsReader();

/** Reads processes' usage from /proc through this process's one ProcfsReader. */
export function readProcessesUsage(pids: readonly number[], limits: ReadLimits): Promise<ProcessesUsage> {
  return PROCESS_READS.usage(pids, limits);
}
