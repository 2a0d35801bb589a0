import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProcfsReader, readProcessesUsage } from '../../src/systemd/procfs.js';

const UNBOUNDED = { maxProcesses: 1_000, budgetMs: 10_000, concurrency: 1 };
/** A pid above the kernel's maximum (4194304): never a process. */
const GONE = 5_000_000;

describe('readProcessesUsage: tasks and memory of processes from /proc, bounded per reading', () => {
  it("sums a live process's threads and PSS", async () => {
    const usage = await readProcessesUsage([process.pid], UNBOUNDED);
    expect(usage).toMatchObject({ read: 1, complete: true });
    expect(usage.tasks).toBeGreaterThanOrEqual(1);
    expect(usage.memoryBytes).toBeGreaterThan(0);
  });

  it('skips a process that is gone: it no longer belongs to the unit, so the reading is still complete', async () => {
    const usage = await readProcessesUsage([GONE], UNBOUNDED);
    expect(usage).toEqual({ tasks: 0, memoryBytes: 0, read: 1, complete: true });
  });

  it('reads no more processes than allowed, and says the figures are not complete', async () => {
    const capped = await readProcessesUsage([process.pid, process.ppid], { ...UNBOUNDED, maxProcesses: 1 });
    expect(capped).toMatchObject({ read: 1, complete: false });
    expect(capped.tasks).toBeGreaterThanOrEqual(1);
  });
});

/**
 * A stand-in for /proc whose files can hang: `<pid>/status` a FIFO that nobody writes, so reading it
 * blocks one of libuv's threads in open(2) until it is released — as a read of a process stuck in a
 * page fault (hung NFS or FUSE mount, mmap lock held) does.
 */
class HangingProc {
  readonly root = mkdtempSync(join(tmpdir(), 'lit-stream-proc-'));

  hanging(pid: number): number {
    mkdirSync(join(this.root, String(pid)));
    execFileSync('mkfifo', [join(this.root, String(pid), 'status')]);
    return pid;
  }

  answering(pid: number): number {
    mkdirSync(join(this.root, String(pid)));
    writeFileSync(join(this.root, String(pid), 'status'), 'Threads:\t3\nVmRSS:\t  100 kB\n');
    return pid;
  }

  /** Lets every blocked read go: a writer opens and closes each FIFO (the reader then reads EOF). */
  release(): void {
    for (const pid of readdirSync(this.root)) {
      try {
        closeSync(openSync(join(this.root, pid, 'status'), constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // a regular file, or a FIFO nobody is reading
      }
    }
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Whether another fs call of the process still gets a thread within `ms` (libuv's pool not full). */
async function threadpoolAnswers(ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([stat(tmpdir()).then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('ProcfsReader: reads that never end cannot take the threads every fs call needs', () => {
  const quick = { maxProcesses: 256, budgetMs: 50, concurrency: 1 };
  let proc: HangingProc;
  beforeEach(() => {
    proc = new HangingProc();
  });
  afterEach(async () => {
    proc.release();
    await new Promise((resolve) => setTimeout(resolve, 50)); // the released reads end
    proc.remove();
  });

  it('samples taken again and again of processes whose /proc hangs leave the rest of the server its threads', async () => {
    const reader = new ProcfsReader(2, proc.root);
    const pids = [1, 2, 3, 4, 5, 6].map((pid) => proc.hanging(pid));
    // Once a second per stream, as GetStatus and metrics sample; each sample gives up after 50 ms.
    for (let sample = 0; sample < 8; sample++) {
      const usage = await reader.usage(pids, quick);
      expect(usage).toMatchObject({ read: 0, complete: false });
    }
    expect(await threadpoolAnswers(2_000)).toBe(true);
    expect(reader.outstanding).toBeLessThanOrEqual(2);
  });

  it('never reads a process again while its read is still running, and counts a read until it really ends', async () => {
    const reader = new ProcfsReader(2, proc.root);
    const pid = proc.hanging(7);
    for (let sample = 0; sample < 5; sample++) await reader.usage([pid], quick);
    expect(reader.outstanding).toBe(1);
    proc.release();
    await vi.waitFor(() => expect(reader.outstanding).toBe(0));
  });

  it('answers at once, partial, when every slot is held by a read that has outlasted its budget', async () => {
    const reader = new ProcfsReader(2, proc.root);
    await reader.usage([proc.hanging(1), proc.hanging(2)], { ...quick, concurrency: 2 });
    const other = proc.answering(3);
    const startedAt = performance.now();
    const usage = await reader.usage([other], { ...quick, budgetMs: 10_000 });
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    expect(usage).toMatchObject({ read: 0, complete: false });
    // Once they end, the process is read again as usual.
    proc.release();
    await vi.waitFor(() => expect(reader.outstanding).toBe(0));
    expect(await reader.usage([other], quick)).toEqual({ tasks: 3, memoryBytes: 100 * 1024, read: 1, complete: true });
  });

  it('a reading waiting for a slot answers, partial, as soon as the reads holding them outlast their budget', async () => {
    const reader = new ProcfsReader(2, proc.root);
    // Taken together: the second finds both slots held by reads still within their 50 ms budget.
    const first = reader.usage([proc.hanging(1), proc.hanging(2)], { ...quick, concurrency: 2 });
    const startedAt = performance.now();
    const usage = await reader.usage([proc.answering(3)], { ...quick, budgetMs: 10_000 });
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    expect(usage).toMatchObject({ read: 0, complete: false });
    expect(await first).toMatchObject({ read: 0, complete: false });
  });

  it('with one slot held by a stuck read, samples taken together share the other and are complete', async () => {
    const reader = new ProcfsReader(2, proc.root);
    await reader.usage([proc.hanging(1)], quick);
    expect(reader.outstanding).toBe(1);
    const streamA = [21, 22, 23].map((pid) => proc.answering(pid));
    const streamB = [31, 32, 33].map((pid) => proc.answering(pid));
    const [a, b] = await Promise.all([reader.usage(streamA, { ...quick, budgetMs: 5_000 }), reader.usage(streamB, { ...quick, budgetMs: 5_000 })]);
    expect(a).toEqual({ tasks: 9, memoryBytes: 3 * 100 * 1024, read: 3, complete: true });
    expect(b).toEqual({ tasks: 9, memoryBytes: 3 * 100 * 1024, read: 3, complete: true });
  });

  it('shares its slots among samples taken together rather than failing those that wait', async () => {
    const reader = new ProcfsReader(1, proc.root);
    const pids = [11, 12, 13, 14].map((pid) => proc.answering(pid));
    const usages = await Promise.all(Array.from({ length: 8 }, () => reader.usage(pids, { ...quick, budgetMs: 10_000 })));
    for (const usage of usages) expect(usage).toEqual({ tasks: 12, memoryBytes: 4 * 100 * 1024, read: 4, complete: true });
  });
});
