import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSmallFile } from '../../src/systemd/smallFile.js';

describe('readSmallFile: a file of /proc or /sys in as few reads as it takes', () => {
  it('reads a generated file whole, as readFile does', async () => {
    expect(await readSmallFile('/proc/self/smaps_rollup')).toMatch(/^Pss:\s+\d+ kB$/m);
    expect(await readSmallFile(`/proc/${process.pid}/status`)).toMatch(new RegExp(`^Pid:\\s+${process.pid}$`, 'm'));
  });

  it('reads a file longer than one read to its end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lit-stream-small-'));
    try {
      // cgroup.procs of a crowded cgroup: one pid a line, well beyond one read.
      const text = Array.from({ length: 5_000 }, (_, i) => `${100_000 + i}\n`).join('');
      writeFileSync(join(dir, 'cgroup.procs'), text);
      expect(await readSmallFile(join(dir, 'cgroup.procs'))).toBe(readFileSync(join(dir, 'cgroup.procs'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('fails as readFile does for a file that is not there', async () => {
    await expect(readSmallFile('/proc/5000000/status')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
