import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { isLoopback, isUnixSocket } from '../core/address.js';
import { isValidHostName } from '../core/hostName.js';
import { parseDuration } from './duration.js';

/**
 * The fleet file (`lit-streamd --fleet FILE`): which hosts' agents a gateway serves, how long each
 * may take inside a fan-out, and the gateway's client identity towards them.
 *
 * ```yaml
 * hosts:                       # static members (hosts and discover: either or both)
 *   - name: feed-1
 *     address: 10.0.0.1:50051
 * discover:                    # each entry re-resolved every `interval` (default 30s)
 *   - srv: _lit-stream._tcp.feeds.example
 *   - a: feeds.example:50051
 *     interval: 30s
 * deadline: 2s                 # per-host deadline inside every fan-out
 * tls: {ca: ca.pem, cert: gateway.pem, key: gateway.key}   # paths, relative to this file
 * ```
 */
export interface FleetConfig {
  readonly hosts: readonly StaticHost[];
  readonly discover: readonly DiscoveryEntry[];
  /** Per-host deadline inside a fan-out, ms. */
  readonly deadlineMs: number;
  /** The gateway's client identity towards agents (mTLS); absent: plaintext, loopback and unix sockets only. */
  readonly tls?: FleetTls;
}

export interface StaticHost {
  /** What the gateway's answers call it (`host`), and route by. */
  readonly name: string;
  /** `host:port` or `unix:/path` of its agent. */
  readonly address: string;
}

/** A DNS name re-resolved every `intervalMs`: SRV (host and port from each record) or A/AAAA. */
export type DiscoveryEntry =
  | { readonly kind: 'srv'; readonly name: string; readonly intervalMs: number; readonly label: string }
  | { readonly kind: 'a'; readonly name: string; readonly port: number; readonly intervalMs: number; readonly label: string };

/** Absolute paths of PEM files. */
export interface FleetTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export const DEFAULT_FLEET_DEADLINE_MS = 2_000;
export const DEFAULT_DISCOVERY_INTERVAL_MS = 30_000;

/** The fleet file cannot be used: `file:line:column: field: problem`. */
export class FleetFileError extends Error {
  override readonly name = 'FleetFileError';
}

export async function loadFleetFile(path: string): Promise<FleetConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FleetFileError(`${path}: cannot be read: ${(error as Error).message}`);
  }
  return parseFleetFile(text, path);
}

type Path = readonly (string | number)[];

/** A problem at `path` of the file. */
class Fault extends Error {
  constructor(
    readonly path: Path,
    readonly problem: string,
    /** Whether the key is at fault (an unknown field) rather than its value. */
    readonly at: 'key' | 'value' = 'value',
  ) {
    super(problem);
  }
}

