import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { heapGrowth, liveHeapOf, snapshotNodeArgs } from '../../bench/heapSnapshot.js';

/**
 * A process that keeps N `DeliberateLeak` objects each time it is told N on stdin, and also makes
 * ~3 MB of garbage that it drops; it answers `ok` once done.
 */
const LEAKY = `
class DeliberateLeak { constructor(i) { this.i = i; this.slots = new Array(8).fill(i); } }
const kept = [];
process.stdin.on('data', (data) => {
  for (let i = 0; i < Number(String(data)); i++) kept.push(new DeliberateLeak(i));
  let garbage = [];
  for (let i = 0; i < 100_000; i++) garbage.push({ i, text: 'garbage ' + i });
  garbage = undefined;
  process.stdout.write('ok\\n');
});
process.stdout.write('ok\\n');
`;

describe("the soak's live-heap probe (bench/heapSnapshot.ts): a heap snapshot asked for by signal", () => {
  let dir: string;
  let child: ChildProcessWithoutNullStreams;
  let answers: Array<() => void>;
  const answered = () => new Promise<void>((resolve) => answers.push(resolve));

  beforeEach(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'lit-stream-heap-')));
    answers = [];
    child = spawn(process.execPath, [...snapshotNodeArgs(dir), '-e', LEAKY]);
    child.stdout.on('data', (data: Buffer) => {
      for (const _ of String(data).matchAll(/ok\n/g)) answers.shift()?.();
    });
    await answered();
  });

  afterEach(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts the objects a process keeps, leaves out the garbage it dropped, and deletes the snapshot', async () => {
    const before = await liveHeapOf(child.pid!, dir, 60_000);
    child.stdin.write('5000');
    await answered();
    const after = await liveHeapOf(child.pid!, dir, 60_000);

    const leak = heapGrowth(before, after, 1_000).find((growth) => growth.constructor === 'DeliberateLeak');
    expect(leak).toMatchObject({ count: 5000, countChange: 5000 });
    // Each kept object holds an 8-slot array (≥ 64 B of elements) besides itself…
    expect(after.liveBytes - before.liveBytes).toBeGreaterThan(5000 * 100);
    // …and the 100,000 dropped objects with their strings (> 3 MB) are not counted.
    expect(after.liveBytes - before.liveBytes).toBeLessThan(2_000_000);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives the same live heap twice at rest', async () => {
    const first = await liveHeapOf(child.pid!, dir, 60_000);
    const second = await liveHeapOf(child.pid!, dir, 60_000);
    expect(Math.abs(second.liveBytes - first.liveBytes)).toBeLessThan(100_000);
  });
});
