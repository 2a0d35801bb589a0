import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { BusConnection } from './busConnection.js';
import { cgroupDirs, createCgroups, pidsIn, removeCgroups } from './cgroups.js';
import { SystemdManager } from './manager.js';

const SYSTEMD = '/usr/lib/systemd/systemd';

/**
 * Runs in a private mount namespace: `systemd --user` refuses to start unless /run/systemd/system
 * exists (sd_booted()), so we make it there on a tmpfs only this namespace sees, never on the host.
 * Then the shell joins the cgroups made for it and becomes systemd.
 */
const LAUNCH = `set -e
if [ -d /run/systemd ]; then mount -t tmpfs -o mode=0755 tmpfs /run/systemd; else mount -t tmpfs -o mode=0755 tmpfs /run; fi
mkdir -p /run/systemd/system
for procs in "$@"; do echo $$ > "$procs"; done
exec ${SYSTEMD} --user`;

/**
 * Cleans up if our process dies without calling shutdown(): it waits for its stdin (a pipe from us)
 * to close, which happens however we exit, then kills what is left in the cgroups and removes them
 * and the directory. $1 is the directory, the rest are cgroups.
 */
const WATCHDOG = `cat >/dev/null
root="$1"; shift
for round in 1 2 3 4 5 6 7 8 9 10; do
  find "$@" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
  find "$@" -depth -type d -exec rmdir {} + 2>/dev/null
  remaining=0; for cg in "$@"; do [ -d "$cg" ] && remaining=1; done
  [ "$remaining" = 0 ] && break
  sleep 0.2
done
rm -rf "$root"`;

export interface EmbeddedSystemdOptions {
  /** How long systemd may take to answer on its bus. */
  readonly readyTimeoutMs?: number;
}

/**
 * A real systemd user manager in a sandbox of its own: private runtime and config directories, its
 * own cgroup, its own D-Bus bus (socket-activated by the manager itself from dbus-user-session's
 * dbus.socket at $XDG_RUNTIME_DIR/bus). It is the development default and the test bed; nothing of
 * it touches the host's systemd, and shutdown() leaves no process, cgroup or file behind.
 */
export class EmbeddedSystemd {
  private exited: Promise<void>;
  private stopped: Promise<void> | undefined;
  private readonly bootedAt = Date.now();

  private constructor(
    readonly root: string,
    readonly cgroups: readonly string[],
    private readonly child: ChildProcess,
    private readonly watchdog: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }

  /** The D-Bus address to give lit-streamd's `--bus`. */
  get busAddress(): string {
    return `unix:path=${join(this.runtimeDir, 'bus')}`;
  }

  get runtimeDir(): string {
    return join(this.root, 'runtime');
  }