/** The fleet a file's text describes; `source` names it in errors and anchors its relative paths. */
export function parseFleetFile(text: string, source: string): FleetConfig {
  const lines = new LineCounter();
  // The failsafe schema (YAML 1.2, 10.1): every scalar is a string, so `50051` or `no` is never
  // read as something else; each field is converted here, where its meaning is known.
  const document = parseDocument(text, { schema: 'failsafe', uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  const syntax = document.errors[0];
  if (syntax) {
    const at = lines.linePos(syntax.pos[0]);
    throw new FleetFileError(`${source}:${at.line}:${at.col}: invalid YAML: ${syntax.message}`);
  }
  try {
    return validate(document.toJS() as unknown, dirname(resolve(source)));
  } catch (error) {
    if (!(error instanceof Fault)) throw error;
    const at = locate(document, error.path, error.at, lines);
    const field = error.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${part}`)).join('').replace(/^\./, '');
    throw new FleetFileError(`${source}${at ? `:${at.line}:${at.col}` : ''}: ${field ? `${field}: ` : ''}${error.problem}`);
  }
}

function validate(file: unknown, base: string): FleetConfig {
  if (file === null || file === undefined) throw new Fault([], 'the fleet file is empty: give hosts, discover or both');
  const top = mapping(file, []);
  onlyKeys(top, [], ['hosts', 'discover', 'deadline', 'tls']);
  const hosts = list(top.hosts, ['hosts']).map((entry, index) => staticHost(entry, ['hosts', index]));
  const discover = list(top.discover, ['discover']).map((entry, index) => discoveryEntry(entry, ['discover', index]));
  if (hosts.length === 0 && discover.length === 0) throw new Fault([], 'no hosts: give hosts, discover or both');
  unique(hosts.map((host) => host.name), (index) => ['hosts', index, 'name'], 'name');
  unique(hosts.map((host) => host.address), (index) => ['hosts', index, 'address'], 'address');
  const deadlineMs = top.deadline === undefined || top.deadline === null ? DEFAULT_FLEET_DEADLINE_MS : duration(top.deadline, ['deadline']);
  const tls = top.tls === undefined || top.tls === null ? undefined : tlsFiles(top.tls, base);
  if (!tls) {
    // Without TLS the gateway's calls, and the caller names they carry, would cross the network in
    // clear, and nothing would tell agents it is the gateway calling.
    const remote = hosts.findIndex((host) => !isUnixSocket(host.address) && !isLoopback(host.address));
    if (remote >= 0) throw new Fault(['hosts', remote, 'address'], `${hosts[remote]!.address} is not loopback or a unix socket: give tls (ca, cert, key) for mTLS to agents`);
    if (discover.length > 0) throw new Fault(['discover'], 'discovered hosts are reached over the network: give tls (ca, cert, key) for mTLS to agents');
  }
  return { hosts, discover, deadlineMs, ...(tls ? { tls } : {}) };
}

function staticHost(entry: unknown, path: Path): StaticHost {
  const fields = mapping(entry, path);
  onlyKeys(fields, path, ['name', 'address']);
  const name = text(fields.name, [...path, 'name']);
  if (!isValidHostName(name)) throw new Fault([...path, 'name'], `${JSON.stringify(name)} is not a host name: 1-255 of A-Z, a-z, 0-9, '.', '_', '-', ':', '[', ']'`);
  const address = text(fields.address, [...path, 'address']);
  if (!isUnixSocket(address) && !isHostPort(address)) throw new Fault([...path, 'address'], `${JSON.stringify(address)} is not HOST:PORT or unix:/path`);
  return { name, address };
}

function discoveryEntry(entry: unknown, path: Path): DiscoveryEntry {
  const fields = mapping(entry, path);
  onlyKeys(fields, path, ['srv', 'a', 'interval']);
  const intervalMs = fields.interval === undefined || fields.interval === null ? DEFAULT_DISCOVERY_INTERVAL_MS : duration(fields.interval, [...path, 'interval']);
  if ((fields.srv === undefined) === (fields.a === undefined)) throw new Fault(path, 'give exactly one of srv (an SRV name) and a (NAME:PORT for A/AAAA records)');
  if (fields.srv !== undefined) {
    const name = text(fields.srv, [...path, 'srv']);
    if (!isDnsName(name)) throw new Fault([...path, 'srv'], `${JSON.stringify(name)} is not a DNS name`);
    return { kind: 'srv', name, intervalMs, label: `srv:${name}` };
  }
  const target = text(fields.a, [...path, 'a']);
  const colon = target.lastIndexOf(':');
  const name = target.slice(0, colon);
  const port = Number(target.slice(colon + 1));
  if (colon < 0 || !isDnsName(name) || !/^\d{1,5}$/.test(target.slice(colon + 1)) || port < 1 || port > 65535) {
    throw new Fault([...path, 'a'], `${JSON.stringify(target)} is not NAME:PORT (a DNS name whose A/AAAA records are the hosts, and their port)`);
  }
  return { kind: 'a', name, port, intervalMs, label: `a:${target}` };
}

function tlsFiles(value: unknown, base: string): FleetTls {
  const fields = mapping(value, ['tls']);
  onlyKeys(fields, ['tls'], ['ca', 'cert', 'key']);
  const file = (key: 'ca' | 'cert' | 'key') => resolve(base, text(fields[key], ['tls', key]));
  return { ca: file('ca'), cert: file('cert'), key: file('key') };
}

function duration(value: unknown, path: Path): number {
  const written = text(value, path);
  const ms = parseDuration(written);
  if (ms === undefined || ms === 0) throw new Fault(path, `${JSON.stringify(written)} is not a duration like 500ms, 2s or 1m`);
  return ms;
}

function mapping(value: unknown, path: Path): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Fault(path, `expected a mapping, got ${describe(value)}`);
  return value as Record<string, unknown>;
}

function list(value: unknown, path: Path): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Fault(path, `expected a list, got ${describe(value)}`);
  return value;
}

function text(value: unknown, path: Path): string {
  if (value === undefined || value === null) throw new Fault(path, 'is missing');
  if (typeof value !== 'string' || value === '') throw new Fault(path, `expected text, got ${describe(value)}`);
  return value;
}

function onlyKeys(fields: Record<string, unknown>, path: Path, known: readonly string[]): void {
  const unknown = Object.keys(fields).find((key) => !known.includes(key));
  if (unknown !== undefined) throw new Fault([...path, unknown], `unknown field: expected ${known.join(', ')}`, 'key');
}

function unique(values: readonly string[], pathOf: (index: number) => Path, what: string): void {
  const first = new Map<string, number>();
  values.forEach((value, index) => {
    const earlier = first.get(value);
    if (earlier !== undefined) throw new Fault(pathOf(index), `the same ${what} as hosts[${earlier}]`);
    first.set(value, index);
  });
}

function isHostPort(address: string): boolean {
  const port = /^(?:\[[0-9a-fA-F:.]+\]|[^:\s/]+):(\d{1,5})$/.exec(address)?.[1];
  return port !== undefined && Number(port) >= 1 && Number(port) <= 65535;
}

function isDnsName(name: string): boolean {
  return /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/.test(name);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/** Where a field is written: its key or value, else its nearest written parent. */
function locate(document: Document.Parsed, path: Path, at: 'key' | 'value', lines: LineCounter): { line: number; col: number } | undefined {
  if (at === 'key' && path.length > 0) {
    const parent = (path.length === 1 ? document.contents : document.getIn(path.slice(0, -1), true)) as Node | null | undefined;
    const pair = isMap(parent) ? parent.items.find((item) => isScalar(item.key) && item.key.value === path.at(-1)) : undefined;
    const offset = (pair?.key as Node | undefined)?.range?.[0];
    if (offset !== undefined) return lines.linePos(offset);
  }
  for (let length = path.length; length >= 0; length--) {
    const node = (length === 0 ? document.contents : document.getIn(path.slice(0, length), true)) as Node | null | undefined;
    const offset = node?.range?.[0];
    if (offset !== undefined) return lines.linePos(offset);
  }
  return undefined;
}
