import { Resolver } from 'node:dns/promises';
import type { SrvRecord } from 'node:dns';
import { isValidHostName } from '../core/hostName.js';
import type { DiscoveryEntry } from './fleetFile.js';

/** Hosts a DNS name lists: the gateway's name for each, and its agent's address. */
export type Discovered = ReadonlyMap<string, string>;

/** The resolver could not say (a timeout, a refused query, SERVFAIL…): not the same as "no hosts". */
export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
}

/**
 * Answers that mean the zone lists no such hosts (NXDOMAIN, or the name without records of the
 * type): the hosts left the zone, so they leave the fleet (c-ares codes, node's dns "Error codes").
 */
const NO_SUCH_RECORDS = new Set(['ENOTFOUND', 'ENODATA']);

/** How long one query may take, and how often it is tried, before the resolver counts as failed. */
const QUERY_TIMEOUT_MS = 2_000;
const QUERY_TRIES = 2;

/**
 * The hosts of one discovery entry now, from the system's resolver (its /etc/resolv.conf, read
 * afresh for each resolution, as Prometheus's DNS service discovery does):
 * - SRV: each record's target and port (srvHosts); the host's name is the target's first label
 *   (`feed-1` for `feed-1.feeds.example.`), its address `target:port` (dialled by name, so TLS
 *   checks the agent's certificate against that name).
 * - A/AAAA: each address with the entry's port; the host's name is that address (`10.0.0.1:50051`).
 * Throws DiscoveryError when the resolver fails; an empty map when the zone lists nobody.
 */
export async function resolveEntry(entry: DiscoveryEntry): Promise<Discovered> {
  const resolver = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
  if (entry.kind === 'srv') return srvHosts(await records(() => resolver.resolveSrv(entry.name), entry));
  const [v4, v6] = await Promise.all([
    records(() => resolver.resolve4(entry.name), entry),
    records(() => resolver.resolve6(entry.name), entry),
  ]);
  const hosts = new Map<string, string>();
  for (const address of v4) hosts.set(`${address}:${entry.port}`, `${address}:${entry.port}`);
  for (const address of v6) hosts.set(`[${address}]:${entry.port}`, `[${address}]:${entry.port}`);
  return hosts;
}

/**
 * The hosts of an SRV answer, by the first label of each target (`feed-1` for
 * `feed-1.feeds.example.`), at `target:port`. A target of `.` (which c-ares gives as '') says the
 * service is decidedly not there (RFC 2782) and names no host; nor does a label that is not a host
 * name (core/hostName.ts). Two targets with the same first label would be one name for two hosts:
 * the first in target then port order wins, not the first in the answer, which resolvers rotate
 * (dnsmasq does), so that the host does not move at every resolution.
 */
export function srvHosts(answer: readonly SrvRecord[]): Map<string, string> {
  const hosts = new Map<string, string>();
  const inOrder = answer
    .map((record) => ({ target: record.name.replace(/\.$/, ''), port: record.port }))
    .filter(({ target }) => target !== '')
    .sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : a.port - b.port));
  for (const { target, port } of inOrder) {
    const name = target.split('.')[0]!;
    if (isValidHostName(name) && !hosts.has(name)) hosts.set(name, `${target}:${port}`);
  }
  return hosts;
}

async function records<T>(query: () => Promise<T[]>, entry: DiscoveryEntry): Promise<T[]> {
  try {
    return await query();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (NO_SUCH_RECORDS.has(code)) return [];
    throw new DiscoveryError(`resolving ${entry.name} (${entry.kind === 'srv' ? 'SRV' : 'A/AAAA'}) failed: ${code || (error as Error).message}`);
  }
}

/**
 * One discovery entry, resolved now and then every `intervalMs`: each answer goes to `found`, each
 * failure to `failed` (the caller keeps the last hosts found; the next interval tries again).
 */
export class DnsDiscovery {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly entry: DiscoveryEntry,
    private readonly found: (hosts: Discovered) => void,
    private readonly failed: (error: Error) => void,
  ) {}

  /** Resolves once; then again every interval until close(). */
  async start(): Promise<void> {
    await this.resolveOnce();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async resolveOnce(): Promise<void> {
    try {
      const hosts = await resolveEntry(this.entry);
      if (!this.closed) this.found(hosts);
    } catch (error) {
      if (!this.closed) this.failed(error as Error);
    }
    if (!this.closed) this.timer = setTimeout(() => void this.resolveOnce(), this.entry.intervalMs);
  }
}