  /** Where user units live: $XDG_CONFIG_HOME/systemd/user. */
  get unitDir(): string {
    return join(this.root, 'config', 'systemd', 'user');
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  static async boot(options: EmbeddedSystemdOptions = {}): Promise<EmbeddedSystemd> {
    const root = await mkdtemp(join(tmpdir(), 'lit-stream-systemd-'));
    const runtime = join(root, 'runtime');
    await mkdir(runtime, { recursive: true });
    await chmod(runtime, 0o700);
    for (const dir of ['config/systemd/user', 'data', 'state', 'cache']) await mkdir(join(root, dir), { recursive: true });
    const cgroups = cgroupDirs(`lit-stream-sandbox-${process.pid}-${randomBytes(4).toString('hex')}`);
    await createCgroups(cgroups);

    const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'watchdog', root, ...cgroups], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true, // not in our process group: a Ctrl-C for us must not kill the cleanup
    });
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void }).unref?.();

    const logPath = join(root, 'systemd.log');
    const logFd = openSync(logPath, 'a');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? root,
      LANG: 'C.UTF-8',
      XDG_RUNTIME_DIR: runtime,
      XDG_CONFIG_HOME: join(root, 'config'),
      XDG_DATA_HOME: join(root, 'data'),
      XDG_STATE_HOME: join(root, 'state'),
      XDG_CACHE_HOME: join(root, 'cache'),
    };
    const child = spawn('unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', LAUNCH, 'launch', ...cgroups.map((dir) => join(dir, 'cgroup.procs'))], {
      env,
      stdio: ['ignore', logFd, logFd],
      detached: true, // systemd gets our signals from shutdown(), not the terminal's
    });
    closeSync(logFd);
    child.unref();

    const sandbox = new EmbeddedSystemd(root, cgroups, child, watchdog);
    try {
      await sandbox.waitUntilReady(options.readyTimeoutMs ?? 15_000, logPath);
    } catch (error) {
      await sandbox.shutdown();
      throw error;
    }
    return sandbox;
  }

  /** Writes a unit file into the sandbox's user unit directory. */
  async writeUnit(unit: string, contents: string): Promise<string> {
    const path = join(this.unitDir, unit);
    await writeFile(path, contents);
    return path;
  }

  /** Declares an instance as a symlink to a template in the same directory. */
  async linkUnit(unit: string, template: string): Promise<string> {
    const path = join(this.unitDir, unit);
    await symlink(template, path);
    return path;
  }

  async removeUnit(unit: string): Promise<void> {
    await rm(join(this.unitDir, unit), { force: true });
  }

  /** `systemctl --user daemon-reload` over D-Bus. */
  async reload(): Promise<void> {
    await this.withManager((manager) => manager.Reload());
  }

  async withManager<T>(use: (manager: SystemdManager) => Promise<T>): Promise<T> {
    const connection = await BusConnection.open(this.busAddress);
    try {
      return await use(new SystemdManager(connection));
    } finally {
      connection.close();
    }
  }

  /**
   * Manager.Exit, then SIGKILL whatever is left in the cgroups, remove them (retrying briefly:
   * a killed process can linger a moment before its cgroup empties) and the directory.
   */
  shutdown(): Promise<void> {
    return (this.stopped ??= this.teardown());
  }

  private async teardown(): Promise<void> {
    let services: string[] = [];
    if (this.child.exitCode === null && this.child.signalCode === null) {
      services = await this.withManager(async (manager) => {
        const units = await manager.ListUnitsByPatterns([], ['*.service']);
        await manager.Exit();
        return units.map((unit) => unit.name);
      }).catch(() => []);
      const exitedInTime = await Promise.race([this.exited.then(() => true), delay(5_000, false)]);
      if (!exitedInTime) this.child.kill('SIGKILL');
    }
    for (let attempt = 0; attempt < 50; attempt++) {
      for (const pid of await pidsIn(this.cgroups)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (await removeCgroups(this.cgroups)) break;
      await delay(20);
    }
    await rm(this.root, { recursive: true, force: true, maxRetries: 3 });
    await removePrivateTmp(services, this.bootedAt);
    this.watchdog.stdin?.end();
  }

  private async waitUntilReady(timeoutMs: number, logPath: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`embedded systemd exited during boot:\n${readFileSync(logPath, 'utf8').slice(-2000)}`);
      }
      try {
        const state = await this.withManager((manager) => manager.getManagerProperty('SystemState'));
        if (state === 'running' || state === 'degraded') return;
        lastError = new Error(`SystemState is ${String(state)}`);
      } catch (error) {
        lastError = error;
      }
      await delay(25);
    }
    throw new Error(`embedded systemd did not come up within ${timeoutMs} ms: ${(lastError as Error)?.message}`);
  }
}

/**
 * PrivateTmp= directories of this manager's services. A user manager makes them in the host's
 * /tmp and /var/tmp (`systemd-private-<boot id>-<unit>-<random>`, systemd.exec(5)) and removes
 * them when a unit stops, but not when the manager exits first. Only directories of units this
 * manager had, made since it booted, are removed.
 */
async function removePrivateTmp(services: readonly string[], since: number): Promise<void> {
  if (services.length === 0) return;
  for (const dir of ['/tmp', '/var/tmp']) {
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries) {
      if (!entry.startsWith('systemd-private-') || !services.some((unit) => entry.includes(`-${unit}-`))) continue;
      const path = join(dir, entry);
      const stats = await stat(path).catch(() => undefined);
      if (stats && stats.mtimeMs >= since - 1_000) await rm(path, { recursive: true, force: true });
    }
  }
}
