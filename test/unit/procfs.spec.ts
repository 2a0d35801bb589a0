import { describe, expect, it } from 'vitest';
import { readProcessesUsage } from '../../src/systemd/procfs.js';

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
