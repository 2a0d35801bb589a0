import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BusConnection } from '../systemd/busConnection.js';
import { cgroupDirs, createCgroups, pidsIn, removeCgroups } from '../systemd/cgroups.js';
import { SystemdManager } from '../systemd/manager.js';

const SYSTEMD = '/usr/lib/systemd/systemd';
/** The directory of this package (the one with package.json), from src/ and from dist/src/ alike. */
const PACKAGE_ROOT = packageRoot(dirname(fileURLToPath(import.meta.url)));
const JOURNALD = '/usr/lib/systemd/systemd-journald';
/** What `dbus-daemon --session` reads (dbus-daemon(1)): the sandbox's bus, activated by its manager. */
const SESSION_BUS_CONF = '/usr/share/dbus-1/session.conf';

/**
 * journald.conf(5) for the sandbox's journal, as a drop-in in /run/systemd/journald.conf.d: kept in
 * memory-backed /run/log/journal only (`Storage=volatile`), never a copy of the host's kernel log
 * (`ReadKMsg=no`), nothing forwarded to a syslog daemon or to terminals, and bounded in size.
 *
 * Rate limiting is off unless asked for. journald limits per *system* unit (journald.conf(5),
 * RateLimitIntervalSec=: "per-service"; journald keys it on the sender's `_SYSTEMD_UNIT`), and
 * every worker of a user manager is in the one system unit `user@<uid>.service`: with a limit, one
 * team's flood would use up the budget of every team's streams and their lines would be dropped.
 * Without it, a flooding worker is slowed by its own stdout (journald reads each stream in turn,
 * and a full socket blocks the writer), never the others.
 */
function journaldConf(rateLimit: JournaldRateLimit | undefined): string {
  return `[Journal]
Storage=volatile
ReadKMsg=no
ForwardToSyslog=no
ForwardToWall=no
ForwardToConsole=no
RuntimeMaxUse=64M
RateLimitIntervalSec=${rateLimit ? `${rateLimit.intervalMs}ms` : '0'}
RateLimitBurst=${rateLimit ? rateLimit.burst : 0}
`;
}

/**
 * Runs in a private mount namespace (unshare -m, private propagation), so every mount below is
 * seen by the sandbox alone and goes away with it.
 * - `systemd --user` refuses to start unless /run/systemd/system exists (sd_booted()): a tmpfs.
 * - /tmp and /var/tmp are fresh tmpfs mounts, so PrivateTmp= directories of the sandbox's units
 *   (`systemd-private-*`, systemd.exec(5)) and anything its workers write there never reach the
 *   host's; the paths given after the cgroup arguments (the sandbox's own directory, this checkout
 *   when it lives under /tmp) are bound back at the same place so units can still use them.
 * - A journal: journald's drop-in, a tmpfs on /run/log with the sandbox's journal directory bound
 *   onto /run/log/journal, systemd-journald started in a cgroup of its own, and the manager told to
 *   log to it (SYSTEMD_LOG_TARGET=journal): services' stdout/stderr and the manager's lines about
 *   each unit land there, readable from outside with `journalctl --directory`.
 * - With a bus policy, the session bus configuration (/usr/share/dbus-1/session.conf, which the
 *   bus the manager activates reads) is replaced by a copy that includes it.
 * Then the shell joins the manager's cgroups and becomes systemd.
 * $1 journal directory, $2 journald's cgroup.procs files, $3 the manager's (colon-separated), $4
 * journald's drop-in (a file in the sandbox's directory), $5 the bus configuration or '', then the
 * paths to keep visible.
 */
