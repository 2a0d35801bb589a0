import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { pidsIn } from '../../src/systemd/cgroups.js';
import { EmbeddedSystemd } from '../../src/systemd/embeddedSystemd.js';
import { waitFor } from './harness.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

describe('the embedded systemd', () => {
  it('is a real systemd user manager on its own bus, in its own cgroup, invisible to the host', async () => {
    const hostHadIt = existsSync('/run/systemd/system');
    const sandbox = await EmbeddedSystemd.boot();
    try {
      const version = await sandbox.withManager((m) => m.getManagerProperty('Version'));
      expect(String(version)).toMatch(/^\d+/);
      expect(await pidsIn(sandbox.cgroups)).toContain(sandbox.pid);
      // /run/systemd/system exists only inside the sandbox's mount namespace.
      expect(existsSync('/run/systemd/system')).toBe(hostHadIt);
    } finally {
      await sandbox.shutdown();
    }
  });

  it('leaves no process, cgroup or directory behind after shutdown', async () => {
    const sandbox = await EmbeddedSystemd.boot();
    await sandbox.writeUnit('lit-stream-t@a.service', '[Service]\nType=exec\nExecStart=/bin/sleep infinity\nPrivateTmp=yes\n');
    await sandbox.reload();
    await sandbox.withManager((m) => m.StartUnit('lit-stream-t@a.service', 'replace'));
    const pids = await pidsIn(sandbox.cgroups);
    expect(pids.length).toBeGreaterThanOrEqual(3); // systemd, dbus-daemon, the unit's sleep

    const privateTmp = () => readdirSync('/tmp').filter((entry) => entry.includes('-lit-stream-t@a.service-'));
    expect(privateTmp()).toHaveLength(1); // PrivateTmp= makes its directory in the host's /tmp

    await sandbox.shutdown();
    expect(privateTmp()).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
    expect(sandbox.cgroups.filter((dir) => existsSync(dir))).toEqual([]);
    expect(existsSync(sandbox.root)).toBe(false);
  });

  it('is cleaned up by its watchdog when the process that booted it is killed outright', async () => {
    const owner = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/bootAndHang.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => createInterface({ input: owner.stdout! }).once('line', resolve));
    const { root, cgroups, pid } = JSON.parse(line) as { root: string; cgroups: string[]; pid: number };
    const pids = await pidsIn(cgroups);
    expect(pids).toContain(pid);

    owner.kill('SIGKILL');
    await waitFor(() => pids.filter(alive).length === 0, 10_000, 'every sandbox process to be gone');
    await waitFor(() => cgroups.every((dir) => !existsSync(dir)) && !existsSync(root), 10_000, 'cgroups and directory to be removed');
  });
});
