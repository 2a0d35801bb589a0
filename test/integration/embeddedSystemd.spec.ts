import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { pidsIn } from '../../src/systemd/cgroups.js';
import { EmbeddedSystemd } from '../../src/dev/embeddedSystemd.js';
import { waitFor } from './harness.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
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

  it('leaves no process, cgroup or directory behind after shutdown, journald included', async () => {
    const sandbox = await EmbeddedSystemd.boot();
    await sandbox.writeUnit('lit-stream-t@a.service', '[Service]\nType=exec\nExecStart=/bin/sleep infinity\nPrivateTmp=yes\n');
    await sandbox.reload();
    await sandbox.withManager((m) => m.StartUnit('lit-stream-t@a.service', 'replace'));
    let pids: number[] = [];
    await waitFor(async () => (pids = await pidsIn(sandbox.cgroups)).map(commandOf).includes('sleep'), 10_000, "the unit's sleep");
    expect(pids.map(commandOf)).toEqual(expect.arrayContaining(['systemd', 'systemd-journal', 'dbus-daemon', 'sleep']));

    await sandbox.shutdown();
    expect(pids.filter(alive)).toEqual([]);
    expect(sandbox.cgroups.filter((dir) => existsSync(dir))).toEqual([]);
    expect(existsSync(sandbox.root)).toBe(false);
  });

  it("gives its units a /tmp of their own: nothing they write there, PrivateTmp= included, reaches the host's, and its teardown never touches the host's", async () => {
    const sandbox = await EmbeddedSystemd.boot();
    const marker = `lit-stream-worker-${process.pid}-${Date.now()}`;
    // Names no other sandbox on this machine uses: the host's /tmp is shared with whatever else runs.
    const unitA = `lit-stream-tmp${process.pid}@a.service`;
    const unitB = `lit-stream-tmp${process.pid}@b.service`;
    // What a host service's PrivateTmp= directory of the same unit name looks like; the old
    // cleanup removed any such directory made since the sandbox booted.
    const hostPrivateTmp = join('/tmp', `systemd-private-${'0'.repeat(32)}-${unitA}-${marker}`);
    mkdirSync(hostPrivateTmp);
    try {
      await sandbox.writeUnit(unitA, `[Service]\nType=exec\nExecStart=/bin/sh -c 'touch /tmp/${marker}; exec sleep infinity'\nPrivateTmp=yes\n`);
      await sandbox.writeUnit(unitB, `[Service]\nType=exec\nExecStart=/bin/sh -c 'touch /tmp/${marker} /var/tmp/${marker}; exec sleep infinity'\n`);
      await sandbox.reload();
      await sandbox.withManager(async (m) => {
        await m.StartUnit(unitA, 'replace');
        await m.StartUnit(unitB, 'replace');
      });
      const privateTmpOfSandbox = () => readdirSync('/tmp').filter((entry) => entry.includes(`-${unitA}-`) && entry !== basename(hostPrivateTmp));
      // Both workers have written their files (each has gone on to exec sleep), yet the host's
      // /tmp has none of it.
      const sleeping = async (unit: string) =>
        commandOf(Number(await sandbox.withManager(async (m) => (await m.getUnitProperties(unit)).MainPID))) === 'sleep';
      await waitFor(async () => (await sleeping(unitA)) && (await sleeping(unitB)), 10_000, 'both workers to write');
      expect(privateTmpOfSandbox()).toEqual([]);
      expect(existsSync(join('/tmp', marker))).toBe(false);
      expect(existsSync(join('/var/tmp', marker))).toBe(false);
      // ...while the sandbox's own directory stays visible to its units (the bus socket is there).
      expect(existsSync(sandbox.runtimeDir)).toBe(true);

      await sandbox.shutdown();
      expect(existsSync(hostPrivateTmp)).toBe(true);
    } finally {
      await sandbox.shutdown();
      for (const path of [hostPrivateTmp, join('/tmp', marker), join('/var/tmp', marker)]) rmSync(path, { recursive: true, force: true });
    }
  });

  it('keeps a journal: a unit\'s stdout and stderr and the manager\'s lines about it, attributed to the unit, nothing of the host\'s', async () => {
    const sandbox = await EmbeddedSystemd.boot();
    try {
      // The worker writes, then lives until told to exit 3: journald attributes a line to its unit
      // by the writer's cgroup, which it may no longer find for a process that has already exited.
      await sandbox.writeUnit(
        'lit-stream-t@a.service',
        "[Service]\nType=exec\nExecStart=/bin/sh -c 'trap \"exit 3\" USR1; echo to stdout; echo to stderr >&2; while :; do sleep 0.1; done'\n",
      );
      await sandbox.reload();
      await sandbox.withManager((m) => m.StartUnit('lit-stream-t@a.service', 'replace'));
      const read = () =>
        execFileSync('journalctl', ['--directory', sandbox.journalDirectory, '-o', 'json', '--all'], { encoding: 'utf8' })
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Record<string, string>);
      const fromWorker = () => read().filter((entry) => entry._SYSTEMD_USER_UNIT === 'lit-stream-t@a.service').map((entry) => entry.MESSAGE);
      await waitFor(() => fromWorker().length >= 2, 10_000, "the worker's two lines");
      const { MainPID } = await sandbox.withManager((m) => m.getUnitProperties('lit-stream-t@a.service'));
      expect(Number(MainPID)).toBeGreaterThan(0); // never signal a process group
      process.kill(Number(MainPID), 'SIGUSR1');
      await waitFor(() => read().some((entry) => /Failed with result 'exit-code'/.test(String(entry.MESSAGE))), 10_000, "systemd's line about the failure");
      const entries = read();
      expect(fromWorker()).toEqual(['to stdout', 'to stderr']);
      const aboutIt = entries.filter((entry) => entry.USER_UNIT === 'lit-stream-t@a.service').map((entry) => entry.MESSAGE);
      expect(aboutIt).toContain('lit-stream-t@a.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED');
      expect(entries.filter((entry) => entry._TRANSPORT === 'kernel')).toEqual([]);
      expect(new Set(entries.map((entry) => entry._PID)).size).toBeGreaterThan(1);
    } finally {
      await sandbox.shutdown();
    }
  });

  it('is cleaned up by its watchdog when the process that booted it is killed outright', async () => {
    const owner = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/bootAndHang.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => createInterface({ input: owner.stdout }).once('line', resolve));
    const { root, cgroups, pid } = JSON.parse(line) as { root: string; cgroups: string[]; pid: number };
    const pids = await pidsIn(cgroups);
    expect(pids).toContain(pid);

    owner.kill('SIGKILL');
    await waitFor(() => pids.filter(alive).length === 0, 10_000, 'every sandbox process to be gone');
    await waitFor(() => cgroups.every((dir) => !existsSync(dir)) && !existsSync(root), 10_000, 'cgroups and directory to be removed');
  });
});
