import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { pidsIn } from '../src/systemd/cgroups.js';

/** CPU time (user + system) each party spent during a phase, in ms, next to its wall time. */
export interface CpuUsage {
  readonly wallMs: number;
  readonly serverMs: number;
  readonly systemdMs: number;
  /** The sandbox's bus daemon (dbus-daemon), which relays every D-Bus message. */
  readonly busMs: number;
  /** This process (the gRPC clients, the D-Bus clients, the bookkeeping) and its finished subprocesses (systemctl). */
  readonly benchMs: number;
  /**
   * Everything else the machine's CPUs did meanwhile (/proc/stat busy time minus the above):
   * other processes, interrupts, the kernel's own work. High values mean a noisy measurement.
   */
  readonly othersMs: number;
}

interface Reading {
  readonly at: number;
  readonly server: number;
  readonly systemd: number;
  readonly bus: number;
  readonly bench: number;
  readonly machine: number;
}

/** USER_HZ: the unit of /proc/<pid>/stat's utime and stime (100 on every Linux architecture in use). */
const TICK_MS = 10;

/**
 * Reads who spent how much CPU, to say where the time of a phase went. Resolution is 10 ms per
 * process (a clock tick), plenty for phases of seconds.
 */
export class CpuMeter {
  private constructor(
    private readonly serverPid: number,
    private readonly systemdPid: number,
    private readonly busPids: readonly number[],
  ) {}

  static async create(serverPid: number, systemdPid: number, cgroups: readonly string[]): Promise<CpuMeter> {
    const busPids: number[] = [];
    for (const pid of await pidsIn(cgroups)) {
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
      if (comm === 'dbus-daemon' || comm === 'dbus-broker') busPids.push(pid);
    }
    return new CpuMeter(serverPid, systemdPid, busPids);
  }

  async read(): Promise<Reading> {
    const [machine, server, systemd, ...bus] = await Promise.all([
      machineBusyMs(),
      cpuMs(this.serverPid),
      cpuMs(this.systemdPid),
      ...this.busPids.map(cpuMs),
    ]);
    const own = process.cpuUsage();
    const children = await childrenCpuMs();
    return {
      at: performance.now(),
      server: server ?? 0,
      systemd: systemd ?? 0,
      bus: bus.reduce((sum: number, ms) => sum + ms, 0),
      bench: (own.user + own.system) / 1000 + children,
      machine,
    };
  }

  /** Runs `work`; `record` gets the CPU everyone spent meanwhile, whether `work` succeeds or fails. */
  async measure<T>(work: () => Promise<T>, record: (cpu: CpuUsage) => void): Promise<T> {
    const before = await this.read();
    try {
      return await work();
    } finally {
      const after = await this.read();
      const serverMs = after.server - before.server;
      const systemdMs = after.systemd - before.systemd;
      const busMs = after.bus - before.bus;
      const benchMs = after.bench - before.bench;
      const othersMs = Math.max(0, after.machine - before.machine - serverMs - systemdMs - busMs - benchMs);
      record({ wallMs: after.at - before.at, serverMs, systemdMs, busMs, benchMs, othersMs });
    }
  }
}

/** utime + stime of a process (all its threads), in ms; 0 once it is gone. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * TICK_MS : 0;
}

/** Busy time of all CPUs since boot (/proc/stat: user, nice, system, irq, softirq, steal), in ms. */
async function machineBusyMs(): Promise<number> {
  const stat = await readFile('/proc/stat', 'utf8').catch(() => '');
  const [user, nice, system, , , irq, softirq, steal] = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce((sum: number, ticks) => sum + (Number.isFinite(ticks) ? ticks! : 0), 0);
  return busy * TICK_MS;
}

/** cutime + cstime of this process: CPU of its subprocesses that have exited and been waited for. */
async function childrenCpuMs(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cutime = Number(fields[13]);
  const cstime = Number(fields[14]);
  return Number.isFinite(cutime) && Number.isFinite(cstime) ? (cutime + cstime) * TICK_MS : 0;
}