const LAUNCH = `set -e
journal="$1"; journald_procs="$2"; manager_procs="$3"; journald_conf="$4"; session_conf="$5"; shift 5
if [ -d /run/systemd ]; then mount -t tmpfs -o mode=0755 tmpfs /run/systemd; else mount -t tmpfs -o mode=0755 tmpfs /run; fi
mkdir -p /run/systemd/system /run/systemd/journald.conf.d /run/systemd/host-tmp
for tmp in /tmp /var/tmp; do
  [ -d "$tmp" ] || continue
  mount --bind "$tmp" /run/systemd/host-tmp
  mount -t tmpfs -o mode=1777 tmpfs "$tmp"
  for keep in "$@"; do
    case "$keep" in "$tmp"/*) mkdir -p "$keep"; mount --bind "/run/systemd/host-tmp/\${keep#"$tmp"/}" "$keep";; esac
  done
  umount /run/systemd/host-tmp
done
rmdir /run/systemd/host-tmp
[ -z "$session_conf" ] || mount --bind "$session_conf" ${SESSION_BUS_CONF}
cp "$journald_conf" /run/systemd/journald.conf.d/embedded.conf
mkdir -p /run/log
mount -t tmpfs -o mode=0755 tmpfs /run/log
mkdir /run/log/journal
mount --bind "$journal" /run/log/journal
IFS=:
for procs in $journald_procs; do echo $$ > "$procs"; done
${JOURNALD} </dev/null &
for procs in $manager_procs; do echo $$ > "$procs"; done
unset IFS
tries=0
until [ -S /run/systemd/journal/stdout ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt 400 ]; then echo "systemd-journald did not open /run/systemd/journal/stdout" >&2; exit 1; fi
  sleep 0.025
done
export SYSTEMD_LOG_TARGET=journal
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
  /**
   * Host paths under /tmp or /var/tmp that units must still see behind the sandbox's private /tmp
   * (the sandbox's own directory always is). Default: this package's directory, so a checkout
   * cloned under /tmp can run its examples and fixtures.
   */
  readonly visiblePaths?: readonly string[];
  /**
   * A command the sandbox is launched through, e.g. `nsenter --net=/run/netns/feed-1` to make it a
   * host of its own network namespace (its workers then live on that network). It must exec what
   * follows it, as nsenter does, so the manager's process stays the one this class watches.
   */
  readonly launchPrefix?: readonly string[];
  /**
   * A directory that keeps the manager's configuration across boots, as a host's disk does: unit
   * files and the symlinks `systemctl enable` makes ($XDG_CONFIG_HOME, under `config/`) and the
   * units installed for the user ($XDG_DATA_HOME, under `data/`). boot() makes what is missing and
   * shutdown() leaves it; a new boot over it starts what is enabled. Default: inside the sandbox's
   * own directory, gone with it.
   */
  readonly disk?: string;
  /** journald's rate limit (RateLimitIntervalSec=, RateLimitBurst=); default none (see journaldConf). */
  readonly journaldRateLimit?: JournaldRateLimit;
  /**
   * `<policy>` elements added to the sandbox's bus configuration (dbus-daemon(1), "policy"), e.g.
   * `<policy context="mandatory"><deny send_member="EnableUnitFiles"/></policy>`: the bus then
   * answers such a call with org.freedesktop.DBus.Error.AccessDenied, as systemd answers a call
   * polkit refuses.
   */
  readonly busPolicy?: string;
}

/** At most `burst` messages per `intervalMs` per system unit; journald drops the rest and says so. */
export interface JournaldRateLimit {
  readonly intervalMs: number;
  readonly burst: number;
}

/** The session bus configuration with `policy` added last (so it overrides), in the sandbox's directory. */
async function writeSessionConf(root: string, policy: string): Promise<string> {
  const path = join(root, 'session.conf');
  const original = readFileSync(SESSION_BUS_CONF, 'utf8');
  const end = original.lastIndexOf('</busconfig>');
  if (end < 0) throw new Error(`${SESSION_BUS_CONF} has no </busconfig>`);
  await writeFile(path, `${original.slice(0, end)}${policy}\n${original.slice(end)}`);
  return path;
}

/**
 * A real systemd user manager in a sandbox of its own: private runtime and config directories, its
 * own cgroup, its own D-Bus bus (socket-activated by the manager itself from dbus-user-session's
 * dbus.socket at $XDG_RUNTIME_DIR/bus), its own journal (a systemd-journald of its own, readable
 * from outside with `journalctl --directory=<journalDirectory>`) and its own /tmp. It is the
 * development default and the test bed; nothing of it touches the host's systemd, journal or /tmp,
 * and shutdown() leaves no process, cgroup or file behind.
 *
 * The cgroups are shaped like a real user manager's, `<unique>.slice/user@<uid>.service`, with
 * journald beside it in `<unique>.slice/systemd-journald.service`: journald tells which user unit a
 * line came from by finding `user@<uid>.service` in the sender's cgroup path (the
 * `_SYSTEMD_USER_UNIT=` field, systemd.journal-fields(7)); under any other shape it cannot.
 */
export class EmbeddedSystemd {
  private exited: Promise<void>;
  private stopped: Promise<void> | undefined;

  private constructor(
    readonly root: string,
    /** Where the configuration lives (EmbeddedSystemdOptions.disk, or `root`). */
    readonly disk: string,
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

  /** The journal's files (`/run/log/journal` inside the sandbox): `journalctl --directory=` this. */
  get journalDirectory(): string {
    return join(this.root, 'journal');
  }

  /** Where user units live: $XDG_CONFIG_HOME/systemd/user, the manager's configuration directory. */
  get unitDir(): string {
    return join(this.disk, 'config', 'systemd', 'user');
  }

  /** Units installed for the user: $XDG_DATA_HOME/systemd/user, further down the search path. */
  get dataUnitDir(): string {
    return join(this.disk, 'data', 'systemd', 'user');
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  static async boot(options: EmbeddedSystemdOptions = {}): Promise<EmbeddedSystemd> {
    const root = await mkdtemp(join(tmpdir(), 'lit-stream-systemd-'));
    const runtime = join(root, 'runtime');
    await mkdir(runtime, { recursive: true });
    await chmod(runtime, 0o700);
    for (const dir of ['state', 'cache', 'journal']) await mkdir(join(root, dir), { recursive: true });
    const disk = options.disk ?? root;
    for (const dir of ['config/systemd/user', 'data/systemd/user']) await mkdir(join(disk, dir), { recursive: true });
    const cgroups = cgroupDirs(`lit-stream-sandbox-${process.pid}-${randomBytes(4).toString('hex')}.slice`);
    const managerCgroups = cgroups.map((dir) => join(dir, `user@${process.getuid?.() ?? 0}.service`));
    const journaldCgroups = cgroups.map((dir) => join(dir, 'systemd-journald.service'));
    await createCgroups([...managerCgroups, ...journaldCgroups]);

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
      XDG_CONFIG_HOME: join(disk, 'config'),
      XDG_DATA_HOME: join(disk, 'data'),
      XDG_STATE_HOME: join(root, 'state'),
      XDG_CACHE_HOME: join(root, 'cache'),
    };
    const procs = (dirs: readonly string[]) => dirs.map((dir) => join(dir, 'cgroup.procs')).join(':');
    const visible = [root, ...(disk === root ? [] : [disk]), ...(options.visiblePaths ?? [PACKAGE_ROOT])];
    const journaldConfPath = join(root, 'journald.conf');
    await writeFile(journaldConfPath, journaldConf(options.journaldRateLimit));
    const sessionConf = options.busPolicy === undefined ? '' : await writeSessionConf(root, options.busPolicy);
    const launchArgs = [join(root, 'journal'), procs(journaldCgroups), procs(managerCgroups), journaldConfPath, sessionConf, ...visible];
    const [command, ...prefixArgs] = [...(options.launchPrefix ?? []), 'unshare'];
    const child = spawn(command, [...prefixArgs, '-m', '--propagation', 'private', '/bin/sh', '-c', LAUNCH, 'launch', ...launchArgs], {
      env,
      stdio: ['ignore', logFd, logFd],
      detached: true, // systemd gets our signals from shutdown(), not the terminal's
    });
    closeSync(logFd);
    child.unref();

    const sandbox = new EmbeddedSystemd(root, disk, cgroups, child, watchdog);
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

  /**
   * Declares an instance as a symlink to a template in the configuration directory: beside it, or
   * (`data`) in the user's data directory, where `systemctl disable` does not remove it.
   */
  async linkUnit(unit: string, template: string, where: 'config' | 'data' = 'config'): Promise<string> {
    const path = join(where === 'config' ? this.unitDir : this.dataUnitDir, unit);
    await symlink(where === 'config' || template.startsWith('/') ? template : join(this.unitDir, template), path);
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
   * Manager.Exit, then SIGKILL whatever is left in the cgroups (journald, and anything the manager
   * left), remove them (retrying briefly: a killed process can linger a moment before its cgroup
   * empties) and the directory. The mounts die with the namespace's last process.
   */
  shutdown(): Promise<void> {
    return (this.stopped ??= this.teardown());
  }

  private async teardown(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await this.withManager((manager) => manager.Exit()).catch(() => undefined);
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

function packageRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return from;
}
