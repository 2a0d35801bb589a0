import { readdir, readFile } from 'node:fs/promises';
import { BusConnection } from '../src/systemd/busConnection.js';

/** What the soak watches for growth in lit-streamd, read from outside the process. */
export interface Footprint {
  /** VmRSS. */
  readonly rssBytes: number;
  /** Entries of /proc/<pid>/fd. */
  readonly fds: number;
  /** Match rules the bus daemon holds for the server's connection (org.freedesktop.DBus.Debug.Stats). */
  readonly matchRules: number;
  /** Processes descended from the server. */
  readonly children: number;
  /** Their command names (/proc/<pid>/comm), for the report. */
  readonly childNames?: readonly string[];
  /** Open watches as the server counts them (`lit_stream_open_watches`). */
  readonly openWatches: number;
  /** RPCs started so far by method (`grpc_server_started_total`): what a growth is per call. */
  readonly callsStarted?: Readonly<Record<string, number>>;
}

export const FOOTPRINT_KEYS = ['rssBytes', 'fds', 'matchRules', 'children', 'openWatches'] as const;

/**
 * Reads a Footprint of the server process `pid`. The match rules come from the sandbox's
 * dbus-daemon (its Debug.Stats interface, GetAllMatchRules), for the connection whose peer is the
 * server's pid (GetConnectionUnixProcessID): after a bus restart that is the server's new connection.
 */
export async function readFootprint(pid: number, metricsAddress: string, busAddress: string): Promise<Footprint> {
  const [status, fds, metrics, matchRules, children] = await Promise.all([
    readFile(`/proc/${pid}/status`, 'utf8'),
    readdir(`/proc/${pid}/fd`),
    fetch(`http://${metricsAddress}/metrics`, { signal: AbortSignal.timeout(10_000) }).then((response) => response.text()),
    matchRulesOf(pid, busAddress),
    descendantsOf(pid),
  ]);
  const rssKib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return {
    rssBytes: rssKib * 1024,
    fds: fds.length,
    matchRules,
    children: children.length,
    childNames: await Promise.all(children.map((child) => readFile(`/proc/${child}/comm`, 'utf8').then((comm) => comm.trim(), () => '?'))),
    openWatches: metricValue(metrics, 'lit_stream_open_watches'),
    callsStarted: startedByMethod(metrics),
  };
}

function startedByMethod(text: string): Record<string, number> {
  const started: Record<string, number> = {};
  for (const [, method, value] of text.matchAll(/^grpc_server_started_total\{[^}]*grpc_method="([^"]+)"[^}]*\} (\S+)$/gm)) {
    started[method!] = (started[method!] ?? 0) + Number(value);
  }
  return started;
}

function metricValue(text: string, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!match) throw new Error(`no ${name} in the server's /metrics`);
  return Number(match[1]);
}

async function matchRulesOf(pid: number, busAddress: string): Promise<number> {
  const bus = await BusConnection.open(busAddress);
  try {
    const daemon = (iface: string, member: string, signature = '', body: unknown[] = []) =>
      bus.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: iface, member, signature, body, timeoutMs: 10_000 });
    const [names] = (await daemon('org.freedesktop.DBus', 'ListNames')) as [string[]];
    let rules = 0;
    let found = false;
    const [all] = (await daemon('org.freedesktop.DBus.Debug.Stats', 'GetAllMatchRules')) as [Record<string, string[]>];
    for (const name of names.filter((n) => n.startsWith(':'))) {
      const owner = await daemon('org.freedesktop.DBus', 'GetConnectionUnixProcessID', 's', [name]).then(
        ([value]) => Number(value),
        () => 0,
      );
      if (owner !== pid) continue;
      found = true;
      rules += all[name]?.length ?? 0;
    }
    if (!found) throw new Error(`lit-streamd (pid ${pid}) has no connection to the bus`);
    return rules;
  } finally {
    bus.close();
  }
}

/** Every process whose chain of parents leads to `pid` (from /proc/<pid>/stat). */
export async function descendantsOf(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isFinite(ppid)) parents.set(Number(entry), ppid);
  }
  const found: number[] = [];
  for (const candidate of parents.keys()) {
    for (let up = parents.get(candidate); up !== undefined && up > 1; up = parents.get(up)) {
      if (up === pid) {
        found.push(candidate);
        break;
      }
    }
  }
  return found;
}
