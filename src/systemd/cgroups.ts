import { type Dirent, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

/**
 * The directories one cgroup needs on this host's layout: the unified hierarchy alone on a pure
 * cgroup2 host; the named `systemd` hierarchy plus `unified` on a hybrid host (Debian 12's
 * default when PID 1 is not systemd, as on these machines); the named hierarchy alone on legacy.
 */
export function cgroupDirs(name: string): string[] {
  if (existsSync(join(ROOT, 'cgroup.controllers'))) return [join(ROOT, name)];
  const dirs = [join(ROOT, 'systemd', name)];
  if (existsSync(join(ROOT, 'unified', 'cgroup.procs'))) dirs.push(join(ROOT, 'unified', name));
  return dirs;
}

/** Where trackingCgroupDir() looks, found once: a host's cgroup layout does not change while it runs. */
let trackingRoot: string | undefined;

/**
 * The directory of a unit's cgroup (systemd's ControlGroup property) in the hierarchy systemd
 * tracks processes in: the unified one on a pure cgroup2 host, the named `systemd` one otherwise.
 */
export function trackingCgroupDir(controlGroup: string): string {
  trackingRoot ??= existsSync(join(ROOT, 'cgroup.controllers')) ? ROOT : join(ROOT, 'systemd');
  return join(trackingRoot, controlGroup);
}

/**
 * The pids in one cgroup and its descendants, reading at most `maxCgroups` cgroups (`complete`
 * says whether that was all of them); empty if the cgroup is gone. Read synchronously: cgroupfs
 * (kernfs) makes these files in memory as they are read, never waiting on a process (unlike
 * /proc's smaps_rollup, see ProcfsReader), so a read takes microseconds — where an asynchronous one
 * costs four trips to libuv's threads, and a walk of the usage sampler does this for every running
 * stream. `maxCgroups` bounds the time the event loop spends here on a unit that delegated a deep
 * tree.
 */
export function pidsInTree(dir: string, maxCgroups: number): { pids: number[]; complete: boolean } {
  const pids: number[] = [];
  const pending = [dir];
  let read = 0;
  for (let path = pending.shift(); path !== undefined && read < maxCgroups; path = pending.shift()) {
    read++;
    let procs: string;
    let entries: Dirent[];
    try {
      procs = readFileSync(join(path, 'cgroup.procs'), 'utf8');
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      continue; // removed meanwhile
    }
    for (const line of procs.split('\n')) if (line) pids.push(Number(line));
    for (const entry of entries) if (entry.isDirectory()) pending.push(join(path, entry.name));
  }
  return { pids, complete: pending.length === 0 };
}

export async function createCgroups(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) await mkdir(dir, { recursive: true });
}

/** Every pid in the cgroups and their descendants. */
export async function pidsIn(dirs: readonly string[]): Promise<number[]> {
  const pids = new Set<number>();
  const walk = async (dir: string): Promise<void> => {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const line of procs.split('\n')) if (line.trim()) pids.add(Number(line));
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => walk(join(dir, e.name))));
  };
  await Promise.all(dirs.map(walk));
  return [...pids];
}

/** Removes the cgroups bottom-up; false while some are still busy (a process has yet to go). */
export async function removeCgroups(dirs: readonly string[]): Promise<boolean> {
  let removedAll = true;
  const remove = async (dir: string): Promise<void> => {
    if (!existsSync(dir)) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await remove(join(dir, entry.name));
    await rmdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') removedAll = false;
    });
  };
  for (const dir of dirs) await remove(dir);
  return removedAll;
}
